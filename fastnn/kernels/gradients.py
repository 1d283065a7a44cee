"""Gradients of the summed or mean loss over rows of ``X``, by back-propagation over batch
buffers, and their assembly from parts computed side by side.

``block_gradient`` does the work for one block of rows; ``batch_gradient`` cuts a batch into
parts, one per set of work buffers, and adds the parts' gradients in a fixed order.
"""

import numba
import numpy as np

from ..config import kernel, serial_and_threaded
from .activations import scale_by_derivative
from .checks import all_finite
from .forward import forward_rows
from .losses import loss_and_delta
from .views import ACTIVATION, buffer_rows, layer_block, layer_params, units_per_sample


@kernel
def block_gradient(params, layout, X, Y, factors, loss_code, scale, z, a, delta, grad):
    """Gradient of ``scale`` times the summed loss over the rows of ``X``, each row's loss
    weighted by its entry of ``factors``, into ``grad``.

    Returns the weighted summed loss (not multiplied by ``scale``), or NaN when a
    pre-activation is infinite or NaN: a non-finite weight always shows there (``inf * 0`` is
    NaN). ``grad`` has the layout of ``params``; the batch buffers ``z``, ``a`` and ``delta``
    hold at least ``len(X)`` rows.
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
        factor = factors[r]
        total_loss += factor * loss_and_delta(
            z_out[r], a_out[r], Y[r], out_row[ACTIVATION], loss_code, d_out[r], scale * factor
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

    Written element by element, which LLVM turns into a vectorised copy: Numba's row-slice
    assignment was the slower of the two.
    """
    for r in range(rows.size):
        source_row, out_row = source[rows[r]], out[r]
        for i in range(source_row.size):
            out_row[i] = source_row[i]


