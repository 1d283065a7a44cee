"""Plain-NumPy multilayer-perceptron trainer, written for clarity: fastnn's oracle.

It imports NumPy alone and shares no code with the kernels it checks. It serves two purposes:

* the correctness oracle: the compiled kernels must reproduce its parameters and losses
  to 1e-10 in float64, so every formula here is the textbook one, spelt out;
* the speed baseline: "the articles' NumPy code, written well", i.e. one record at a
  time with one vectorised NumPy call per layer and no Python loop over single weights
  (``scripts/bench_peers.py`` and article 001's ``--oracle`` time it).

It also holds the reference versions of the other training options: SGD with momentum and
Adam (each matching torch.optim), sample weights, learning-rate schedules and class weights.

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


def gradient(weights, biases, activations, loss, X, Y, sample_weight=None):
    """Mean gradient of the loss over the rows of X (one record is treated as a batch of one).

    sample_weight: optional factor per row; row r's loss and gradient are multiplied by
        sample_weight[r] before the mean over rows (None: every factor is 1).
    Returns (grad_weights, grad_biases, mean_loss): two lists shaped like weights and
    biases, and the mean (scaled) per-sample loss at the current parameters.
    """
    _check(activations, loss)
    X, Y = np.atleast_2d(X), np.atleast_2d(Y)
    acts = forward_layers(weights, biases, activations, X)
    delta = output_delta(activations[-1], loss, acts[-1], Y) / len(X)  # rows: samples
    losses = sample_loss(acts[-1], Y, loss)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        delta = delta * sample_weight[:, None]
        losses = losses * sample_weight
    grad_w, grad_b = [None] * len(weights), [None] * len(weights)
    for l in reversed(range(len(weights))):
        grad_w[l] = delta.T @ acts[l]
        grad_b[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ weights[l]) * DERIVATIVES[activations[l - 1]](acts[l])
    return grad_w, grad_b, float(np.mean(losses))


class SGD:
    """Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD
    with dampening=0 and weight_decay=0.

    With momentum, each parameter keeps a buffer: buf = g at the first step, then
    buf = momentum * buf + g; the step follows g + momentum * buf (nesterov) or buf.
    """

    def __init__(self, momentum=0.0, nesterov=False):
        if nesterov and momentum <= 0.0:
            raise ValueError("nesterov momentum needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov
        self.buffers = None  # one per parameter, created at the first step with momentum
        self.steps = 0

    def step(self, params, grads, lr):
        """Update the arrays in `params` IN PLACE from their gradients `grads`."""
        if not self.momentum:
            updates = grads
        elif self.buffers is None:
            self.buffers = [g.copy() for g in grads]
            updates = self.buffers
        else:
            for buf, g in zip(self.buffers, grads):
                buf *= self.momentum
                buf += g
            updates = self.buffers
        if self.momentum and self.nesterov:
            updates = [g + self.momentum * buf for g, buf in zip(grads, self.buffers)]
        for p, u in zip(params, updates):
            p -= lr * u
        self.steps += 1


class Adam:
    """Adam (Kingma & Ba), as torch.optim.Adam without weight decay or amsgrad.

    Per parameter, moving averages of the gradient (m) and of its square (v), both starting
    at zero, and a step bias-corrected for that zero start:
    p -= lr / (1 - beta_1**t) * m / (sqrt(v) / sqrt(1 - beta_2**t) + epsilon).
    """

    def __init__(self, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.m = None  # first and second moments, one per parameter, made at the first step
        self.v = None
        self.steps = 0  # t

    def step(self, params, grads, lr):
        """Update the arrays in `params` IN PLACE from their gradients `grads`."""
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.steps += 1
        t = self.steps
        step_size = lr / (1.0 - self.beta_1 ** t)
        root_correction = np.sqrt(1.0 - self.beta_2 ** t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1.0 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1.0 - self.beta_2) * g * g
            p -= step_size * m / (np.sqrt(v) / root_correction + self.epsilon)


def train_epoch(weights, biases, activations, loss, X, Y, lr, batch_size=1, order=None,
                l1=0.0, l2=0.0, sample_weight=None, optimizer=None):
    """One epoch of gradient descent (plain SGD unless `optimizer` is given), updating
    `weights` and `biases` IN PLACE; returns the mean loss.

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
    sample_weight: one raw weight per row of X. Sample i's loss and gradient are scaled by the
        factor sample_weight[i] / mean(sample_weight), the mean over all of X, so that a
        full-batch step follows the weighted mean gradient and weights matter per record too.
    optimizer: None for plain SGD; an `SGD` or `Adam` object instead makes each step (one
        record, or one batch) the gradient from `gradient`, plus the penalty gradient, handed
        to `optimizer.step`. The object keeps its state, so a further call continues.
    The returned loss averages each sample's (scaled) loss from its own forward pass, i.e.
    with the parameters as they were just before that sample's (or its batch's) update.
    """
    _check(activations, loss)
    order = np.arange(len(X)) if order is None else np.asarray(order)
    factors = None
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (len(X),):
            raise ValueError(f"sample_weight needs one weight per row of X ({len(X)}), "
                             f"got shape {sample_weight.shape}")
        factors = sample_weight / np.mean(sample_weight)
    total = 0.0
    if batch_size == 1 and optimizer is None:
        for i in order:
            acts = forward_layers(weights, biases, activations, X[i])
            delta = output_delta(activations[-1], loss, acts[-1], Y[i])
            if factors is None:
                total += sample_loss(acts[-1], Y[i], loss)
            else:
                total += factors[i] * sample_loss(acts[-1], Y[i], loss)
                delta = factors[i] * delta
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
        optimizer = SGD() if optimizer is None else optimizer  # SGD(): p -= lr * g, as before
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            grad_w, grad_b, batch_loss = gradient(
                weights, biases, activations, loss, X[rows], Y[rows],
                sample_weight=None if factors is None else factors[rows])
            total += batch_loss * len(rows)
            if l1 or l2:
                grad_w = [gW + l2 * W + l1 * np.sign(W) for W, gW in zip(weights, grad_w)]
            optimizer.step(weights + biases, grad_w + grad_b, lr)
    return float(total / len(order))


def invscaling(lr, power_t, samples_seen):
    """scikit-learn's "invscaling" rate lr / (t + 1)**power_t, t the samples seen so far."""
    return lr / (samples_seen + 1) ** power_t


