"""Optimizer steps over the flat parameter vector: SGD, momentum, Nesterov momentum and Adam.

An optimizer's state is flat arrays the length of the parameter vector, laid out like it:
momentum's velocity in ``m``, Adam's first and second moments in ``m`` and ``v``; an array an
optimizer does not use is empty. The step formulas are ``torch.optim``'s (``SGD`` with zero
dampening, ``Adam`` with its bias correction), each weight's gradient plus the ``l1``/``l2``
penalty gradients ``l1 * sign(W) + l2 * W`` (biases are not penalised).

``rates`` is an array of the parameters' dtype holding the step's constants (indices below), so
that a float32 network computes its steps in float32; ``set_step`` fills in Adam's bias
corrections for a step number. Kernels read it into scalars once per call: a value loaded
from an array inside the inner loop could not be kept in a register.

Each kernel takes the optimizer's code and branches on it outside the inner loops' arithmetic;
LLVM then compiles one loop per optimizer (loop unswitching), as fast as a loop written for it
alone.
"""

import math

import numpy as np

from ..config import kernel
from .views import B_START, N_OUT, W_START, layer_params

# Optimizer codes.
SGD = 0
MOMENTUM = 1
NESTEROV = 2
ADAM = 3

# Entries of ``rates``.
LR, MOMENTUM_RATE, BETA_1, ONE_MINUS_BETA_1, BETA_2, ONE_MINUS_BETA_2, EPSILON = range(7)
STEP_SIZE = 7  # Adam's lr / (1 - beta_1 ** t)
ROOT_CORRECTION = 8  # Adam's 1 / sqrt(1 - beta_2 ** t)
N_RATES = 9


def optimizer_code(optimizer, momentum, nesterov):
    """The code of ``optimizer`` ("sgd" or "adam") with SGD's ``momentum`` and ``nesterov``."""
    if optimizer == "adam":
        return ADAM
    if momentum == 0:
        return SGD
    return NESTEROV if nesterov else MOMENTUM


def uses_slots(code):
    """How many state arrays the optimizer of ``code`` keeps: 0, 1 (``m``) or 2 (``m``, ``v``)."""
    return {SGD: 0, MOMENTUM: 1, NESTEROV: 1, ADAM: 2}[code]


def new_rates(dtype, lr, momentum, beta_1, beta_2, epsilon):
    """A ``rates`` array of ``dtype`` for these settings (Adam's corrections not yet set)."""
    rates = np.zeros(N_RATES, dtype)
    rates[[LR, MOMENTUM_RATE, BETA_1, BETA_2, EPSILON]] = lr, momentum, beta_1, beta_2, epsilon
    rates[ONE_MINUS_BETA_1], rates[ONE_MINUS_BETA_2] = 1.0 - beta_1, 1.0 - beta_2
    return rates


@kernel
def set_step(rates, step):
    """Adam's bias corrections for step number ``step`` (1 for the first) into ``rates``."""
    beta_1, beta_2 = float(rates[BETA_1]), float(rates[BETA_2])
    rates[STEP_SIZE] = rates[LR] / (1.0 - beta_1**step)
    rates[ROOT_CORRECTION] = 1.0 / math.sqrt(1.0 - beta_2**step)


@kernel
def set_lr(rates, lr):
    """A new learning rate in ``rates`` (Adam's corrections are set again at its next step)."""
    rates[LR] = lr


@kernel(inline="always")
def rate_values(rates):
    """``rates`` as a tuple of scalars, for the inner loops."""
    return (rates[LR], rates[MOMENTUM_RATE], rates[BETA_1], rates[ONE_MINUS_BETA_1],
            rates[BETA_2], rates[ONE_MINUS_BETA_2], rates[EPSILON], rates[STEP_SIZE],
            rates[ROOT_CORRECTION])


@kernel(inline="always")
def updated(code, w, g, m, v, i, values):
    """Parameter ``w`` after one step on its gradient ``g``; the optimizer's state for it,
    ``m[i]`` and ``v[i]``, is updated in place."""
    lr, momentum, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2 = values[:6]
    epsilon, step_size, root_correction = values[6:]
    if code == MOMENTUM or code == NESTEROV:
        velocity = momentum * m[i] + g
        m[i] = velocity
        if code == NESTEROV:
            return w - lr * (g + momentum * velocity)
        return w - lr * velocity
    if code == ADAM:
        first = beta_1 * m[i] + one_minus_beta_1 * g
        second = beta_2 * v[i] + one_minus_beta_2 * (g * g)
        m[i], v[i] = first, second
        return w - step_size * first / (np.sqrt(second) * root_correction + epsilon)
    return w - lr * g


