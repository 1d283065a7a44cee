"""Plain-NumPy multilayer-perceptron trainer, written for clarity: fastnn's oracle.

It imports NumPy alone and shares no code with the kernels it checks. It serves two purposes:

* the correctness oracle: the compiled kernels must reproduce its parameters and losses
  to 1e-10 in float64, so every formula here is the textbook one, spelt out;
* the speed baseline: "the articles' NumPy code, written well", i.e. one record at a
  time with one vectorised NumPy call per layer and no Python loop over single weights
  (``scripts/bench_peers.py`` and article 001's ``--oracle`` time it).

Shapes: weights[l] is (n_out, n_in) and biases[l] is (n_out,); layer l maps the
activation a[l] to a[l + 1] = f_l(weights[l] @ a[l] + biases[l]), with a[0] = x.
"""
import numpy as np

EPS = 1e-15  # probabilities are clipped to [EPS, 1 - EPS] before taking logs


def _softmax(z):
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))  # shifted so exp cannot overflow
    return e / np.sum(e, axis=-1, keepdims=True)


ACTIVATIONS = {
    "identity": lambda z: z,
    "sigmoid": lambda z: np.exp(-np.logaddexp(0.0, -z)),  # 1/(1+e^-z) without overflow
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": _softmax,
}

# Derivatives of the element-wise activations, written in terms of their OUTPUT a = f(z).
DERIVATIVES = {
    "identity": lambda a: np.ones_like(a),
    "sigmoid": lambda a: a * (1.0 - a),
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: (a > 0.0).astype(a.dtype),  # relu(z) > 0 exactly when z > 0
}

# Losses whose output delta simplifies to (yhat - y) because they pair with one activation.
PAIRED_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def _check(activations, loss):
    """Reject activation/loss combinations whose gradient this module does not define."""
    unknown = set(activations) - set(ACTIVATIONS)
    if unknown:
        raise ValueError(f"unknown activation(s): {sorted(unknown)}")
    if "softmax" in activations[:-1]:
        raise ValueError("softmax is only supported as the output activation")
    if loss != "squared_error" and loss not in PAIRED_OUTPUT:
        raise ValueError(f"unknown loss: {loss!r}")
    if loss in PAIRED_OUTPUT and activations[-1] != PAIRED_OUTPUT[loss]:
        raise ValueError(f"{loss} needs a {PAIRED_OUTPUT[loss]} output layer")


def forward_layers(weights, biases, activations, x):
    """All layer activations [x, a1, ..., output] for one record (n_in,) or a batch (n, n_in)."""
    acts = [x]
    for W, b, name in zip(weights, biases, activations):
        acts.append(ACTIVATIONS[name](acts[-1] @ W.T + b))
    return acts


def output_delta(activation, loss, yhat, y):
    """Derivative of the per-sample loss w.r.t. the output layer's pre-activation z."""
    g = yhat - y
    if loss in PAIRED_OUTPUT:  # softmax + cross-entropy, sigmoid + binary cross-entropy
        return g
    if activation == "softmax":  # squared error through the full softmax Jacobian
        return yhat * (g - np.sum(yhat * g, axis=-1, keepdims=True))
    return g * DERIVATIVES[activation](yhat)


def sample_loss(output, target, loss):
    """Per-sample loss: a scalar for one record, shape (n,) for a batch.

    squared_error:        0.5 * sum_k (yhat_k - y_k)**2
    cross_entropy:        -sum_k y_k log yhat_k
    binary_cross_entropy: -sum_k [y_k log yhat_k + (1 - y_k) log(1 - yhat_k)]
    with yhat clipped to [EPS, 1 - EPS] in the two log losses.
    """
    if loss == "squared_error":
        return 0.5 * np.sum((output - target) ** 2, axis=-1)
    p = np.clip(output, EPS, 1.0 - EPS)
    if loss == "cross_entropy":
        return -np.sum(target * np.log(p), axis=-1)
    if loss == "binary_cross_entropy":
        return -np.sum(target * np.log(p) + (1.0 - target) * np.log(1.0 - p), axis=-1)
    raise ValueError(f"unknown loss: {loss!r}")


