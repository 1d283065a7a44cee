"""Whole-epoch training loops: per-sample steps (plain SGD, or any optimizer) and mini-batch
(or full-batch) steps of any optimizer.

Every loop takes the layout table (see fastnn/layout.py) and preallocated work buffers, so
nothing is allocated per sample or per batch. ``order`` is the sequence of row indices to
visit; the caller draws it (shuffling happens in Python, from a seeded NumPy Generator).
``factors`` holds one weight per row of ``X`` (its sample weight over the training set's mean
weight, 1 for unweighted data), which scales that sample's loss and gradient. The optimizers'
codes, ``rates`` and state arrays ``m`` and ``v`` are those of ``optimizers``; ``steps`` is the
number of optimizer steps taken before the call, and the loops return it updated.
``squares`` is None, or a one-element float64 array to which each step adds the sum of the
squared weights it starts from (``optimizers.squared_weights``): scikit-learn's loss counts
its ``alpha`` penalty at every step's weights. Numba compiles the two cases apart.
"""

import numba
import numpy as np

from ..config import kernel, serial_and_threaded
from .activations import activate, scale_by_derivative
from .atomics import load_acquire, store_release
from .checks import all_finite, is_finite
from .forward import affine, forward_layers
from .gradients import batch_part_gradients
from .losses import loss_and_delta
from .optimizers import (
    ADAM,
    MOMENTUM,
    NESTEROV,
    SGD,
    backprop_update,
    optimizer_step,
    set_step,
    squared_weights,
    update_affine,
)
from .prefetch import prefetch_row
from .sparse_inputs import nonzero_inputs, sgd_update_affine_sparse, transpose_into
from .steps import apply_step, backprop_sgd_update, sgd_update_affine
from .views import ACTIVATION, N_OUT, layer_params, layer_units


@kernel(inline="always")
def first_layer(params, layout, z, delta):
    """The first layer's layout row, its ``(W, b)`` views and its units in the one-sample
    buffers ``z`` and ``delta``: what a per-sample loop's deferred first-layer step works on."""
    first = layout[0]
    weights, bias = layer_params(params, first)
    return first, weights, bias, layer_units(z, first), layer_units(delta, first)


@kernel(inline="always")
def prefetch_next_sample(X, Y, order, position):
    """Ask for the input and target rows of the sample after ``order[position]``, if any, to
    be brought into the caches: in a shuffled order they are far from any row read before,
    and each step takes long enough for them to arrive (see ``prefetch``)."""
    if position + 1 < order.size:
        prefetch_row(X, order[position + 1])
        prefetch_row(Y, order[position + 1])


@kernel
def sample_loss(params, layout, y, factor, loss_code, z, a, delta):
    """One sample's weighted loss, once its first layer's pre-activations are in ``z``: activates
    them, forwards the other layers and writes ``factor`` times the output delta into
    ``delta``. NaN when the loss or any pre-activation is not finite: a non-finite weight shows
    in the pre-activations it feeds (``inf * 0`` is NaN)."""
    n_layers = layout.shape[0]
    first, out_row = layout[0], layout[n_layers - 1]
    a_first = layer_units(a, first)
    activate(layer_units(z, first), a_first, first[ACTIVATION])
    forward_layers(params, layout, 1, a_first, z, a)
    loss = loss_and_delta(layer_units(z, out_row), layer_units(a, out_row), y, out_row[ACTIVATION],
                          loss_code, layer_units(delta, out_row), factor)
    if not (is_finite(loss) and all_finite(z)):
        return np.nan
    return factor * loss


