"""Forward passes, gradients and whole-epoch SGD loops over the flat parameter vector.

Every function takes the layout table (see fastnn/layout.py) and preallocated work buffers,
so nothing is allocated per sample or per batch. ``order`` is the sequence of row indices to
visit; the caller draws it (shuffling happens in Python, from a seeded NumPy Generator).
"""

import numba
import numpy as np

from ..config import kernel, parallel_kernel
from .activations import activate, scale_by_derivative
from .checks import all_finite, is_finite
from .codes import ACTIVATION
from .dense import (
    affine,
    affine_rows,
    apply_step,
    backprop_sgd_update,
    buffer_rows,
    layer_block,
    layer_params,
    layer_units,
    sgd_step,
    sgd_update_affine,
    units_per_sample,
)
from .losses import loss_and_delta
from .sparse_inputs import sgd_update_affine_sparse


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
def train_per_sample(params, layout, X, Y, order, lr, loss_code, z, a, delta, first_t, active):
    """Per-sample SGD over the rows ``X[order]``.

    Each sample is forwarded, its error back-propagated and every weight updated before the
    next sample is forwarded, exactly as the articles' NumPy loops do. The first layer's
    step is applied lazily, in the same sweep as the next sample's forward product
    (``sgd_update_affine``), and flushed before returning. ``z``, ``a`` and ``delta`` are
    one-sample buffers of ``n_units`` elements.

    For inputs that are mostly zero, pass ``first_t``, an ``(n_in, n_out)`` buffer, and
    ``active``, an index buffer of ``n_in``: the first layer then trains on a transposed copy
    that skips zero inputs (see ``sparse_inputs``) and is copied back before returning. Empty
    arrays select the dense path.

    Returns the summed per-sample loss and -1, or, as soon as a sample's loss or any of its
    pre-activations is not finite, the loss so far and that sample's position in ``order``.
    A non-finite weight shows in the pre-activations it feeds (``inf * 0`` is NaN), so this
    catches divergence at the first sample whose forward pass meets it; on the sparse path a
    first-layer weight is met only by samples whose input for it is nonzero.
    """
    if order.size == 0:
        return 0.0, -1
    first = layout[0]
    w_first, b_first = layer_params(params, first)
    pending_step = layer_units(delta, first)
    pending_step[:] = 0.0
    sparse = first_t.size > 0
    if sparse:
        first_t[:, :] = w_first.T
    total_loss, stopped_at = _per_sample_steps(
        params, layout, X, Y, order, lr, loss_code, z, a, delta, first_t, active
    )
    if sparse:
        w_first[:, :] = first_t.T
    if stopped_at < 0:
        apply_step(w_first, b_first, pending_step, X[order[order.size - 1]])
    return total_loss, stopped_at


@kernel
def _per_sample_steps(params, layout, X, Y, order, lr, loss_code, z, a, delta, first_t, active):
    """``train_per_sample``'s loop over the samples; the caller prepares the first layer's
    weights and applies the step this loop leaves pending (``lr`` times the last sample's
    first-layer delta, in ``delta``)."""
    n_layers = layout.shape[0]
    first, out_row = layout[0], layout[n_layers - 1]
    w_first, b_first = layer_params(params, first)
    z_first, a_first = layer_units(z, first), layer_units(a, first)
    pending_step = layer_units(delta, first)
    x_prev = X[order[0]]
    total_loss = 0.0
    for position in range(order.size):
        x = X[order[position]]
        if first_t.size > 0:
            sgd_update_affine_sparse(first_t, b_first, pending_step, x_prev, x, z_first, active)
        else:
            sgd_update_affine(w_first, b_first, pending_step, x_prev, x, z_first)
        activate(z_first, a_first, first[ACTIVATION])
        forward_layers(params, layout, 1, a_first, z, a)
        sample_loss = loss_and_delta(
            layer_units(z, out_row),
            layer_units(a, out_row),
            Y[order[position]],
            out_row[ACTIVATION],
            loss_code,
            layer_units(delta, out_row),
            1.0,
        )
        if not (is_finite(sample_loss) and all_finite(z)):
            return total_loss, position
        total_loss += sample_loss
        for layer in range(n_layers - 1, 0, -1):
            row, prev = layout[layer], layout[layer - 1]
            weights, bias = layer_params(params, row)
            a_in, delta_in = layer_units(a, prev), layer_units(delta, prev)
            backprop_sgd_update(weights, bias, layer_units(delta, row), a_in, lr, delta_in)
            scale_by_derivative(delta_in, a_in, prev[ACTIVATION])
        for j in range(pending_step.size):
            pending_step[j] *= lr
        x_prev = x
    return total_loss, -1


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
def block_gradient(params, layout, X, Y, loss_code, scale, z, a, delta, grad):
    """Gradient of ``scale`` times the summed loss over the rows of ``X`` into ``grad``.

    Returns the (unscaled) summed loss, or NaN when a pre-activation is infinite or NaN: a
    non-finite weight always shows there (``inf * 0`` is NaN). ``grad`` has the layout of
    ``params``; the batch buffers ``z``, ``a`` and ``delta`` hold at least ``len(X)`` rows.
    """
    n_rows, n_layers = X.shape[0], layout.shape[0]
    forward_rows(params, layout, X, z, a)
    if not all_finite(z[: n_rows * units_per_sample(layout)]):
        return np.nan
    out_row = layout[n_layers - 1]
    z_out, a_out = layer_block(z, out_row, n_rows), layer_block(a, out_row, n_rows)
    d_out = layer_block(delta, out_row, n_rows)
    total_loss = 0.0
    for r in range(n_rows):
        total_loss += loss_and_delta(
            z_out[r], a_out[r], Y[r], out_row[ACTIVATION], loss_code, d_out[r], scale
        )
    for layer in range(n_layers - 1, -1, -1):
        row = layout[layer]
        weights = layer_params(params, row)[0]
        grad_weights, grad_bias = layer_params(grad, row)
        d = layer_block(delta, row, n_rows)
        a_in = X if layer == 0 else layer_block(a, layout[layer - 1], n_rows)
        np.dot(d.T, a_in, grad_weights)
        grad_bias[:] = 0.0
        for r in range(n_rows):
            grad_bias += d[r]
        if layer > 0:
            prev = layout[layer - 1]
            delta_in = layer_block(delta, prev, n_rows)
            np.dot(d, weights, delta_in)
            for r in range(n_rows):
                scale_by_derivative(delta_in[r], a_in[r], prev[ACTIVATION])
    return total_loss


