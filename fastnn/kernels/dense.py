"""Dense-layer building blocks: views into the flat arrays, affine maps and in-place SGD.

Per-sample routines are plain loops over contiguous rows, which LLVM vectorises; the batch
routines hand matrix products to BLAS through ``np.dot`` with a preallocated ``out``.
"""

import numpy as np

from ..config import kernel
from .codes import B_START, N_IN, N_OUT, UNIT_START, W_START


@kernel
def layer_params(params, row):
    """Views ``(W, b)`` of one layer inside a flat parameter (or gradient) vector."""
    w_start, b_start = row[W_START], row[B_START]
    weights = params[w_start:b_start].reshape((row[N_OUT], row[N_IN]))
    return weights, params[b_start : b_start + row[N_OUT]]


@kernel
def layer_units(buffer, row):
    """View of one layer's units in a one-sample buffer (activations or deltas)."""
    return buffer[row[UNIT_START] : row[UNIT_START] + row[N_OUT]]


@kernel
def layer_block(buffer, row, n_rows):
    """View ``(n_rows, n_out)`` of one layer's units in a batch buffer.

    A batch buffer stores each layer's block for ``n_rows`` samples contiguously, so the block
    of layer ``l`` starts at ``n_rows * UNIT_START[l]``.
    """
    start = n_rows * row[UNIT_START]
    return buffer[start : start + n_rows * row[N_OUT]].reshape((n_rows, row[N_OUT]))


@kernel
def units_per_sample(layout):
    """Number of non-input units: one sample's share of a work buffer."""
    last = layout[layout.shape[0] - 1]
    return last[UNIT_START] + last[N_OUT]


@kernel
def buffer_rows(buffer, layout):
    """How many samples' units a batch buffer holds."""
    return buffer.size // units_per_sample(layout)


@kernel
def affine(weights, bias, x, out):
    """``out = W @ x + b`` for one sample.

    Rows go four at a time, so each loaded input value serves four rows and the per-row
    reductions overlap: 1.3-1.9x faster than row by row on a 64 x 128 hidden layer.
    """
    n_rows = weights.shape[0]
    n_blocked = n_rows - n_rows % 4
    for j in range(0, n_blocked, 4):
        _affine_4_rows(weights, bias, x, out, j)
    for j in range(n_blocked, n_rows):
        w_row = weights[j]
        total = bias[j]
        for i in range(x.size):
            total += w_row[i] * x[i]
        out[j] = total


@kernel
def _affine_4_rows(weights, bias, x, out, j):
    """``affine`` on rows ``j .. j + 3``."""
    row0, row1, row2, row3 = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
    total0, total1, total2, total3 = bias[j], bias[j + 1], bias[j + 2], bias[j + 3]
    for i in range(x.size):
        x_i = x[i]
        total0 += row0[i] * x_i
        total1 += row1[i] * x_i
        total2 += row2[i] * x_i
        total3 += row3[i] * x_i
    out[j], out[j + 1], out[j + 2], out[j + 3] = total0, total1, total2, total3


@kernel
def sgd_update_affine(weights, bias, step_prev, x_prev, x, out):
    """``apply_step(W, b, step_prev, x_prev)``, then ``out = W @ x + b``, in one pass.

    The first (largest) weight matrix dominates per-sample SGD: applying the previous sample's
    step (``lr`` times its delta) while computing this sample's product loads and stores each
    weight once per sample instead of twice, with the same arithmetic as the two separate
    steps (two multiply-adds per weight, which on an AVX-512 machine cost as much as the
    memory traffic). Rows go four at a time so each loaded input value serves four rows.
    """
    n_rows = weights.shape[0]
    n_blocked = n_rows - n_rows % 4
    for j in range(0, n_blocked, 4):
        _sgd_update_affine_4_rows(weights, bias, step_prev, x_prev, x, out, j)
    for j in range(n_blocked, n_rows):
        step = step_prev[j]
        bias[j] -= step
        w_row = weights[j]
        total = bias[j]
        for i in range(x.size):
            w = w_row[i] - step * x_prev[i]
            w_row[i] = w
            total += w * x[i]
        out[j] = total


@kernel
def _sgd_update_affine_4_rows(weights, bias, step_prev, x_prev, x, out, j):
    """``sgd_update_affine`` on rows ``j .. j + 3``."""
    step0, step1 = step_prev[j], step_prev[j + 1]
    step2, step3 = step_prev[j + 2], step_prev[j + 3]
    bias[j] -= step0
    bias[j + 1] -= step1
    bias[j + 2] -= step2
    bias[j + 3] -= step3
    row0, row1, row2, row3 = weights[j], weights[j + 1], weights[j + 2], weights[j + 3]
    total0, total1, total2, total3 = bias[j], bias[j + 1], bias[j + 2], bias[j + 3]
    for i in range(x.size):
        x_i, x_prev_i = x[i], x_prev[i]
        w = row0[i] - step0 * x_prev_i
        row0[i] = w
        total0 += w * x_i
        w = row1[i] - step1 * x_prev_i
        row1[i] = w
        total1 += w * x_i
        w = row2[i] - step2 * x_prev_i
        row2[i] = w
        total2 += w * x_i
        w = row3[i] - step3 * x_prev_i
        row3[i] = w
        total3 += w * x_i
    out[j], out[j + 1], out[j + 2], out[j + 3] = total0, total1, total2, total3


@kernel
def affine_rows(weights, bias, inputs, out):
    """``out = inputs @ W.T + b`` for a batch of samples (one per row)."""
    np.dot(inputs, weights.T, out)
    for r in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[r, j] += bias[j]


@kernel
def apply_step(weights, bias, step, a_in):
    """A pending SGD step on a layer: ``W -= outer(step, a_in)``, ``b -= step``."""
    for j in range(weights.shape[0]):
        w_row = weights[j]
        for i in range(a_in.size):
            w_row[i] -= step[j] * a_in[i]
        bias[j] -= step[j]


@kernel
def backprop_sgd_update(weights, bias, delta, a_in, lr, delta_in):
    """``sgd_update`` fused with ``delta_in = W.T @ delta``, in one pass over ``W``.

    Each weight is read for the back-propagated sum before it is updated, so ``delta_in`` uses
    the weights as they were before this sample's step.
    """
    delta_in[:] = 0.0
    for j in range(weights.shape[0]):
        d = delta[j]
        step = lr * d
        w_row = weights[j]
        for i in range(a_in.size):
            delta_in[i] += w_row[i] * d
            w_row[i] -= step * a_in[i]
        bias[j] -= step


@kernel
def sgd_step(params, grad, layout, lr, l1, l2):
    """``params -= lr * (grad + l2 * W + l1 * sign(W))``: penalties on weights, not biases.

    ``l2`` is the gradient of ``l2 / 2 * ||W||²`` and ``l1`` of ``l1 * ||W||₁``, added to each
    step's mean gradient as PyTorch's ``weight_decay`` does. The penalty pass runs only when a
    penalty is set, so plain SGD stays one vectorised sweep over the flat vector.
    """
    if l1 != 0.0 or l2 != 0.0:
        for layer in range(layout.shape[0]):
            row = layout[layer]
            for k in range(row[W_START], row[B_START]):
                w = params[k]
                params[k] = w - lr * (l2 * w + l1 * np.sign(w))
    for k in range(params.size):
        params[k] -= lr * grad[k]