def forward(weights, biases, activations, x):
    """Output-layer activations for one record x (n_in,) or a batch X (n, n_in)."""
    return forward_layers(weights, biases, activations, x)[-1]


def gradient(weights, biases, activations, loss, X, Y):
    """Mean gradient of the loss over the rows of X (one record is treated as a batch of one).

    Returns (grad_weights, grad_biases, mean_loss): two lists shaped like weights and
    biases, and the mean per-sample loss at the current parameters.
    """
    _check(activations, loss)
    X, Y = np.atleast_2d(X), np.atleast_2d(Y)
    acts = forward_layers(weights, biases, activations, X)
    delta = output_delta(activations[-1], loss, acts[-1], Y) / len(X)  # rows: samples
    grad_w, grad_b = [None] * len(weights), [None] * len(weights)
    for l in reversed(range(len(weights))):
        grad_w[l] = delta.T @ acts[l]
        grad_b[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ weights[l]) * DERIVATIVES[activations[l - 1]](acts[l])
    return grad_w, grad_b, float(np.mean(sample_loss(acts[-1], Y, loss)))


def train_epoch(weights, biases, activations, loss, X, Y, lr, batch_size=1, order=None,
                l1=0.0, l2=0.0):
    """One epoch of SGD, updating `weights` and `biases` IN PLACE; returns the mean loss.

    activations: one name per layer (hidden layers, then the output layer) from
        "identity", "sigmoid", "tanh", "relu", and "softmax" (output layer only).
    loss: "cross_entropy" (softmax output, one-hot/probability targets),
        "binary_cross_entropy" (sigmoid output(s), targets in [0, 1]) or
        "squared_error" (any output), as defined in `sample_loss`.
    X: (n, n_in) inputs; Y: (n, n_out) targets; order: row indices to visit (default 0..n-1).
    batch_size=1: per-record SGD: forward one record, back-propagate, update every weight
        at once, then the next record.
    batch_size=B>1: consecutive groups of B rows of `order` (the last may be smaller), each
        step using the MEAN gradient over its group (scikit-learn / PyTorch convention).
    Back-propagation through a layer always uses its weights from before this step's update.
    l1, l2: every step adds l2 * W + l1 * sign(W), the gradient of the weight penalty
        l1 * |W|_1 + l2 / 2 * |W|^2, to each weight matrix's gradient (biases are not penalised).
    The returned loss averages each sample's loss from its own forward pass, i.e. with the
    parameters as they were just before that sample's (or its batch's) update.
    """
    _check(activations, loss)
    order = np.arange(len(X)) if order is None else np.asarray(order)
    total = 0.0
    if batch_size == 1:
        for i in order:
            acts = forward_layers(weights, biases, activations, X[i])
            total += sample_loss(acts[-1], Y[i], loss)
            delta = output_delta(activations[-1], loss, acts[-1], Y[i])
            for l in reversed(range(len(weights))):
                a_prev = acts[l]
                delta_prev = None
                if l > 0:  # propagate the error through weights[l] before it is changed
                    delta_prev = (weights[l].T @ delta) * DERIVATIVES[activations[l - 1]](a_prev)
                step = lr * delta
                if l1 or l2:  # skipped when unset, so the speed baseline pays nothing for it
                    weights[l] -= lr * (l2 * weights[l] + l1 * np.sign(weights[l]))
                weights[l] -= np.outer(step, a_prev)
                biases[l] -= step
                delta = delta_prev
    else:
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            grad_w, grad_b, batch_loss = gradient(
                weights, biases, activations, loss, X[rows], Y[rows])
            total += batch_loss * len(rows)
            for W, b, gW, gb in zip(weights, biases, grad_w, grad_b):
                if l1 or l2:
                    gW = gW + l2 * W + l1 * np.sign(W)
                W -= lr * gW
                b -= lr * gb
    return float(total / len(order))
