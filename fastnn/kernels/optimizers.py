"""Optimizer steps over the flat parameter vector: SGD, momentum, Nesterov momentum and Adam.

An optimizer's state is flat arrays the length of the parameter vector, laid out like it:
momentum's velocity in ``m``, Adam's first and second moments in ``m`` and ``v``; an array an
optimizer does not use is empty. The step formulas are ``torch.optim``'s (``SGD`` with zero
dampening, ``Adam`` with its bias correction), each weight's gradient plus the ``l1``/``l2``
penalty gradients ``l1 * sign(W) + l2 * W`` (biases are not penalised).

``rates`` is an array of the parameters' dtype holding the step's constants (indices below), so
that a float32 network computes its steps in float32; ``set_step`` fills in Adam's bias
corrections for a step number, in torch's form or in the one of Kingma and Ba's paper that
scikit-learn uses (``ADAM_FORM``). Kernels read it into scalars once per call: a value loaded
from an array inside the inner loop could not be kept in a register. Adam's moments are
flushed to zero when they become subnormal (``flushed``).

Each kernel takes the optimizer's code. A loop that branches on a code known only at run time
is compiled generically, and runs several times slower than one written for one optimizer;
so the kernels that run hot (``optimizer_step`` here, the per-sample epoch in ``epochs``) call
an inlined body once per code, with the code a constant: each copy then holds one optimizer's
formula alone. ``backprop_update`` and ``update_affine`` are inlined into that epoch for the
same reason.
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
SMALLEST_NORMAL = 9  # the dtype's smallest normal number (see ``flushed``)
ADAM_FORM = 10  # TORCH_ADAM or KINGMA_ADAM (see ``set_step``)
N_RATES = 11

# Adam's forms. torch adds epsilon to the bias-corrected root of the second moment; Kingma and
# Ba's "efficient version" (section 2 of their paper), which scikit-learn follows, folds that
# correction into the step size and adds epsilon to the uncorrected root.
TORCH_ADAM = 0
KINGMA_ADAM = 1


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


def new_rates(dtype, lr, momentum, beta_1, beta_2, epsilon, adam_form=TORCH_ADAM):
    """A ``rates`` array of ``dtype`` for these settings (Adam's corrections not yet set)."""
    rates = np.zeros(N_RATES, dtype)
    rates[ADAM_FORM] = adam_form
    rates[[LR, MOMENTUM_RATE, BETA_1, BETA_2, EPSILON]] = lr, momentum, beta_1, beta_2, epsilon
    rates[ONE_MINUS_BETA_1], rates[ONE_MINUS_BETA_2] = 1.0 - beta_1, 1.0 - beta_2
    rates[SMALLEST_NORMAL] = np.finfo(dtype).smallest_normal
    return rates


def rates_for(optimizer, dtype):
    """A ``rates`` array of ``dtype`` for a trainer's ``optimizer`` settings (its
    ``momentum``, ``beta_1``, ``beta_2``, ``epsilon`` and optional ``adam_form``), at lr 1."""
    return new_rates(dtype, 1.0, optimizer["momentum"], optimizer["beta_1"], optimizer["beta_2"],
                     optimizer["epsilon"], optimizer.get("adam_form", TORCH_ADAM))


@kernel
def set_step(rates, step):
    """Adam's bias corrections for step number ``step`` (1 for the first) into ``rates``: the
    step is ``STEP_SIZE * m / (sqrt(v) * ROOT_CORRECTION + epsilon)`` in either form."""
    beta_1, beta_2 = float(rates[BETA_1]), float(rates[BETA_2])
    first_correction, root_of_second = 1.0 - beta_1**step, math.sqrt(1.0 - beta_2**step)
    if rates[ADAM_FORM] == KINGMA_ADAM:
        rates[STEP_SIZE] = rates[LR] * root_of_second / first_correction
        rates[ROOT_CORRECTION] = 1.0
    else:
        rates[STEP_SIZE] = rates[LR] / first_correction
        rates[ROOT_CORRECTION] = 1.0 / root_of_second


@kernel
def set_lr(rates, lr):
    """A new learning rate in ``rates`` (Adam's corrections are set again at its next step)."""
    rates[LR] = lr


@kernel(inline="always")
def rate_values(rates):
    """``rates`` as a tuple of scalars, for the inner loops."""
    return (rates[LR], rates[MOMENTUM_RATE], rates[BETA_1], rates[ONE_MINUS_BETA_1],
            rates[BETA_2], rates[ONE_MINUS_BETA_2], rates[EPSILON], rates[STEP_SIZE],
            rates[ROOT_CORRECTION], rates[SMALLEST_NORMAL])


@kernel(inline="always")
def updated(code, w, g, m, v, i, values):
    """Parameter ``w`` after one step on its gradient ``g``; the optimizer's state for it,
    ``m[i]`` and ``v[i]``, is updated in place (and ``flushed``)."""
    lr, momentum, beta_1, one_minus_beta_1, beta_2, one_minus_beta_2 = values[:6]
    epsilon, step_size, root_correction, smallest_normal = values[6:]
    if code == MOMENTUM or code == NESTEROV:
        velocity = flushed(momentum * m[i] + g, smallest_normal)
        m[i] = velocity
        if code == NESTEROV:
            return w - lr * (g + momentum * velocity)
        return w - lr * velocity
    if code == ADAM:
        first = flushed(beta_1 * m[i] + one_minus_beta_1 * g, smallest_normal)
        second = flushed(beta_2 * v[i] + one_minus_beta_2 * (g * g), smallest_normal)
        m[i], v[i] = first, second
        return w - step_size * first / (np.sqrt(second) * root_correction + epsilon)
    return w - lr * g


@kernel(inline="always")
def flushed(value, smallest_normal):
    """``value``, or 0 if it is subnormal (smaller in size than ``smallest_normal``).

    Momentum's velocity and Adam's moments for a weight whose gradient is zero for long (a
    pixel that is almost always blank) decay geometrically into the subnormal range, where
    arithmetic can be many times slower: Intel cores take a microcode assist for each
    multiply with a subnormal operand (unflushed, a per-sample momentum epoch on MNIST's
    digits ran some thirty times slower than plain SGD on one), and Adam's square root and
    division slow down on AMD's too. Flushing changes such a state by less than the smallest
    normal number, and the weight's step by far less than the weight's own rounding; GPUs,
    and CPUs in their flush-to-zero mode, do the same.
    """
    return value if abs(value) >= smallest_normal else value - value  # NaN stays NaN


@kernel(inline="always")
def penalised(g, w, l1, l2):
    """A weight's gradient ``g`` plus the gradients of its ``l1`` and ``l2`` penalties; ``g``
    itself when there are none, so unpenalised steps do no extra arithmetic (the test is
    the same for every weight, and LLVM lifts it out of the loop).

    ``l1`` is None when there is no l1 penalty (``l1_or_none``): Numba then compiles a copy
    without the sign, whose branches slowed the l2-only loops; a second run-time test in
    this function slowed the unpenalised ones instead."""
    if l1 is None:
        if l2 == 0.0:
            return g
        return g + l2 * w
    return g + l2 * w + l1 * np.sign(w)


def l1_or_none(l1, dtype):
    """The kernels' ``l1`` argument: None for no l1 penalty, else ``l1`` in ``dtype``."""
    return None if l1 == 0 else dtype.type(l1)


@kernel
def squared_weights(params, layout):
    """The sum of every layer's squared weights (biases left out, as the penalties leave them),
    in float64: scikit-learn's ``alpha`` penalty, before its factor ``alpha / 2``."""
    total = 0.0
    for layer in range(layout.shape[0]):
        row = layout[layer]
        weights = params[row[W_START]:row[B_START]]
        for k in range(weights.size):
            total += float(weights[k]) * float(weights[k])
    return total


@kernel
def slot_views(slot, row):
    """``(W, b)`` views of one layer in the state array ``slot``; if it is empty (unused), a
    matrix of as many empty rows, so that a row can be taken from it without a test."""
    if slot.size == 0:
        return slot[:0].reshape((row[N_OUT], 0)), slot[:0]
    return layer_params(slot, row)


@kernel
def optimizer_step(code, params, grad, layout, m, v, rates, l1, l2, pending=None, chunk=0,
                   n_chunks=1):
    """One step of the optimizer ``code`` on the gradient ``grad`` of the whole vector, or on
    ``grad + pending`` when ``pending`` is an array (the part of a batch's gradient not yet
    added, see ``gradients.batch_part_gradients``). The sum is rounded as adding ``pending``
    to ``grad`` first would round it; fast-math may then add the penalties and the state in
    another order, so the two agree to rounding, not always to the bit.

    With ``n_chunks`` above one, only chunk ``chunk`` of each layer's weights and of its
    biases is stepped, so that threads can take the chunks side by side: each element's step
    is the same whichever chunk it falls in.
    """
    if code == ADAM:
        _optimizer_step(ADAM, params, grad, layout, m, v, rates, l1, l2, pending, chunk,
                        n_chunks)
    elif code == NESTEROV:
        _optimizer_step(NESTEROV, params, grad, layout, m, v, rates, l1, l2, pending, chunk,
                        n_chunks)
    elif code == MOMENTUM:
        _optimizer_step(MOMENTUM, params, grad, layout, m, v, rates, l1, l2, pending, chunk,
                        n_chunks)
    else:
        _optimizer_step(SGD, params, grad, layout, m, v, rates, l1, l2, pending, chunk, n_chunks)


@kernel(inline="always")
def _optimizer_step(code, params, grad, layout, m, v, rates, l1, l2, pending, chunk, n_chunks):
    """``optimizer_step``, inlined where ``code`` is a constant. No pending part is taken as
    an empty one, so that one compiled copy serves both: Numba's compile time, not LLVM's,
    grows with every copy of these inlined loops."""
    values = rate_values(rates)
    part = _part_or_empty(pending, grad)
    for layer in range(layout.shape[0]):
        row = layout[layer]
        lo, mid = row[W_START], row[B_START]
        hi = mid + row[N_OUT]
        _step_chunk(code, params, grad, part, m, v, values, l1, l2, True, lo, mid, chunk,
                    n_chunks)
        _step_chunk(code, params, grad, part, m, v, values, l1, l2, False, mid, hi, chunk,
                    n_chunks)


@kernel(inline="always")
def _part_or_empty(pending, grad):
    """``pending``, or for None an empty slice of ``grad``."""
    if pending is None:
        return grad[:0]
    return pending


@kernel(inline="always")
def _step_chunk(code, params, grad, part, m, v, values, l1, l2, penalise, lo, hi, chunk,
                n_chunks):
    """Chunk ``chunk`` of ``n_chunks`` of the elements ``lo .. hi - 1`` (a layer's weights
    when ``penalise``, else its biases), stepped as slices indexed from zero: an index from a
    layout offset might be negative as far as Numba knows, and its wrap-around test kept the
    loop from vectorising. An empty ``part`` stays empty when sliced."""
    size = -(-(hi - lo) // n_chunks)
    start, stop = min(lo + chunk * size, hi), min(lo + (chunk + 1) * size, hi)
    _step_slice(code, params[start:stop], grad[start:stop], part[start:stop], m[start:stop],
                v[start:stop], values, l1, l2, penalise)


@kernel(inline="always")
def _step_slice(code, params, grad, part, m, v, values, l1, l2, penalise):
    """One step of every parameter of a slice (of weights when ``penalise``, else of biases),
    on ``grad`` plus ``part`` where ``part`` is not empty. That test is the same for every
    element: LLVM takes it out of the loop, leaving a vectorised loop for each case."""
    adds_part = part.size > 0
    for k in range(params.size):
        w, g = params[k], grad[k] + part[k] if adds_part else grad[k]
        params[k] = updated(code, w, penalised(g, w, l1, l2) if penalise else g, m, v, k, values)


@kernel(inline="always")
def backprop_update(code, params, m, v, row, delta, a_in, rates, l1, l2, delta_in):
    """``delta_in = W.T @ delta`` fused with one step of layer ``row`` on its one-sample
    gradient ``outer(delta, a_in)``, in one pass over its weights and their state.

    Each row is read for the back-propagated sum, then stepped while it is in the L1 cache:
    ``delta_in`` uses the weights as they were before this sample's step, and each loop
    writes few enough arrays for LLVM to vectorise it (one loop doing both was several times
    slower).
    """
    values = rate_values(rates)
    weights, bias = layer_params(params, row)
    m_weights, m_bias = slot_views(m, row)
    v_weights, v_bias = slot_views(v, row)
    delta_in[:] = 0.0
    for j in range(weights.shape[0]):
        d, w_row, m_row, v_row = delta[j], weights[j], m_weights[j], v_weights[j]
        for i in range(a_in.size):
            delta_in[i] += w_row[i] * d
        for i in range(a_in.size):  # the row again, from the L1 cache
            w = w_row[i]
            w_row[i] = updated(code, w, penalised(d * a_in[i], w, l1, l2), m_row, v_row, i,
                               values)
        bias[j] = updated(code, bias[j], d, m_bias, v_bias, j, values)


@kernel(inline="always")
def update_affine(code, params, m, v, row, delta_prev, x_prev, rates, l1, l2, x, out,
                  squares=None):
    """One step of layer ``row`` on the previous sample's gradient ``outer(delta_prev,
    x_prev)``, then ``out = W @ x + b``, in one pass over the weights and their state. Returns
    the sum of the stepped weights' squares (scikit-learn's penalty, ``squared_weights``) when
    ``squares`` is an array (see ``epochs``), else 0: Numba compiles the two cases apart, so
    the test costs the loop nothing (one made at run time kept it from vectorising).

    The first layer's step is deferred this way, as plain SGD's is (``steps.sgd_update_affine``),
    so that each of its weights and their state are loaded and stored once per sample.
    """
    values = rate_values(rates)
    weights, bias = layer_params(params, row)
    m_weights, m_bias = slot_views(m, row)
    v_weights, v_bias = slot_views(v, row)
    for j in range(bias.size):
        bias[j] = updated(code, bias[j], delta_prev[j], m_bias, v_bias, j, values)
    stepped_squares = np.zeros(1, weights.dtype)[0]  # the weights' dtype keeps the vector width
    for j in range(weights.shape[0]):
        d, w_row, m_row, v_row = delta_prev[j], weights[j], m_weights[j], v_weights[j]
        total = bias[j]
        for i in range(x.size):
            w = updated(code, w_row[i], penalised(d * x_prev[i], w_row[i], l1, l2), m_row, v_row,
                        i, values)
            w_row[i] = w
            total += w * x[i]
            if squares is not None:
                stepped_squares += w * w
        out[j] = total
    return stepped_squares
