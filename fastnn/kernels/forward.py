"""Forward passes: one sample through every layer, a batch through every layer, and the
prediction and loss over any number of rows, a block of rows at a time.

The per-sample product is a plain loop over contiguous rows, which LLVM vectorises; the batch
products go to BLAS through ``np.dot`` with a preallocated ``out``.
"""

import numpy as np

from ..config import kernel
from .activations import activate
from .losses import loss_and_delta
from .views import ACTIVATION, buffer_rows, layer_block, layer_params, layer_units


@kernel
def affine(weights, bias, x, out):
    """``out = W @ x + b`` for one sample.

    Rows go eight at a time, so each loaded input value serves eight rows and eight row sums
    are in flight at once: with four, each sum's chain of dependent multiply-adds set the pace.
    """
    n_rows = weights.shape[0]
    n_blocked = n_rows - n_rows % 8
    for j in range(0, n_blocked, 8):
        _affine_8_rows(weights[j : j + 8], bias[j : j + 8], x, out[j : j + 8])
    for j in range(n_blocked, n_rows):
        w_row = weights[j]
        total = bias[j]
        for i in range(x.size):
            total += w_row[i] * x[i]
        out[j] = total


@kernel(inline="always")
def _affine_8_rows(block, bias, x, out):
    """``affine`` on the eight rows of ``block``.

    Inlined, and given its rows as one view, so that no call and no row views are made per
    block: on a hidden layer's short rows they cost as much as a good share of the arithmetic.
    """
    total0, total1, total2, total3 = bias[0], bias[1], bias[2], bias[3]
    total4, total5, total6, total7 = bias[4], bias[5], bias[6], bias[7]
    for i in range(x.size):
        x_i = x[i]
        total0 += block[0, i] * x_i
        total1 += block[1, i] * x_i
        total2 += block[2, i] * x_i
        total3 += block[3, i] * x_i
        total4 += block[4, i] * x_i
        total5 += block[5, i] * x_i
        total6 += block[6, i] * x_i
        total7 += block[7, i] * x_i
    out[0], out[1], out[2], out[3] = total0, total1, total2, total3
    out[4], out[5], out[6], out[7] = total4, total5, total6, total7


@kernel
def affine_rows(weights, bias, inputs, out):
    """``out = inputs @ W.T + b`` for a batch of samples (one per row)."""
    np.dot(inputs, weights.T, out)
    for r in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[r, j] += bias[j]


@kernel
def forward_layers(params, layout, first_layer, a_in, z, a):
    """Forward one sample from ``a_in``, the input of layer ``first_layer``, to the output.

    Pre-activations land in ``z`` and activations in ``a`` (one-sample buffers).
    """
    for layer in range(first_layer, layout.shape[0]):
        row = layout[layer]
        weights, bias = layer_params(params, row)
        z_out, a_out = layer_units(z, row), layer_units(a, row)
        affine(weights, bias, a_in, z_out)
        activate(z_out, a_out, row[ACTIVATION])
        a_in = a_out


@kernel
def forward_rows(params, layout, X, z, a):
    """Forward a batch (one sample per row of ``X``) into batch buffers ``z`` and ``a``."""
    n_rows = X.shape[0]
    a_in = X
    for layer in range(layout.shape[0]):
        row = layout[layer]
        weights, bias = layer_params(params, row)
        z_out, a_out = layer_block(z, row, n_rows), layer_block(a, row, n_rows)
        affine_rows(weights, bias, a_in, z_out)
        for r in range(n_rows):
            activate(z_out[r], a_out[r], row[ACTIVATION])
        a_in = a_out


@kernel
def predict_rows(params, layout, X, z, a, out):
    """Output-layer activations for every row of ``X`` into ``out``, a block of rows at a time.

    Memory stays bounded by the batch buffers ``z`` and ``a`` however many rows are predicted.
    """
    out_row = layout[layout.shape[0] - 1]
    block = buffer_rows(z, layout)
    for start in range(0, X.shape[0], block):
        inputs = X[start : start + block]
        forward_rows(params, layout, inputs, z, a)
        out[start : start + inputs.shape[0]] = layer_block(a, out_row, inputs.shape[0])


@kernel
def loss_rows(params, layout, X, Y, loss_code, z, a, delta, out):
    """Summed loss over the rows of ``X`` with targets ``Y``, a block of rows at a time.

    The output activations land in ``out`` as in ``predict_rows``, so validation metrics need
    no second forward pass. Buffers are sized as for ``predict_rows``; ``delta`` only receives
    discarded output deltas.
    """
    out_row = layout[layout.shape[0] - 1]
    block = buffer_rows(z, layout)
    total_loss = 0.0
    for start in range(0, X.shape[0], block):
        inputs, targets = X[start : start + block], Y[start : start + block]
        n_rows = inputs.shape[0]
        forward_rows(params, layout, inputs, z, a)
        z_out, a_out = layer_block(z, out_row, n_rows), layer_block(a, out_row, n_rows)
        d_out = layer_block(delta, out_row, n_rows)
        for r in range(n_rows):
            total_loss += loss_and_delta(
                z_out[r], a_out[r], targets[r], out_row[ACTIVATION], loss_code, d_out[r], 1.0
            )
        out[start : start + n_rows] = a_out
    return total_loss