@kernel
def batch_parts(n_rows, n_sets, block, min_part_rows):
    """How many parts a batch of ``n_rows`` is cut into, given ``n_sets`` sets of work
    buffers of ``block`` rows each: one per set when each part keeps ``min_part_rows`` rows,
    and as many as the buffers need."""
    return max(-(-n_rows // block), min(n_sets, n_rows // min_part_rows), 1)


@kernel
def _part_gradient(params, layout, X, Y, factors, rows, part, part_rows, loss_code, scale,
                   X_batch, Y_batch, factors_batch, z, a, delta, grad):
    """``block_gradient`` over part ``part`` of the batch ``X[rows]``, cut into parts of
    ``part_rows`` rows (the last may be shorter).

    The part's rows are gathered into the same positions of ``X_batch``, ``Y_batch`` and
    ``factors_batch``;
    a batch of every row of ``X`` is used in place instead (its gradient does not depend on
    the order of its rows).
    """
    lo = part * part_rows
    hi = min(lo + part_rows, rows.size)
    if rows.size == X.shape[0]:
        inputs, targets, row_factors = X[lo:hi], Y[lo:hi], factors[lo:hi]
    else:
        gather_rows(X, rows[lo:hi], X_batch[lo:hi])
        gather_rows(Y, rows[lo:hi], Y_batch[lo:hi])
        for r in range(lo, hi):
            factors_batch[r] = factors[rows[r]]
        inputs, targets, row_factors = X_batch[lo:hi], Y_batch[lo:hi], factors_batch[lo:hi]
    return block_gradient(params, layout, inputs, targets, row_factors, loss_code, scale, z, a,
                          delta, grad)


@kernel
def _add_parts(grad, part_grads, start, stop, lo, hi):
    """``grad[lo:hi] += part_grads[part, lo:hi]`` for parts ``start .. stop - 1``, in order;
    ``hi`` may pass the end.

    The index is unsigned: from a signed start that might be negative, Numba wraps every
    index, and LLVM then leaves the loop one element at a time.
    """
    hi = min(hi, grad.size)
    for part in range(start, stop):
        source = part_grads[part]
        for k in range(np.uint64(lo), np.uint64(hi)):
            grad[k] += source[k]


# Inlined into their callers, so that their ``prange`` loops become the callers': the epoch
# loop that calls them is compiled serial and threaded (see ``epochs.train_minibatch``).
@kernel(inline="always")
def batch_gradient(params, layout, X, Y, factors, rows, loss_code, min_part_rows, X_batch,
                   Y_batch, factors_batch, z, a, delta, grad, part_grads, part_losses):
    """Mean gradient of the loss over the batch ``X[rows]``, each row's share weighted by its
    entry of ``factors``, into ``grad``; returns the weighted summed loss, or NaN as
    ``block_gradient`` does.

    ``z``, ``a``, ``delta``, ``part_grads`` and ``part_losses`` hold one set of work buffers
    per row. The batch is cut into ``batch_parts`` parts of equal size (to a row), one per
    set, whose gradients are computed side by side where the caller is compiled threaded.
    They are added in part order, so the result depends on the batch and the number of
    sets, never on how many threads ran. A batch larger than the buffers is taken a round
    of parts at a time, so memory stays bounded whatever the batch size. ``X_batch`` and
    ``Y_batch`` and ``factors_batch`` receive the batch's rows (see ``_part_gradient``).
    """
    total_loss, pending = batch_part_gradients(
        params, layout, X, Y, factors, rows, loss_code, min_part_rows, X_batch, Y_batch,
        factors_batch, z, a, delta, grad, part_grads, part_losses)
    if pending >= 0:
        add_parts_side_by_side(grad, part_grads, pending, pending + 1, z.shape[0])
    return total_loss


@kernel(inline="always")
def batch_part_gradients(params, layout, X, Y, factors, rows, loss_code, min_part_rows,
                         X_batch, Y_batch, factors_batch, z, a, delta, grad, part_grads,
                         part_losses):
    """``batch_gradient`` but for its last addition: returns the loss and ``pending``, the
    row of ``part_grads`` that still has to be added to ``grad`` to make the batch's
    gradient, or -1 when ``grad`` holds it all (a batch taken in one part).

    An optimizer step reads every element of the gradient once anyway, so it can add the
    last part as it reads (``optimizers.optimizer_step``'s ``pending``): that saves a pass
    that reads two gradients and writes one, in which each thread would also read the half
    of a part that the other thread's core wrote.
    """
    n_rows, n_sets = rows.size, z.shape[0]
    n_parts = batch_parts(n_rows, n_sets, buffer_rows(z[0], layout), min_part_rows)
    part_rows = -(-n_rows // n_parts)
    scale = 1.0 / n_rows
    if n_parts == 1:
        loss = _part_gradient(params, layout, X, Y, factors, rows, 0, n_rows, loss_code, scale,
                              X_batch, Y_batch, factors_batch, z[0], a[0], delta[0], grad)
        return loss, -1
    total_loss, pending = 0.0, -1
    for first in range(0, n_parts, n_sets):
        count = min(n_sets, n_parts - first)
        if pending >= 0:  # this round's parts overwrite it (a batch beyond the buffers: rare)
            _add_parts(grad, part_grads, pending, pending + 1, 0, grad.size)
        # The batch's first part writes straight into grad; the others are added to it.
        added = 1 if first == 0 else 0
        for s in numba.prange(count):
            out = grad if s < added else part_grads[s]
            part_losses[s] = _part_gradient(params, layout, X, Y, factors, rows, first + s,
                                            part_rows, loss_code, scale, X_batch, Y_batch,
                                            factors_batch, z[s], a[s], delta[s], out)
        pending = count - 1 if count - 1 >= added else -1
        add_parts_side_by_side(grad, part_grads, added, count - 1, count)
        for s in range(count):
            total_loss += part_losses[s]
    return total_loss, pending


@kernel(inline="always")
def add_parts_side_by_side(grad, part_grads, start, stop, n_chunks):
    """``grad += part_grads[part]`` for parts ``start .. stop - 1``, in order, the vector cut
    into ``n_chunks`` chunks that threads add side by side; nothing when there are none."""
    if start < stop:
        chunk = -(-grad.size // n_chunks)
        for s in numba.prange(n_chunks):
            _add_parts(grad, part_grads, start, stop, s * chunk, (s + 1) * chunk)


def loss_and_gradient(params, layout, X, Y, factors, loss_code, min_part_rows, z, a, delta, grad,
                      part_grads, part_losses):
    """The weighted summed loss over every row of ``X`` and its mean gradient, into ``grad``:
    the objective a full-batch solver such as L-BFGS follows (``batch_gradient`` over the rows
    in place). ``train_minibatch``'s work buffers, without the staging ones."""
    rows = np.arange(X.shape[0])
    return batch_gradient(params, layout, X, Y, factors, rows, loss_code, min_part_rows, X[:0],
                          Y[:0], factors[:0], z, a, delta, grad, part_grads, part_losses)


loss_and_gradient, loss_and_gradient_threaded = serial_and_threaded(loss_and_gradient)