@kernel
def train_per_sample(params, layout, X, Y, factors, order, lr, loss_code, z, a, delta, first_t,
                     active, previous):
    """Per-sample plain SGD over the rows ``X[order]``.

    Each sample is forwarded, its error back-propagated and every weight updated before the
    next sample is forwarded, exactly as the articles' NumPy loops do. The first layer's
    step is applied lazily, in the same sweep as the next sample's forward product
    (``sgd_update_affine``), and flushed before returning. ``z``, ``a`` and ``delta`` are
    one-sample buffers of ``n_units`` elements.

    For inputs that are mostly zero, pass ``first_t``, an ``(n_in, n_out)`` buffer, and
    ``active``, a ``(3, n_in)`` index buffer: the first layer then trains on a transposed copy
    that skips zero inputs (see ``sparse_inputs``) and is copied back before returning. An
    empty ``first_t``, with ``active`` of shape ``(3, 0)``, selects the dense path.
    ``previous`` is the row of ``X`` trained just before ``order[0]`` in the same epoch, or -1
    at the epoch's start: the zero-skipping step sums a sample's product in an order set by
    its predecessor's nonzero inputs, so an epoch trained in several calls must name each
    call's predecessor to give the weights of one call.

    Returns the summed per-sample loss and -1, or, as soon as a sample's loss or any of its
    pre-activations is not finite (see ``sample_loss``), the loss so far and that sample's
    position in ``order``; on the sparse path a first-layer weight is met only by samples whose
    input for it, or whose predecessor's, is nonzero.
    """
    if order.size == 0:
        return 0.0, -1
    first = layout[0]
    w_first, b_first = layer_params(params, first)
    pending_step = layer_units(delta, first)
    pending_step[:] = 0.0
    sparse = first_t.size > 0
    if sparse:
        transpose_into(w_first, first_t)
    total_loss, stopped_at = _per_sample_steps(
        params, layout, X, Y, factors, order, lr, loss_code, z, a, delta, first_t, active,
        previous
    )
    if sparse:
        transpose_into(first_t, w_first)
    if stopped_at < 0:
        apply_step(w_first, b_first, pending_step, X[order[order.size - 1]])
    return total_loss, stopped_at


@kernel
def _per_sample_steps(params, layout, X, Y, factors, order, lr, loss_code, z, a, delta, first_t,
                      active, previous):
    """``train_per_sample``'s loop over the samples; the caller prepares the first layer's
    weights and applies the step this loop leaves pending (``lr`` times the last sample's
    first-layer delta, in ``delta``)."""
    n_layers = layout.shape[0]
    first, w_first, b_first, z_first, pending_step = first_layer(params, layout, z, delta)
    # The first pending step is zero, so stepping by it changes nothing; it is taken as if
    # from the predecessor (the first sample itself at the epoch's start), whose nonzero
    # inputs the zero-skipping step visits.
    x_prev = X[order[0] if previous < 0 else previous]
    inputs_prev = nonzero_inputs(x_prev, active[1]) if first_t.size > 0 else active[1, :0]
    total_loss = 0.0
    for position in range(order.size):
        sample = order[position]
        x = X[sample]
        prefetch_next_sample(X, Y, order, position)
        if first_t.size > 0:
            inputs_prev = sgd_update_affine_sparse(first_t, b_first, pending_step, x_prev,
                                                   inputs_prev, x, active[position % 2],
                                                   active[2], z_first)
        else:
            sgd_update_affine(w_first, b_first, pending_step, x_prev, x, z_first)
        loss = sample_loss(params, layout, Y[sample], factors[sample], loss_code, z, a, delta)
        if not is_finite(loss):
            return total_loss, position
        total_loss += loss
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
def train_per_sample_part(params, layout, X, Y, factors, order, lr, loss_code, z, a, delta,
                          part, split, flags):
    """Thread ``part`` (0 or 1) of ``train_per_sample`` on two cores, over every input.

    The first layer's rows are split at ``split`` (a multiple of 4, so both halves are blocked
    as one thread's rows are): each thread applies its rows' pending step and computes their
    products, in its own share of the weights, which stays in its own core's cache. Thread 0
    then does the rest of the sample (the other layers, the loss, the backward pass and the
    first layer's next pending step) while thread 1 waits. They meet twice per sample on the
    flags in ``flags`` (int64, zeros: one per thread and a stop position plus one), spinning
    rather than sleeping. Every weight is stepped by one thread, in the serial order, with the
    serial arithmetic, so the weights equal ``train_per_sample``'s bit for bit. Both threads
    return the summed loss (thread 0's) and -1 or the position where it stopped.
    """
    first = layout[0]
    w_first, b_first = layer_params(params, first)
    lo, hi = (0, split) if part == 0 else (split, first[N_OUT])
    weights, bias = w_first[lo:hi], b_first[lo:hi]
    pending_step, z_first = layer_units(delta, first)[lo:hi], layer_units(z, first)[lo:hi]
    pending_step[:] = 0.0
    n_layers, other = layout.shape[0], 1 - part
    x_prev = X[order[0]]
    total_loss, stopped_at, meetings = 0.0, -1, 0
    for position in range(order.size):
        sample = order[position]
        x = X[sample]
        prefetch_next_sample(X, Y, order, position)
        sgd_update_affine(weights, bias, pending_step, x_prev, x, z_first)
        meetings += 1
        _meet(flags, part, other, meetings)  # every first-layer product is in z
        if part == 0:
            loss = sample_loss(params, layout, Y[sample], factors[sample], loss_code, z, a, delta)
            if not is_finite(loss):
                store_release(flags, 2, position + 1)
            else:
                total_loss += loss
                for layer in range(n_layers - 1, 0, -1):
                    row, prev = layout[layer], layout[layer - 1]
                    weights_l, bias_l = layer_params(params, row)
                    a_in, delta_in = layer_units(a, prev), layer_units(delta, prev)
                    backprop_sgd_update(weights_l, bias_l, layer_units(delta, row), a_in, lr,
                                        delta_in)
                    scale_by_derivative(delta_in, a_in, prev[ACTIVATION])
                first_step = layer_units(delta, first)
                for j in range(first_step.size):
                    first_step[j] *= lr
        meetings += 1
        _meet(flags, part, other, meetings)  # the next pending step is ready, or a stop
        stop = load_acquire(flags, 2)
        if stop > 0:
            stopped_at = stop - 1
            break
        x_prev = x
    if stopped_at < 0 and order.size > 0:
        apply_step(weights, bias, pending_step, X[order[order.size - 1]])
    return total_loss, stopped_at


