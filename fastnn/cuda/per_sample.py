"""The per-sample epoch on the GPU: one block trains one network, sample after sample.

A launch trains ``counts[b]`` samples of the order ``orders[b]`` (from ``start``) on network
``b`` of a stack of networks that share one layout: the single network of a ``fit`` (one
block), or one network per block for ``train_many``. Within a block the threads share each
layer's units: a thread forwards its units, back-propagates to its share of the layer's
inputs, and steps its share of the weights; ``cuda.syncthreads()`` separates the phases.
Every sum is taken by one thread in index order, and the loss by thread 0, so the result is
exact per-sample training, deterministic, with no atomics.

As on the CPU (``kernels.epochs.train_per_sample_optimizer``), the first layer's step is
deferred into the next sample's forward product, so each of its weights and their optimizer
state is read and written once per sample. The first layer is trained transposed, ``(n_in,
n_out)``, so that the threads' reads of one input's weights coalesce; it is copied in at the
start of a launch and back at the end.

Every branch around a barrier is taken by all of a block's threads alike: the divergence flag
is read from shared memory after a barrier, and a thread without units of its own still
passes through every ``syncthreads``.
"""

import functools

import numba
import numpy as np
from numba import cuda

from ..kernels.activations import SOFTMAX
from ..kernels.optimizers import ADAM, N_RATES, SGD
from ..kernels.views import ACTIVATION, B_START, N_IN, N_OUT, UNIT_START, W_START
from .device import (
    _gpu_activation,
    _gpu_is_finite,
    _gpu_loss_and_delta,
    _gpu_penalised,
    _gpu_scaled_by_derivative,
    _gpu_set_step,
    _gpu_softmax,
    _gpu_updated,
)


def shared_bytes(layout, dtype):
    """Bytes of dynamic shared memory a block needs: two inputs, the units, rates and a flag."""
    n_units = int(layout[-1][UNIT_START] + layout[-1][N_OUT])
    return (2 * int(layout[0][N_IN]) + 3 * n_units + N_RATES + 1) * np.dtype(dtype).itemsize


@functools.cache
def per_sample_kernel(dtype):
    """The per-sample epoch kernel for networks of ``dtype`` (shared memory is typed)."""
    shared_type = numba.from_dtype(np.dtype(dtype))
    eps = np.finfo(dtype).eps

    @cuda.jit
    def train_per_sample(params, m, v, first_t, m_first_t, v_first_t, layout, X, Y, factors,
                         orders, start, counts, codes, rates, penalties, steps, loss_code,
                         results):
        b = cuda.blockIdx.x
        _gpu_per_sample_steps(cuda.shared.array(0, shared_type), params[b], m[b], v[b],
                              first_t[b], m_first_t[b], v_first_t[b], layout, X, Y, factors,
                              orders[b, start:], counts[b], codes[b], rates[b], penalties[b, 0],
                              penalties[b, 1], steps, b, loss_code, eps, results[b])

    return train_per_sample


@cuda.jit(device=True)
def _gpu_transpose_first_layer(params, m, v, first_t, m_first_t, v_first_t, layout, code,
                               into_transposed):
    """Copy the first layer's weights (and the optimizer state it uses) between ``params``
    (``(n_out, n_in)``) and ``first_t`` (``(n_in, n_out)``), either way."""
    t, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    w_start, n_in, n_out = layout[0, W_START], layout[0, N_IN], layout[0, N_OUT]
    for k in range(t, n_in * n_out, n_threads):
        j = k // n_in
        i = k - j * n_in
        kt = i * n_out + j
        if into_transposed:
            first_t[kt] = params[w_start + k]
            if code != SGD:
                m_first_t[kt] = m[w_start + k]
            if code == ADAM:
                v_first_t[kt] = v[w_start + k]
        else:
            params[w_start + k] = first_t[kt]
            if code != SGD:
                m[w_start + k] = m_first_t[kt]
            if code == ADAM:
                v[w_start + k] = v_first_t[kt]