@kernel(inline="always")
def penalised(g, w, l1, l2):
    """A weight's gradient ``g`` plus the gradients of its ``l1`` and ``l2`` penalties; ``g``
    itself when there are none, so unpenalised steps do no extra arithmetic (the test is
    the same for every weight, and LLVM lifts it out of the loop)."""
    if l1 == 0.0 and l2 == 0.0:
        return g
    return g + l2 * w + l1 * np.sign(w)


@kernel
def slot_views(slot, row):
    """``(W, b)`` views of one layer in the state array ``slot``; empty views if it is empty."""
    if slot.size == 0:
        return slot[:0].reshape((0, 0)), slot[:0]
    return layer_params(slot, row)


@kernel
def optimizer_step(code, params, grad, layout, m, v, rates, l1, l2):
    """One step of the optimizer ``code`` on the gradient ``grad`` of the whole vector."""
    values = rate_values(rates)
    for layer in range(layout.shape[0]):
        row = layout[layer]
        w_start, b_start, b_end = row[W_START], row[B_START], row[B_START] + row[N_OUT]
        for k in range(w_start, b_start):
            w = params[k]
            params[k] = updated(code, w, penalised(grad[k], w, l1, l2), m, v, k, values)
        for k in range(b_start, b_end):
            params[k] = updated(code, params[k], grad[k], m, v, k, values)


@kernel
def backprop_update(code, params, m, v, row, delta, a_in, rates, l1, l2, delta_in):
    """``delta_in = W.T @ delta`` fused with one step of layer ``row`` on its one-sample
    gradient ``outer(delta, a_in)``, in one pass over its weights and their state.

    Each weight is read for the back-propagated sum before it is updated, so ``delta_in`` uses
    the weights as they were before this sample's step.
    """
    values = rate_values(rates)
    weights, bias = layer_params(params, row)
    m_weights, m_bias = slot_views(m, row)
    v_weights, v_bias = slot_views(v, row)
    delta_in[:] = 0.0
    for j in range(weights.shape[0]):
        d, w_row = delta[j], weights[j]
        m_row, v_row = _row(m_weights, j), _row(v_weights, j)
        for i in range(a_in.size):
            w = w_row[i]
            delta_in[i] += w * d
            w_row[i] = updated(code, w, penalised(d * a_in[i], w, l1, l2), m_row, v_row, i,
                               values)
        bias[j] = updated(code, bias[j], d, m_bias, v_bias, j, values)


@kernel
def update_affine(code, params, m, v, row, delta_prev, x_prev, rates, l1, l2, x, out):
    """One step of layer ``row`` on the previous sample's gradient ``outer(delta_prev,
    x_prev)``, then ``out = W @ x + b``, in one pass over the weights and their state.

    The first layer's step is deferred this way, as plain SGD's is (``steps.sgd_update_affine``),
    so that each of its weights is loaded and stored once per sample. Rows go two at a time,
    so each loaded input serves two rows while the weights and their state stay few streams.
    """
    values = rate_values(rates)
    weights, bias = layer_params(params, row)
    m_weights, m_bias = slot_views(m, row)
    v_weights, v_bias = slot_views(v, row)
    n_rows = weights.shape[0]
    for j in range(n_rows):
        bias[j] = updated(code, bias[j], delta_prev[j], m_bias, v_bias, j, values)
    for j in range(0, n_rows - 1, 2):
        d0, d1, row0, row1 = delta_prev[j], delta_prev[j + 1], weights[j], weights[j + 1]
        m0, m1, v0, v1 = (_row(m_weights, j), _row(m_weights, j + 1), _row(v_weights, j),
                          _row(v_weights, j + 1))
        total0, total1 = bias[j], bias[j + 1]
        for i in range(x.size):
            x_i, x_prev_i = x[i], x_prev[i]
            w = updated(code, row0[i], penalised(d0 * x_prev_i, row0[i], l1, l2), m0, v0, i,
                        values)
            row0[i] = w
            total0 += w * x_i
            w = updated(code, row1[i], penalised(d1 * x_prev_i, row1[i], l1, l2), m1, v1, i,
                        values)
            row1[i] = w
            total1 += w * x_i
        out[j], out[j + 1] = total0, total1
    if n_rows % 2:
        j = n_rows - 1
        d, w_row, m_row, v_row = delta_prev[j], weights[j], _row(m_weights, j), _row(v_weights, j)
        total = bias[j]
        for i in range(x.size):
            w = updated(code, w_row[i], penalised(d * x_prev[i], w_row[i], l1, l2), m_row, v_row,
                        i, values)
            w_row[i] = w
            total += w * x[i]
        out[j] = total


@kernel(inline="always")
def _row(matrix, j):
    """Row ``j`` of ``matrix``, or an empty row if the matrix is empty (an unused state)."""
    if matrix.shape[0] == 0:
        return matrix.ravel()
    return matrix[j]
