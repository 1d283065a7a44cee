"""Per-sample losses and the error signal (delta) they send into the output layer.

Losses are computed from the output layer's pre-activations ``z`` where that is the stable
route: cross-entropy through log-sum-exp, binary cross-entropy through softplus. Squared error
is ``0.5 * (a - y) ** 2`` summed over outputs.
"""

import math

import numpy as np

from ..config import kernel
from .activations import SOFTMAX, log_sum_exp, scale_by_derivative

# Loss codes.
CROSS_ENTROPY = 0
BINARY_CROSS_ENTROPY = 1
SQUARED_ERROR = 2

LOSSES = {
    "cross_entropy": CROSS_ENTROPY,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "squared_error": SQUARED_ERROR,
}
# scikit-learn's ``log_loss`` and ``binary_log_loss``: the same deltas, the loss computed from
# the probabilities clipped to ``[eps, 1 - eps]`` of their dtype. The clipping caps a badly
# wrong sample's loss (near 36 in float64), which changes the objective scikit-learn's L-BFGS
# line search sees; its estimators are reproduced with these (``fastnn.estimators``).
CLIPPED_CROSS_ENTROPY = 3
CLIPPED_BINARY_CROSS_ENTROPY = 4


@kernel
def softplus(x):
    """``log(1 + exp(x))`` without overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@kernel
def loss_and_delta(z, a, y, output_code, loss_code, delta, scale):
    """One sample's loss; writes ``scale * dloss/dz`` into ``delta``.

    For softmax + cross-entropy and sigmoid + binary cross-entropy the delta is ``a - y``;
    for squared error it is ``a - y`` passed back through the output activation. ``scale``
    is ``1 / batch_size`` for a mean-gradient step and 1 per sample.
    """
    loss = 0.0
    if loss_code == CROSS_ENTROPY:
        lse = log_sum_exp(z)
        for k in range(z.size):
            loss += y[k] * (lse - z[k])
            delta[k] = scale * (a[k] - y[k])
    elif loss_code == BINARY_CROSS_ENTROPY:
        for k in range(z.size):
            loss += softplus(z[k]) - y[k] * z[k]
            delta[k] = scale * (a[k] - y[k])
    elif loss_code == CLIPPED_CROSS_ENTROPY or loss_code == CLIPPED_BINARY_CROSS_ENTROPY:
        eps = np.finfo(a.dtype).eps
        for k in range(z.size):
            p = min(max(a[k], eps), 1.0 - eps)
            loss -= y[k] * math.log(p)
            if loss_code == CLIPPED_BINARY_CROSS_ENTROPY:
                loss -= (1.0 - y[k]) * math.log(1.0 - p)
            delta[k] = scale * (a[k] - y[k])
    else:
        for k in range(z.size):
            delta[k] = scale * (a[k] - y[k])
            loss += 0.5 * (a[k] - y[k]) ** 2
        if output_code == SOFTMAX:
            # Softmax Jacobian-vector product: a * (g - <a, g>).
            weighted = 0.0
            for k in range(z.size):
                weighted += a[k] * delta[k]
            for k in range(z.size):
                delta[k] = a[k] * (delta[k] - weighted)
        else:
            scale_by_derivative(delta, a, output_code)
    return loss
