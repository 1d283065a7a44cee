"""Activation functions and their derivatives, over one vector of units.

Derivatives are taken from the activation's *output* (as scikit-learn's ``DERIVATIVES`` do),
so the backward pass needs no stored pre-activations for hidden layers.
"""

import math

from ..config import kernel
from .exponential import ONE_32, exp_nonpositive

# Activation codes, the layout table's ACTIVATION column.
IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
SOFTMAX = 4

HIDDEN_ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}
OUTPUT_ACTIVATIONS = {"sigmoid": SIGMOID, "softmax": SOFTMAX, "identity": IDENTITY}


@kernel
def sigmoid(x):
    """Logistic function, split on the sign of ``x`` so ``exp`` never overflows, in ``x``'s
    precision (see ``exponential``).

    Both halves share ``exp(-|x|)``, so the split is a select, not a branch.
    """
    e = exp_nonpositive(-abs(x))
    # 1 as a float32: arithmetic with a float32 stays in float32, and with a float64 it widens
    # exactly, so the one formula serves both precisions.
    positive = ONE_32 / (ONE_32 + e)
    return positive if x >= 0.0 else e * positive


@kernel
def largest(values):
    """The largest of ``values``, or one of them where some are NaN (which then make NaN of
    whatever ``softmax`` or ``log_sum_exp`` shifts by it).

    A plain loop: NumPy's ``max`` cost as much as the exponentials on a ten-unit layer.
    """
    top = values[0]
    for k in range(1, values.size):
        top = max(top, values[k])
    return top


@kernel
def softmax(z, out):
    """``out = softmax(z)``, shifted by ``max(z)`` so every exponent is at most zero."""
    shift = largest(z)
    total = 0.0
    for k in range(z.size):
        out[k] = exp_nonpositive(z[k] - shift)
        total += out[k]
    for k in range(z.size):
        out[k] /= total


@kernel
def log_sum_exp(z):
    """``log(sum(exp(z)))`` without overflow."""
    shift = largest(z)
    total = 0.0
    for k in range(z.size):
        total += exp_nonpositive(z[k] - shift)
    return shift + math.log(total)


@kernel
def activate(z, out, code):
    """``out = f(z)`` for the activation with integer ``code``."""
    if code == SIGMOID:
        for k in range(z.size):
            out[k] = sigmoid(z[k])
    elif code == TANH:
        for k in range(z.size):
            out[k] = math.tanh(z[k])
    elif code == RELU:
        for k in range(z.size):
            out[k] = max(z[k], 0.0)
    elif code == SOFTMAX:
        softmax(z, out)
    else:
        out[:] = z


@kernel
def scale_by_derivative(delta, a, code):
    """``delta *= f'(z)``, written in terms of the output ``a = f(z)``; element-wise codes only.

    The one is ``ONE_32`` for the reason ``sigmoid`` gives: with a float64 literal, a float32
    network's derivatives would be computed in float64 and rounded back, at half the vector
    width.
    """
    if code == SIGMOID:
        for k in range(delta.size):
            delta[k] *= a[k] * (ONE_32 - a[k])
    elif code == TANH:
        for k in range(delta.size):
            delta[k] *= ONE_32 - a[k] * a[k]
    elif code == RELU:
        for k in range(delta.size):
            if a[k] <= 0.0:
                delta[k] = 0.0
    elif code != IDENTITY:
        raise ValueError("softmax has no element-wise derivative")
