"""Mini-batch, full-batch and prediction kernels on the GPU, over device-resident buffers.

A batch of ``n`` rows is forwarded layer by layer into the batch buffers ``Z``, ``A`` and
``D`` (pre-activations, activations and deltas), which hold layer ``l``'s block of ``(rows,
n_out)`` units at ``rows * UNIT_START[l]``, as the CPU's batch buffers do (``kernels.views``).
Every product (forward, back-propagation, weight gradient) is one tiled kernel, ``product``,
that stages square tiles of its operands in shared memory; each output element is summed by
one thread in index order, so the results do not depend on the launch and need no atomics.
The rows of the first layer's input are read through the epoch's order, so no batch is
gathered.

Shared memory is dynamic (sized at launch) throughout: Numba's simulator gives every thread of
a block the same dynamic buffer, whereas it makes a static shared array when the first thread
asks for it, unlocked, so two threads could be handed different arrays.

A training batch runs as a sequence of launches on one stream. ``status[0]`` set means that
an earlier batch of the call diverged: every later launch returns at once, so the host reads
the outcome once per call (``result``: summed loss, the diverging batch's start or -1, steps).
"""

import functools

import numba
import numpy as np
from numba import cuda

from ..kernels.activations import SOFTMAX
from ..kernels.optimizers import ADAM
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

# What ``product`` does with a finished sum (see ``product_kernel``).
FORWARD, BACKPROP, GRADIENT = range(3)


@cuda.jit(device=True)
def _gpu_operand(array, offset, rows, row, row_stride, column, column_stride, inside):
    """Element ``(row, column)`` of a strided operand of ``product`` (``row`` through ``rows``
    when it is not empty), or 0 outside it (``inside`` false), which pads a ragged tile."""
    if not inside:
        return 0.0
    if rows.size > 0:
        row = rows[row]
    return array[offset + row * row_stride + column * column_stride]


@functools.cache
def product_kernel(dtype, tile):
    """``out[p, q] = sum_k A[p, k] * B[k, q]`` in ``tile``-square tiles of shared memory, for
    ``dtype``, with what ``mode`` does with each finished sum:

    - ``FORWARD``: ``z = sum + bias[q]`` into ``out`` and, for an element-wise activation
      ``code``, ``f(z)`` into ``twin``; a non-finite ``z`` sets ``status[1]``;
    - ``BACKPROP``: ``sum * f'`` into ``out``, with ``f'`` from the activations in ``twin``;
    - ``GRADIENT``: the sum.

    The operands are flat arrays read with strides: ``A[p, k] = a[a_off + row(p) * a_sp + k *
    a_sk]`` and ``B[k, q] = b[b_off + row(k) * b_sk + q * b_sq]``, where ``row`` goes through
    ``a_rows`` (or ``b_rows``) when it is not empty; ``out[p, q]`` is ``out[out_off + p *
    out_sp + q]``.
    """
    shared_type = numba.from_dtype(np.dtype(dtype))
    zero = np.dtype(dtype).type(0)

    @cuda.jit
    def product(status, a, a_off, a_rows, a_sp, a_sk, b, b_off, b_rows, b_sk, b_sq, P, Q, K,
                out, out_off, out_sp, mode, bias, bias_off, code, twin):
        if status[0] != 0:
            return
        tiles = cuda.shared.array(0, shared_type)  # launched with 2 * tile * tile elements
        a_tile, b_tile = tiles[:tile * tile], tiles[tile * tile:]
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        p, q = cuda.blockIdx.y * tile + ty, cuda.blockIdx.x * tile + tx
        total = zero
        for k0 in range(0, K, tile):
            a_tile[ty * tile + tx] = _gpu_operand(a, a_off, a_rows, p, a_sp, k0 + tx, a_sk,
                                                  p < P and k0 + tx < K)
            b_tile[ty * tile + tx] = _gpu_operand(b, b_off, b_rows, k0 + ty, b_sk, q, b_sq,
                                                  k0 + ty < K and q < Q)
            cuda.syncthreads()
            for kk in range(min(tile, K - k0)):
                total += a_tile[ty * tile + kk] * b_tile[kk * tile + tx]
            cuda.syncthreads()
        if p < P and q < Q:
            o = out_off + p * out_sp + q
            if mode == FORWARD:
                z = total + bias[bias_off + q]
                out[o] = z
                if code != SOFTMAX:
                    twin[o] = _gpu_activation(z, code)
                if not _gpu_is_finite(z):
                    status[1] = 1
            elif mode == BACKPROP:
                out[o] = _gpu_scaled_by_derivative(total, twin[o], code)
            else:
                out[o] = total

    return product