@kernel(inline="always")
def _meet(flags, part, other, meeting):
    """Announce this thread's arrival at ``meeting`` and spin until the other thread's."""
    store_release(flags, part, meeting)
    while load_acquire(flags, other) < meeting:
        pass


@kernel
def train_per_sample_optimizer(params, layout, X, Y, factors, order, code, rates, steps, l1, l2,
                               m, v, loss_code, z, a, delta, squares):
    """Per-sample steps of the optimizer ``code`` over the rows ``X[order]``, with the ``l1``
    and ``l2`` penalties.

    As in ``train_per_sample``, every sample's step is complete before the next sample is
    forwarded, and the first layer's step is deferred into the next sample's forward product
    (``optimizers.update_affine``), so each weight and its state are loaded and stored once
    per sample; the last sample's is applied before returning. Returns the summed loss, -1 and
    the step count, or the loss so far, the position in ``order`` of the first sample whose
    loss or pre-activations are not finite, and the step count before it.
    """
    # One copy of the loop per optimizer, its code a constant (see ``optimizers``).
    if code == ADAM:
        return _optimizer_per_sample_steps(ADAM, params, layout, X, Y, factors, order, rates,
                                           steps, l1, l2, m, v, loss_code, z, a, delta, squares)
    if code == NESTEROV:
        return _optimizer_per_sample_steps(NESTEROV, params, layout, X, Y, factors, order, rates,
                                           steps, l1, l2, m, v, loss_code, z, a, delta, squares)
    if code == MOMENTUM:
        return _optimizer_per_sample_steps(MOMENTUM, params, layout, X, Y, factors, order, rates,
                                           steps, l1, l2, m, v, loss_code, z, a, delta, squares)
    return _optimizer_per_sample_steps(SGD, params, layout, X, Y, factors, order, rates, steps,
                                       l1, l2, m, v, loss_code, z, a, delta, squares)