@cuda.jit(device=True)
def _gpu_step_first_layer(params, m, v, first_t, m_first_t, v_first_t, layout, code, rates,
                          l1, l2, pending, x_prev, x, z, stepped, activation):
    """Thread-owned units ``j`` of the first layer: the previous sample's step on ``outer(
    pending, x_prev)`` (when ``stepped``), then ``z[j] = W[j] @ x + b[j]`` and, for an
    element-wise ``activation``, its activation into ``z``'s twin ``activation``; returns whether
    every one of the thread's pre-activations is finite."""
    t, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    b_start, n_in, n_out = layout[0, B_START], layout[0, N_IN], layout[0, N_OUT]
    finite = True
    for j in range(t, n_out, n_threads):
        d = pending[j]
        if stepped:
            params[b_start + j] = _gpu_updated(code, params[b_start + j], d, m, v, b_start + j,
                                               rates)
        total = params[b_start + j]
        for i in range(n_in):
            k = i * n_out + j
            w = first_t[k]
            if stepped:
                w = _gpu_updated(code, w, _gpu_penalised(d * x_prev[i], w, l1, l2), m_first_t,
                                 v_first_t, k, rates)
                first_t[k] = w
            total += w * x[i]
        z[j] = total
        if layout[0, ACTIVATION] != SOFTMAX:
            activation[j] = _gpu_activation(total, layout[0, ACTIVATION])
        finite = finite and _gpu_is_finite(total)
    return finite


@cuda.jit(device=True)
def _gpu_forward_layer(params, layout, layer, z, a):
    """Thread-owned units of ``layer`` (not the first): ``z = W @ a_in + b`` and, for an
    element-wise activation, ``a = f(z)``; returns whether the thread's ``z`` are finite."""
    t, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    w_start, b_start = layout[layer, W_START], layout[layer, B_START]
    n_in, n_out, code = layout[layer, N_IN], layout[layer, N_OUT], layout[layer, ACTIVATION]
    units, units_in = layout[layer, UNIT_START], layout[layer - 1, UNIT_START]
    finite = True
    for j in range(t, n_out, n_threads):
        total = params[b_start + j]
        row = w_start + j * n_in
        for i in range(n_in):
            total += params[row + i] * a[units_in + i]
        z[units + j] = total
        if code != SOFTMAX:
            a[units + j] = _gpu_activation(total, code)
        finite = finite and _gpu_is_finite(total)
    return finite


@cuda.jit(device=True)
def _gpu_backprop_layer(params, layout, layer, a, delta):
    """Thread-owned inputs ``i`` of ``layer``: ``delta_in[i] = (W.T @ delta)[i] * f'``, with
    the weights as they are before this sample's step."""
    t, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    w_start, n_in, n_out = layout[layer, W_START], layout[layer, N_IN], layout[layer, N_OUT]
    units, units_in = layout[layer, UNIT_START], layout[layer - 1, UNIT_START]
    code_in = layout[layer - 1, ACTIVATION]
    for i in range(t, n_in, n_threads):
        total = 0.0
        for j in range(n_out):
            total += params[w_start + j * n_in + i] * delta[units + j]
        delta[units_in + i] = _gpu_scaled_by_derivative(total, a[units_in + i], code_in)


@cuda.jit(device=True)
def _gpu_step_layer(params, m, v, layout, layer, a, delta, code, rates, l1, l2):
    """Thread-owned weights and biases of ``layer`` (not the first): one step on this sample's
    gradient ``outer(delta, a_in)``; a thread's weights are consecutive in memory across the
    block, so the block's reads coalesce."""
    t, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    w_start, b_start = layout[layer, W_START], layout[layer, B_START]
    n_in, n_out = layout[layer, N_IN], layout[layer, N_OUT]
    units, units_in = layout[layer, UNIT_START], layout[layer - 1, UNIT_START]
    for k in range(t, n_out * n_in, n_threads):
        j = k // n_in
        w = params[w_start + k]
        g = _gpu_penalised(delta[units + j] * a[units_in + k - j * n_in], w, l1, l2)
        params[w_start + k] = _gpu_updated(code, w, g, m, v, w_start + k, rates)
    for j in range(t, n_out, n_threads):
        params[b_start + j] = _gpu_updated(code, params[b_start + j], delta[units + j], m, v,
                                           b_start + j, rates)