@cuda.jit
def softmax_rows(status, z, a, off, n_out, n):
    """The softmax of each of ``n`` rows of an output layer's pre-activations, one per thread."""
    r = cuda.grid(1)
    if status[0] != 0 or r >= n:
        return
    lo, hi = off + r * n_out, off + (r + 1) * n_out
    _gpu_softmax(z[lo:hi], a[lo:hi], n_out)


@functools.cache
def output_kernel(dtype):
    """The per-row output kernel for ``dtype``: ``row_losses[r]``, the weighted loss of row
    ``r``, and ``inv_n * factor`` times its output delta (``factors`` empty: weight 1)."""
    eps = np.finfo(dtype).eps

    @cuda.jit
    def output_rows(status, z, a, d, off, n_out, out_code, loss_code, Y, rows, factors, n,
                    inv_n, row_losses):
        r = cuda.grid(1)
        if status[0] != 0 or r >= n:
            return
        lo, hi = off + r * n_out, off + (r + 1) * n_out
        row = rows[r] if rows.size > 0 else r
        factor = factors[row] if factors.size > 0 else 1.0
        row_losses[r] = factor * _gpu_loss_and_delta(z[lo:hi], a[lo:hi], Y[row], n_out, out_code,
                                                     loss_code, d[lo:hi], inv_n * factor, eps)

    return output_rows


def add_rows(values, n, sums, index, threads):
    """``sums[index] = sum(values[:n])`` for ``n`` float64 values, by ``sum_rows`` on one block
    of the largest power of two of threads up to ``threads``."""
    threads = 1 << (threads.bit_length() - 1)
    sum_rows[1, threads, 0, threads * 8](values, n, sums, index)


@cuda.jit
def sum_rows(values, n, sums, index):
    """``sums[index] = sum(values[:n])`` by one block, whose size is a power of two: strided
    partial sums, then a tree in shared memory, always paired alike."""
    partial = cuda.shared.array(0, numba.float64)  # one element per thread
    t, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    total = 0.0
    for k in range(t, n, n_threads):
        total += values[k]
    partial[t] = total
    cuda.syncthreads()
    width = n_threads // 2
    while width > 0:
        if t < width:
            partial[t] += partial[t + width]
        cuda.syncthreads()
        width //= 2
    if t == 0:
        sums[index] = partial[0]


@cuda.jit
def finish_batch(status, sums, start, step, code, rates, result):
    """After a batch's loss: stop the call if it or a pre-activation is not finite (the batch
    takes no step), else count the loss and the step and set Adam's corrections for it."""
    if status[0] != 0:
        return
    loss = sums[0]
    if status[1] != 0 or not _gpu_is_finite(loss):
        status[0] = 1
        result[1] = start
        return
    result[0] += loss
    result[2] = step
    if code == ADAM:
        _gpu_set_step(rates, step)


@cuda.jit
def bias_gradient(status, d, off, n_out, n, grad, b_start):
    """``grad[b_start + j] = sum_r D[r, j]`` over the batch's ``n`` rows, in row order."""
    j = cuda.grid(1)
    if status[0] != 0 or j >= n_out:
        return
    total = d[off + j]
    for r in range(1, n):
        total += d[off + r * n_out + j]
    grad[b_start + j] = total


@cuda.jit
def step_params(status, params, grad, m, v, layout, code, rates, l1, l2):
    """One step of optimizer ``code`` on every parameter, its weights' gradients penalised."""
    k = cuda.grid(1)
    if status[0] != 0 or k >= params.size:
        return
    g = grad[k]
    for layer in range(layout.shape[0]):
        if layout[layer, W_START] <= k < layout[layer, B_START]:
            g = _gpu_penalised(g, params[k], l1, l2)
    params[k] = _gpu_updated(code, params[k], g, m, v, k, rates)