def class_sample_weights(y, class_weight):
    """Per-sample weights (float64) for integer labels `y` from per-class weights.

    class_weight: a dict {label: weight}, labels absent from it weighing 1, or "balanced":
    n_samples / (n_classes * count of the label), as scikit-learn's compute_class_weight,
    with n_classes the number of distinct labels in y.
    """
    y = np.asarray(y)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"unknown class_weight: {class_weight!r}")
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        return len(y) / (len(classes) * counts[inverse].astype(np.float64))
    return np.array([class_weight.get(label, 1.0) for label in y.tolist()], dtype=np.float64)


def train(weights, biases, activations, loss, X, Y, lr, epochs, batch_size=1, orders=None,
          optimizer=None, lr_schedule="constant", power_t=0.5, sample_weight=None,
          l1=0.0, l2=0.0):
    """Several epochs of `train_epoch`, updating `weights` and `biases` IN PLACE.

    orders: one array of row indices per epoch (None: 0..n-1 every epoch).
    lr_schedule: each epoch's rate:
        "constant": lr;
        "invscaling": invscaling(lr, power_t, samples seen before the epoch);
        a callable schedule(epoch, rate) -> rate, called before every epoch as Keras'
        LearningRateScheduler is, with a 0-based epoch and the rate in effect (lr before the
        first epoch); the rate returned is the epoch's and becomes the one in effect.
    Returns {"loss": per-epoch mean loss, "lr": per-epoch rate}.
    """
    if not callable(lr_schedule) and lr_schedule not in ("constant", "invscaling"):
        raise ValueError(f"unknown lr_schedule: {lr_schedule!r}")
    history = {"loss": [], "lr": []}
    rate, samples_seen = lr, 0
    for epoch in range(epochs):
        order = np.arange(len(X)) if orders is None else np.asarray(orders[epoch])
        if lr_schedule == "invscaling":
            rate = invscaling(lr, power_t, samples_seen)
        elif callable(lr_schedule):
            rate = lr_schedule(epoch, rate)
        history["loss"].append(train_epoch(
            weights, biases, activations, loss, X, Y, rate, batch_size=batch_size,
            order=order, l1=l1, l2=l2, sample_weight=sample_weight, optimizer=optimizer))
        history["lr"].append(rate)
        samples_seen += len(order)
    return history
