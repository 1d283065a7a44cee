"""Whole-epoch training loops: per-sample SGD and mini-batch (or full-batch) SGD.

Every loop takes the layout table (see fastnn/layout.py) and preallocated work buffers, so
nothing is allocated per sample or per batch. ``order`` is the sequence of row indices to
visit; the caller draws it (shuffling happens in Python, from a seeded NumPy Generator).
"""

from ..config import kernel, serial_and_threaded
from .activations import activate, scale_by_derivative
from .checks import all_finite, is_finite
from .forward import forward_layers
from .gradients import batch_gradient
from .losses import loss_and_delta
from .sparse_inputs import sgd_update_affine_sparse
from .steps import apply_step, backprop_sgd_update, sgd_step, sgd_update_affine
from .views import ACTIVATION, layer_params, layer_units


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


def train_minibatch(params, layout, X, Y, order, lr, l1, l2, loss_code, batch_size,
                    min_part_rows, X_batch, Y_batch, z, a, delta, grad, part_grads, part_losses):
    """Mini-batch SGD over ``X[order]`` in consecutive batches.

    Each step moves the parameters by ``lr`` times the mean gradient of its batch (the last
    batch may be smaller) plus the ``l1``/``l2`` penalty gradients (see ``sgd_step``). The
    work buffers and ``min_part_rows`` are ``batch_gradient``'s; ``train_minibatch_threaded``
    computes each batch's parts on Numba's threads, with the same result.

    Returns the summed loss and -1, or, as soon as a batch's loss or pre-activations are not
    finite (see ``block_gradient``), the loss so far and the position in ``order`` where that
    batch starts; that batch's step is not taken.
    """
    total_loss = 0.0
    for start in range(0, order.size, batch_size):
        batch_loss = batch_gradient(
            params, layout, X, Y, order[start : start + batch_size], loss_code, min_part_rows,
            X_batch, Y_batch, z, a, delta, grad, part_grads, part_losses,
        )
        if not is_finite(batch_loss):
            return total_loss, start
        sgd_step(params, grad, layout, lr, l1, l2)
        total_loss += batch_loss
    return total_loss, -1


train_minibatch, train_minibatch_threaded = serial_and_threaded(train_minibatch)