@cuda.jit(device=True)
def _gpu_per_sample_steps(shared, params, m, v, first_t, m_first_t, v_first_t, layout, X, Y,
                          factors, order, count, code, rates_in, l1, l2, steps, network,
                          loss_code, eps, result):
    """One block's per-sample training of one network over ``order[:count]``: the body of
    ``per_sample_kernel``. ``result`` receives the summed loss, the position of the first
    sample whose loss or pre-activations are not finite (or -1) and the step count, which
    starts from ``steps[network]``; the diverging sample's step is not taken."""
    t = cuda.threadIdx.x
    n_layers = layout.shape[0]
    n_in = layout[0, N_IN]
    out = n_layers - 1
    n_out, out_units, out_code = layout[out, N_OUT], layout[out, UNIT_START], layout[out, ACTIVATION]
    n_units = out_units + n_out
    inputs = shared[:2 * n_in]
    z = shared[2 * n_in:2 * n_in + n_units]
    a = shared[2 * n_in + n_units:2 * n_in + 2 * n_units]
    delta = shared[2 * n_in + 2 * n_units:2 * n_in + 3 * n_units]
    rates = shared[2 * n_in + 3 * n_units:2 * n_in + 3 * n_units + N_RATES]
    flag = shared[2 * n_in + 3 * n_units + N_RATES:]
    for k in range(t, N_RATES, cuda.blockDim.x):
        rates[k] = rates_in[k]
    if t == 0:
        flag[0] = 0
    _gpu_transpose_first_layer(params, m, v, first_t, m_first_t, v_first_t, layout, code, True)
    step_count = steps[network]
    total_loss = 0.0
    stopped_at = -1
    for position in range(count):
        sample = order[position]
        x = inputs[(position % 2) * n_in:(position % 2 + 1) * n_in]
        x_prev = inputs[(1 - position % 2) * n_in:(2 - position % 2) * n_in]
        for i in range(t, n_in, cuda.blockDim.x):
            x[i] = X[sample, i]
        cuda.syncthreads()
        if not _gpu_step_first_layer(params, m, v, first_t, m_first_t, v_first_t, layout, code,
                                     rates, l1, l2, delta, x_prev, x, z, position > 0, a):
            flag[0] = 1
        cuda.syncthreads()
        for layer in range(1, n_layers):
            if not _gpu_forward_layer(params, layout, layer, z, a):
                flag[0] = 1
            cuda.syncthreads()
        if t == 0:
            if out_code == SOFTMAX:
                _gpu_softmax(z[out_units:], a[out_units:], n_out)
            factor = factors[sample]
            loss = factor * _gpu_loss_and_delta(z[out_units:], a[out_units:], Y[sample], n_out,
                                                out_code, loss_code, delta[out_units:], factor,
                                                eps)
            if flag[0] != 0 or not _gpu_is_finite(loss):
                flag[0] = 1
            else:
                total_loss += loss
                step_count += 1
                if code == ADAM:  # its bias corrections change every step
                    _gpu_set_step(rates, step_count)
        cuda.syncthreads()
        if flag[0] != 0:
            stopped_at = position
            break
        for layer in range(n_layers - 1, 0, -1):
            _gpu_backprop_layer(params, layout, layer, a, delta)
            cuda.syncthreads()
            _gpu_step_layer(params, m, v, layout, layer, a, delta, code, rates, l1, l2)
    cuda.syncthreads()  # the last layer stepped has read the first layer's activations
    if stopped_at < 0 and count > 0:  # the last sample's first-layer step
        last = (count - 1) % 2
        x_last = inputs[last * n_in:(last + 1) * n_in]
        _gpu_step_first_layer(params, m, v, first_t, m_first_t, v_first_t, layout, code, rates,
                              l1, l2, delta, x_last, x_last, z, True, a)
    cuda.syncthreads()
    _gpu_transpose_first_layer(params, m, v, first_t, m_first_t, v_first_t, layout, code, False)
    if t == 0:
        steps[network] = step_count
        result[0] = total_loss
        result[1] = stopped_at
        result[2] = step_count