@kernel(inline="always")
def _optimizer_per_sample_steps(code, params, layout, X, Y, factors, order, rates, steps, l1, l2,
                                m, v, loss_code, z, a, delta, squares):
    """``train_per_sample_optimizer``, inlined where ``code`` is a constant."""
    if order.size == 0:
        return 0.0, -1, steps
    n_layers = layout.shape[0]
    first, w_first, b_first, z_first, pending_delta = first_layer(params, layout, z, delta)
    x_prev = X[order[0]]
    total_loss = 0.0
    for position in range(order.size):
        sample = order[position]
        x = X[sample]
        prefetch_next_sample(X, Y, order, position)
        if position == 0:
            affine(w_first, b_first, x, z_first)
            first_squares = 0.0 if squares is None else squared_weights(params, layout[:1])
        else:
            first_squares = update_affine(code, params, m, v, first, pending_delta, x_prev,
                                          rates, l1, l2, x, z_first, squares)
        loss = sample_loss(params, layout, Y[sample], factors[sample], loss_code, z, a, delta)
        if not is_finite(loss):
            return total_loss, position, steps
        total_loss += loss
        steps += 1
        if code == ADAM:  # its bias corrections change every step
            set_step(rates, steps)
        if squares is not None:  # every weight is now the one this sample's step starts from
            squares[0] += first_squares + squared_weights(params, layout[1:])
        for layer in range(n_layers - 1, 0, -1):
            row, prev = layout[layer], layout[layer - 1]
            a_in, delta_in = layer_units(a, prev), layer_units(delta, prev)
            backprop_update(code, params, m, v, row, layer_units(delta, row), a_in, rates, l1, l2,
                            delta_in)
            scale_by_derivative(delta_in, a_in, prev[ACTIVATION])
        x_prev = x
    # The last sample's first-layer step, with a product into z that nothing reads.
    update_affine(code, params, m, v, first, pending_delta, x_prev, rates, l1, l2, x_prev,
                  z_first)
    return total_loss, -1, steps


def train_minibatch(params, layout, X, Y, factors, order, code, rates, steps, l1, l2, m, v,
                    loss_code, batch_size, min_part_rows, X_batch, Y_batch, factors_batch, z, a,
                    delta, grad, part_grads, part_losses, squares):
    """Steps of the optimizer ``code`` over ``X[order]`` in consecutive batches.

    Each step follows the mean gradient of its batch (the last batch may be smaller) plus the
    ``l1``/``l2`` penalty gradients. The work buffers and ``min_part_rows`` are
    ``batch_gradient``'s; ``train_minibatch_threaded`` computes each batch's parts, and then
    steps the vector a chunk per set of buffers, on Numba's threads, with the same result.

    Returns the summed loss, -1 and the step count, or, as soon as a batch's loss or
    pre-activations are not finite (see ``block_gradient``), the loss so far, the position in
    ``order`` where that batch starts, and the step count before it; that batch's step is not
    taken.
    """
    total_loss, n_chunks = 0.0, z.shape[0]
    for start in range(0, order.size, batch_size):
        batch_loss, pending = batch_part_gradients(
            params, layout, X, Y, factors, order[start : start + batch_size], loss_code,
            min_part_rows, X_batch, Y_batch, factors_batch, z, a, delta, grad, part_grads,
            part_losses,
        )
        if not is_finite(batch_loss):
            return total_loss, start, steps
        steps += 1
        if code == ADAM:  # its bias corrections change every step
            set_step(rates, steps)
        if squares is not None:
            squares[0] += squared_weights(params, layout)
        # The step adds the batch's last part as it goes, each thread a chunk of the vector.
        part = part_grads[pending] if pending >= 0 else part_grads[0, :0]
        for chunk in numba.prange(n_chunks):  # int(): the serial compilation's signature
            optimizer_step(code, params, grad, layout, m, v, rates, l1, l2, part, int(chunk),
                           n_chunks)
        total_loss += batch_loss
    return total_loss, -1, steps


train_minibatch, train_minibatch_threaded = serial_and_threaded(train_minibatch)
