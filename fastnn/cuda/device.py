"""Device functions (``_gpu_`` prefix): the CUDA twins of the CPU kernels' scalar formulas.

Each mirrors its CPU kernel in ``fastnn.kernels`` operation for operation, so that a network
trained on the GPU follows the CPU's numbers to rounding: the activations and their
derivatives (``kernels.activations``), one sample's loss and output delta (``kernels.losses``),
and one parameter's optimizer step with its penalties (``kernels.optimizers``). The codes and
the entries of ``rates`` are the CPU kernels' own.

The exponentials take float64 arguments whatever the network's dtype, and results are rounded
to the dtype where they are stored. The CPU's ``exp_nonpositive`` computes a float32 network's
in float32, so float32 networks agree with the CPU to float32's rounding, float64 ones closer.
"""

import math

from numba import cuda

from ..kernels.checks import is_finite
from ..kernels.activations import RELU, SIGMOID, SOFTMAX, TANH
from ..kernels.losses import (
    BINARY_CROSS_ENTROPY,
    CLIPPED_BINARY_CROSS_ENTROPY,
    CLIPPED_CROSS_ENTROPY,
    CROSS_ENTROPY,
)
from ..kernels.optimizers import (
    ADAM,
    BETA_1,
    BETA_2,
    EPSILON,
    LR,
    MOMENTUM,
    MOMENTUM_RATE,
    NESTEROV,
    ONE_MINUS_BETA_1,
    ONE_MINUS_BETA_2,
    ROOT_CORRECTION,
    SMALLEST_NORMAL,
    STEP_SIZE,
    flushed,
    set_step,
)


def _device_twin(kernel):
    """A device function compiled from the Python text of the CPU ``kernel`` (a plain
    function already where ``NUMBA_DISABLE_JIT=1``), for formulas that call no other kernel:
    one text then serves both, and the twins cannot drift apart."""
    return cuda.jit(device=True)(getattr(kernel, "py_func", kernel))


@cuda.jit(device=True)
def _gpu_sigmoid(x):
    """Logistic function, split on the sign of ``x`` so ``exp`` never overflows."""
    e = math.exp(-abs(float(x)))
    positive = 1.0 / (1.0 + e)
    return positive if x >= 0.0 else e * positive


@cuda.jit(device=True)
def _gpu_activation(z, code):
    """``f(z)`` for an element-wise activation ``code`` (softmax is ``_gpu_softmax``)."""
    if code == SIGMOID:
        return _gpu_sigmoid(z)
    if code == TANH:
        return math.tanh(z)
    if code == RELU:
        return max(z, 0.0)
    return z


@cuda.jit(device=True)
def _gpu_scaled_by_derivative(delta, a, code):
    """``delta * f'(z)``, written in terms of the output ``a = f(z)``."""
    if code == SIGMOID:
        return delta * (a * (1.0 - a))
    if code == TANH:
        return delta * (1.0 - a * a)
    if code == RELU and a <= 0.0:
        return 0.0
    return delta


@cuda.jit(device=True)
def _gpu_softmax(z, out, n):
    """``out[:n] = softmax(z[:n])``, shifted by the maximum, serially in index order."""
    shift = z[0]
    for k in range(1, n):
        shift = max(shift, z[k])
    total = 0.0
    for k in range(n):
        out[k] = math.exp(float(z[k] - shift))
        total += out[k]
    for k in range(n):
        out[k] /= total


@cuda.jit(device=True)
def _gpu_log_sum_exp(z, n):
    """``log(sum(exp(z[:n])))`` without overflow."""
    shift = z[0]
    for k in range(1, n):
        shift = max(shift, z[k])
    total = 0.0
    for k in range(n):
        total += math.exp(float(z[k] - shift))
    return shift + math.log(total)


@cuda.jit(device=True)
def _gpu_softplus(x):
    """``log(1 + exp(x))`` without overflow."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(float(x))))


@cuda.jit(device=True)
def _gpu_loss_and_delta(z, a, y, n, output_code, loss_code, delta, scale, eps):
    """One sample's loss over its ``n`` outputs; writes ``scale * dloss/dz`` into ``delta``
    (``kernels.losses.loss_and_delta``; ``eps`` is the dtype's machine epsilon, for the clipped
    losses)."""
    loss = 0.0
    if loss_code == CROSS_ENTROPY:
        lse = _gpu_log_sum_exp(z, n)
        for k in range(n):
            loss += y[k] * (lse - z[k])
            delta[k] = scale * (a[k] - y[k])
    elif loss_code == BINARY_CROSS_ENTROPY:
        for k in range(n):
            loss += _gpu_softplus(z[k]) - y[k] * z[k]
            delta[k] = scale * (a[k] - y[k])
    elif loss_code == CLIPPED_CROSS_ENTROPY or loss_code == CLIPPED_BINARY_CROSS_ENTROPY:
        for k in range(n):
            p = min(max(a[k], eps), 1.0 - eps)
            loss -= y[k] * math.log(p)
            if loss_code == CLIPPED_BINARY_CROSS_ENTROPY:
                loss -= (1.0 - y[k]) * math.log(1.0 - p)
            delta[k] = scale * (a[k] - y[k])
    else:
        for k in range(n):
            delta[k] = scale * (a[k] - y[k])
            loss += 0.5 * (a[k] - y[k]) ** 2
        if output_code == SOFTMAX:
            weighted = 0.0
            for k in range(n):
                weighted += a[k] * delta[k]
            for k in range(n):
                delta[k] = a[k] * (delta[k] - weighted)
        else:
            for k in range(n):
                delta[k] = _gpu_scaled_by_derivative(delta[k], a[k], output_code)
    return loss


# Formulas that call no other kernel: the CPU kernel's own text, compiled for the device.
_gpu_is_finite = _device_twin(is_finite)
_gpu_set_step = _device_twin(set_step)  # Adam's bias corrections into ``rates``
_gpu_flushed = _device_twin(flushed)  # 0 for a subnormal velocity or moment


@cuda.jit(device=True)
def _gpu_penalised(g, w, l1, l2):
    """A weight's gradient ``g`` plus its ``l1`` and ``l2`` penalties' gradients."""
    if l1 != 0.0:
        sign = 1.0 if w > 0.0 else (-1.0 if w < 0.0 else 0.0)
        return g + l2 * w + l1 * sign
    if l2 != 0.0:
        return g + l2 * w
    return g


@cuda.jit(device=True)
def _gpu_updated(code, w, g, m, v, i, rates):
    """Parameter ``w`` after one step of optimizer ``code`` on its gradient ``g``; its state
    ``m[i]`` and ``v[i]`` is updated in place (``kernels.optimizers.updated``)."""
    if code == MOMENTUM or code == NESTEROV:
        momentum = rates[MOMENTUM_RATE]
        velocity = _gpu_flushed(momentum * m[i] + g, rates[SMALLEST_NORMAL])
        m[i] = velocity
        if code == NESTEROV:
            return w - rates[LR] * (g + momentum * velocity)
        return w - rates[LR] * velocity
    if code == ADAM:
        smallest_normal = rates[SMALLEST_NORMAL]
        first = _gpu_flushed(rates[BETA_1] * m[i] + rates[ONE_MINUS_BETA_1] * g,
                             smallest_normal)
        second = _gpu_flushed(rates[BETA_2] * v[i] + rates[ONE_MINUS_BETA_2] * (g * g),
                              smallest_normal)
        m[i] = first
        v[i] = second
        return w - rates[STEP_SIZE] * first / (math.sqrt(second) * rates[ROOT_CORRECTION]
                                               + rates[EPSILON])
    return w - rates[LR] * g