def blocks_for(n, threads):
    return max(1, -(-n // threads))


class BatchKernels:
    """The launches of one layout's batch work: forward, loss, back-propagation and step.

    ``layout`` is the host table (its offsets are launch arguments) and ``d_layout`` its device
    copy; ``rows`` the row capacity of the batch buffers; ``tile`` and ``threads`` the product
    tiles' side and the other kernels' block size (``fastnn.config``).
    """

    def __init__(self, layout, d_layout, dtype, rows, tile, threads):
        self.layout, self.d_layout, self.rows = layout, d_layout, rows
        self.tile, self.threads = tile, threads
        self.itemsize = np.dtype(dtype).itemsize
        self.product = product_kernel(np.dtype(dtype), tile)
        self.output_rows = output_kernel(np.dtype(dtype))
        self.no_rows = cuda.to_device(np.zeros(0, np.int64))
        self.no_factors = cuda.to_device(np.zeros(0, dtype))

    def _product(self, status, n_p, n_q, n_k, *operands):
        """``product`` of ``(n_p, n_k)`` by ``(n_k, n_q)``: ``operands`` are its arguments after
        ``status``, less the sizes (the two operands' ten, then the output's and the mode's)."""
        grid = (blocks_for(n_q, self.tile), blocks_for(n_p, self.tile))
        shared = 2 * self.tile * self.tile * self.itemsize
        self.product[grid, (self.tile, self.tile), 0, shared](
            status, *operands[:10], n_p, n_q, n_k, *operands[10:])

    def _block(self, layer):
        """Offset of ``layer``'s units in the batch buffers."""
        return self.rows * int(self.layout[layer][UNIT_START])

    def forward(self, status, params, X, rows, first_row, n, Z, A):
        """Forward ``n`` rows of the flat ``X`` (through ``rows`` when not empty, else from
        ``first_row``) into ``Z`` and ``A``."""
        n_in = int(self.layout[0][N_IN])
        a, a_off, a_sp = X, first_row * n_in, n_in
        for layer, row in enumerate(self.layout):
            w_start, b_start, n_in, n_out, code = (int(row[k]) for k in (
                W_START, B_START, N_IN, N_OUT, ACTIVATION))
            self._product(status, n, n_out, n_in, a, a_off, rows, a_sp, 1, params, w_start,
                          self.no_rows, 1, n_in, Z, self._block(layer), n_out, FORWARD, params,
                          b_start, code, A)
            a, a_off, a_sp, rows = A, self._block(layer), n_out, self.no_rows
        if code == SOFTMAX:
            softmax_rows[blocks_for(n, self.threads), self.threads](status, Z, A, a_off, n_out, n)

    def outputs_block(self, A, n):
        """The output layer's ``(n, n_out)`` activations in the batch buffer ``A``."""
        n_out = int(self.layout[-1][N_OUT])
        start = self._block(len(self.layout) - 1)
        return A[start:start + n * n_out]

    def output(self, status, Z, A, D, loss_code, Y, rows, factors, n, inv_n, row_losses):
        """The output layer's row losses and deltas (``factors`` empty: unweighted)."""
        last = self.layout[-1]
        self.output_rows[blocks_for(n, self.threads), self.threads](
            status, Z, A, D, self._block(len(self.layout) - 1), int(last[N_OUT]), int(last[ACTIVATION]),
            loss_code, Y, rows, factors, n, inv_n, row_losses)

    def backward(self, status, params, X, rows, n, A, D, grad):
        """The batch's gradient into ``grad``, from the output deltas in ``D``."""
        for layer in range(len(self.layout) - 1, -1, -1):
            row = self.layout[layer]
            w_start, b_start, n_in, n_out = (int(row[k]) for k in (W_START, B_START, N_IN, N_OUT))
            if layer == 0:
                inputs, in_off, in_rows = X, 0, rows
            else:
                inputs, in_off, in_rows = A, self._block(layer - 1), self.no_rows
            self._product(status, n_out, n_in, n, D, self._block(layer), self.no_rows, 1, n_out,
                          inputs, in_off, in_rows, n_in, 1, grad, w_start, n_in, GRADIENT,
                          params, 0, 0, A)
            bias_gradient[blocks_for(n_out, self.threads), self.threads](
                status, D, self._block(layer), n_out, n, grad, b_start)
            if layer > 0:
                code_in = int(self.layout[layer - 1][ACTIVATION])
                self._product(status, n, n_in, n_out, D, self._block(layer), self.no_rows, n_out,
                              1, params, w_start, self.no_rows, n_in, 1, D,
                              self._block(layer - 1), n_in, BACKPROP, params, 0, code_in, A)

    def step(self, status, params, grad, m, v, code, rates, l1, l2):
        step_params[blocks_for(params.size, self.threads), self.threads](
            status, params, grad, m, v, self.d_layout, code, rates, l1, l2)