@kernel
def gather_rows(source, rows, out):
    """``out[r] = source[rows[r]]`` for each of ``rows``; ``out`` may have more rows.

    Written element by element: LLVM turns the loop into a vectorised copy, which measured
    twice as fast as Numba's row-slice assignment.
    """
    for r in range(rows.size):
        source_row, out_row = source[rows[r]], out[r]
        for i in range(source_row.size):
            out_row[i] = source_row[i]


# Threads split a batch into parts of at least this many rows. On the project's 2-core
# machine, 784-128-64-10 epochs on two threads against one: batches of 256 ran 1.4-1.6x
# faster and batches of 128 (two parts of 64) 1.3-1.4x, in float32 and float64 alike, while
# batches of 64 cut in two ranged from 0.96x to 1.2x, so they stay whole.
MIN_PART_ROWS = 64


@kernel
def batch_parts(n_rows, n_sets, block):
    """How many parts a batch of ``n_rows`` is cut into, given ``n_sets`` sets of work
    buffers of ``block`` rows each: one per set when each part keeps ``MIN_PART_ROWS`` rows,
    and as many as the buffers need."""
    return max(-(-n_rows // block), min(n_sets, n_rows // MIN_PART_ROWS), 1)


@kernel
def _part_gradient(params, layout, X, Y, rows, part, part_rows, loss_code, scale, X_batch,
                   Y_batch, z, a, delta, grad):
    """``block_gradient`` over part ``part`` of the batch ``X[rows]``, cut into parts of
    ``part_rows`` rows (the last may be shorter).

    The part's rows are gathered into the same positions of ``X_batch`` and ``Y_batch``;
    a batch of every row of ``X`` is used in place instead (its gradient does not depend on
    the order of its rows).
    """
    lo = part * part_rows
    hi = min(lo + part_rows, rows.size)
    if rows.size == X.shape[0]:
        inputs, targets = X[lo:hi], Y[lo:hi]
    else:
        gather_rows(X, rows[lo:hi], X_batch[lo:hi])
        gather_rows(Y, rows[lo:hi], Y_batch[lo:hi])
        inputs, targets = X_batch[lo:hi], Y_batch[lo:hi]
    return block_gradient(params, layout, inputs, targets, loss_code, scale, z, a, delta, grad)


@kernel
def _add_parts(grad, part_grads, start, count, lo, hi):
    """``grad[lo:hi] += part_grads[part, lo:hi]`` for parts ``start .. count - 1``, in order;
    ``hi`` may pass the end."""
    hi = min(hi, grad.size)
    for part in range(start, count):
        source = part_grads[part]
        for k in range(lo, hi):
            grad[k] += source[k]


@parallel_kernel
def batch_gradient(params, layout, X, Y, rows, loss_code, X_batch, Y_batch, z, a, delta, grad,
                   part_grads, part_losses, threaded):
    """Mean gradient of the loss over the batch ``X[rows]`` into ``grad``; returns the
    summed loss, or NaN as ``block_gradient`` does.

    ``z``, ``a``, ``delta``, ``part_grads`` and ``part_losses`` hold one set of work buffers
    per row. The batch is cut into ``batch_parts`` parts of equal size (to a row), one per
    set; when ``threaded`` their gradients are computed side by side on Numba's threads.
    They are added in part order, so the result depends on the batch and the number of
    sets, never on how many threads ran. A batch larger than the buffers is taken a round
    of parts at a time, so memory stays bounded whatever the batch size. ``X_batch`` and
    ``Y_batch`` receive the batch's rows (see ``_part_gradient``).
    """
    n_rows, n_sets = rows.size, z.shape[0]
    n_parts = batch_parts(n_rows, n_sets, buffer_rows(z[0], layout))
    part_rows = -(-n_rows // n_parts)
    scale = 1.0 / n_rows
    if n_parts == 1:
        return _part_gradient(params, layout, X, Y, rows, 0, n_rows, loss_code, scale, X_batch,
                              Y_batch, z[0], a[0], delta[0], grad)
    total_loss = 0.0
    for first in range(0, n_parts, n_sets):
        count = min(n_sets, n_parts - first)
        # The batch's first part writes straight into grad; the others are added to it.
        added = 1 if first == 0 else 0
        if threaded and count > 1:
            for s in numba.prange(count):
                out = grad if s < added else part_grads[s]
                part_losses[s] = _part_gradient(params, layout, X, Y, rows, first + s, part_rows,
                                                loss_code, scale, X_batch, Y_batch, z[s], a[s],
                                                delta[s], out)
            chunk = -(-grad.size // count)
            for s in numba.prange(count):
                _add_parts(grad, part_grads, added, count, s * chunk, (s + 1) * chunk)
        else:
            for s in range(count):
                out = grad if s < added else part_grads[s]
                part_losses[s] = _part_gradient(params, layout, X, Y, rows, first + s, part_rows,
                                                loss_code, scale, X_batch, Y_batch, z[s], a[s],
                                                delta[s], out)
            _add_parts(grad, part_grads, added, count, 0, grad.size)
        for s in range(count):
            total_loss += part_losses[s]
    return total_loss


@kernel
def train_minibatch(params, layout, X, Y, order, lr, l1, l2, loss_code, batch_size, X_batch,
                    Y_batch, z, a, delta, grad, part_grads, part_losses, threaded):
    """Mini-batch SGD over ``X[order]`` in consecutive batches.

    Each step moves the parameters by ``lr`` times the mean gradient of its batch (the last
    batch may be smaller) plus the ``l1``/``l2`` penalty gradients (see ``sgd_step``). The
    work buffers and ``threaded`` are ``batch_gradient``'s.

    Returns the summed loss and -1, or, as soon as a batch's loss or pre-activations are not
    finite (see ``block_gradient``), the loss so far and the position in ``order`` where that
    batch starts; that batch's step is not taken.
    """
    total_loss = 0.0
    for start in range(0, order.size, batch_size):
        batch_loss = batch_gradient(
            params, layout, X, Y, order[start : start + batch_size], loss_code, X_batch,
            Y_batch, z, a, delta, grad, part_grads, part_losses, threaded,
        )
        if not is_finite(batch_loss):
            return total_loss, start
        sgd_step(params, grad, layout, lr, l1, l2)
        total_loss += batch_loss
    return total_loss, -1


@kernel
def predict_rows(params, layout, X, z, a, out):
    """Output-layer activations for every row of ``X`` into ``out``, a chunk of rows at a time.

    Memory stays bounded by the batch buffers ``z`` and ``a`` however many rows are predicted.
    """
    out_row = layout[layout.shape[0] - 1]
    chunk = buffer_rows(z, layout)
    for start in range(0, X.shape[0], chunk):
        inputs = X[start : start + chunk]
        forward_rows(params, layout, inputs, z, a)
        out[start : start + inputs.shape[0]] = layer_block(a, out_row, inputs.shape[0])


@kernel
def loss_rows(params, layout, X, Y, loss_code, z, a, delta, out):
    """Summed loss over the rows of ``X`` with targets ``Y``, a chunk of rows at a time.

    The output activations land in ``out`` as in ``predict_rows``, so validation metrics need
    no second forward pass. Buffers are sized as for ``predict_rows``; ``delta`` only receives
    discarded output deltas.
    """
    out_row = layout[layout.shape[0] - 1]
    chunk = buffer_rows(z, layout)
    total_loss = 0.0
    for start in range(0, X.shape[0], chunk):
        inputs, targets = X[start : start + chunk], Y[start : start + chunk]
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
