"""Training on the GPU: device-resident buffers and the launches of ``per_sample`` and ``batches``.

``CUDATrainer`` is the CPU trainer's twin behind the same interface (``fastnn.protocol``). On
entering, it copies the inputs, targets, sample factors, parameters and optimizer state to the
device once; each epoch then sends the sample order and the rates, and the weights come back
to the network's own arrays at the end of each epoch (so callbacks and the epoch loop see
them), or on leaving an epoch cut short. Weights the host changed between epochs (a
callback's) are sent back before the next epoch trains.

``DeviceNetworks`` holds a stack of networks of one layout on the device, trained by one
per-sample launch with one block per network: one network for a ``fit``, or a whole group for
``train_many`` (``fastnn.cuda.many``).
"""

import threading
import time
import warnings

import numpy as np
from numba import cuda
from numba.cuda.core.config import ENABLE_CUDASIM

from .. import config
from .. import layout as lay
from ..protocol import Chunk, HostTrainer
from ..errors import DeviceMemoryError
from ..kernels.optimizers import LR, uses_slots
from ..kernels.views import N_IN, N_OUT
from .batches import BatchKernels, add_rows, finish_batch
from .per_sample import per_sample_kernel, shared_bytes


class _Launches:
    """Context for launches (``launches``). On a GPU, overflow gives infinity and 0/0 NaN
    silently, and both are noticed as divergence. Numba's simulator computes with NumPy
    scalars, which warn, in threads of its own that ``np.errstate`` does not reach, so their
    RuntimeWarnings are ignored instead; and since it swaps a fake ``cuda`` module into the
    kernels' modules while one runs, where host code of theirs would meet it, the device work
    of several threads (``train_many``) is done one thread at a time."""

    def __init__(self):
        self.lock, self.depth, self.quiet = threading.RLock(), 0, None

    def __enter__(self):
        if ENABLE_CUDASIM:
            self.lock.acquire()
            if self.depth == 0:
                self.quiet = warnings.catch_warnings()
                self.quiet.__enter__()
                warnings.simplefilter("ignore", RuntimeWarning)
            self.depth += 1
        return self

    def __exit__(self, *exc_info):
        if ENABLE_CUDASIM:
            self.depth -= 1
            if self.depth == 0:
                self.quiet.__exit__(*exc_info)
            self.lock.release()
        return False


launches = _Launches()


def free_device_memory():
    """Bytes of free memory on the current GPU."""
    return cuda.current_context().get_memory_info()[0]


def check_free_memory(n_bytes, doing):
    """Refuse, before anything is copied, work that needs more device memory than is free."""
    free = free_device_memory()
    if n_bytes > free:
        raise DeviceMemoryError(f"{doing} needs {n_bytes / 2**20:,.1f} MiB of GPU memory and "
                                f"{free / 2**20:,.1f} MiB are free; use a smaller batch_size or "
                                f"fewer rows at a time, or device='cpu'. Nothing was changed.")


def to_device(array):
    """``array`` copied to the device, C-ordered (an empty one as a one-element buffer, which
    a kernel that does not use it never reads)."""
    array = np.ascontiguousarray(array)
    if array.size == 0:
        array = np.zeros((*array.shape[:-1], 1) if array.ndim else 1, array.dtype)
    return cuda.to_device(array)


def chunk_samples(n_params, batch_size):
    """Samples per launch sequence: the CPU's chunk (``config.CHUNK_MULTIPLY_ADDS``)."""
    batches = config.CHUNK_MULTIPLY_ADDS // (3 * n_params * batch_size)
    return max(1, batches) * batch_size


class DeviceNetworks:
    """``len(params)`` networks of one ``layout`` on the device, trained per sample together.

    ``params``, ``m`` and ``v`` are the networks' host arrays, stacked ``(networks, n_params)``
    (``m``/``v`` of width 0 when no network uses them); ``codes`` their optimizers, ``rates``
    their ``kernels.optimizers`` rates and ``penalties`` their ``(l1, l2)``, one row each; ``X``,
    ``targets`` and ``factors`` the training set they share.
    """

    def __init__(self, layout, X, targets, factors, params, m, v, codes, rates, penalties,
                 loss_code):
        self.layout, self.loss_code = layout, loss_code
        self.dtype, n_networks = params.dtype, len(params)
        first = layout[0]
        n_first = int(first[N_IN] * first[N_OUT])
        slots = max(uses_slots(int(code)) for code in codes)
        self.d_layout = cuda.to_device(layout)
        self.d_X, self.d_targets, self.d_factors = to_device(X), to_device(targets), to_device(
            factors)
        self.d_params, self.d_m, self.d_v = to_device(params), to_device(m), to_device(v)
        self.d_first_t = cuda.device_array((n_networks, n_first), self.dtype)
        self.d_m_first_t, self.d_v_first_t = (
            cuda.device_array((n_networks, n_first if slots >= k else 1), self.dtype)
            for k in (1, 2))
        self.d_codes = cuda.to_device(np.asarray(codes, np.int64))
        self.d_rates, self.d_penalties = to_device(rates), to_device(penalties)
        self.d_steps = cuda.device_array(n_networks, np.int64)
        self.d_results = cuda.device_array((n_networks, 3), np.float64)
        self.shared_bytes = shared_bytes(layout, self.dtype)

    @staticmethod
    def bytes_needed(layout, n_rows, n_in, n_out, n_networks, dtype, slots):
        """Device memory for ``n_networks`` networks and a training set of ``n_rows``."""
        first = int(layout[0][N_IN] * layout[0][N_OUT])
        per_network = (lay.n_params(layout) * (1 + slots) + first * (1 + slots) + n_rows)
        return (n_rows * (n_in + n_out + 1) + n_networks * per_network) * np.dtype(dtype).itemsize

    def train(self, d_orders, start, counts, steps):
        """Per-sample training of network ``b`` over ``orders[b, start:start + counts[b]]``:
        one launch, one block per network. Returns each network's ``(summed loss, stop
        position or -1, steps)`` as a host array."""
        self.d_steps.copy_to_device(np.asarray(steps, np.int64))
        kernel = per_sample_kernel(self.dtype)
        kernel[len(counts), config.CUDA_THREADS_PER_BLOCK, 0, self.shared_bytes](
            self.d_params, self.d_m, self.d_v, self.d_first_t, self.d_m_first_t, self.d_v_first_t,
            self.d_layout, self.d_X, self.d_targets, self.d_factors, d_orders, start,
            cuda.to_device(np.asarray(counts, np.int64)), self.d_codes, self.d_rates,
            self.d_penalties, self.d_steps, self.loss_code, self.d_results)
        return self.d_results.copy_to_host()


class CUDATrainer(HostTrainer):
    """One ``fit`` call's training on the GPU; the arguments are ``CPUTrainer``'s.

    Per-sample training runs ``per_sample``'s kernel (one block); batches run ``batches``'
    launches. ``n_jobs`` and ``sparse_inputs`` choose CPU paths and are ignored here.
    """

    def __init__(self, params, layout, X, targets, *, loss_code, factors, optimizer, state, l1,
                 l2, batch_size, n_jobs, sparse_inputs):
        super().__init__(params, layout, X, targets, loss_code, factors, optimizer, state,
                         batch_size)
        self.penalties = np.array([l1, l2], params.dtype)
        self.per_sample = self.batch_size == 1
        self.chunk = chunk_samples(params.size, self.batch_size)
        self.device, self.row = None, 0  # the network's row of the device's stacked arrays
        self._device_ahead = False  # trained on the device since the host last had the weights
        self._inputs = {}  # validation inputs copied to the device, by id

    def __enter__(self):
        with launches:
            return self._enter()

    def _enter(self):
        slots = uses_slots(self.code)
        rows = 0 if self.per_sample else self.batch_size
        units = lay.n_units(self.layout)
        needed = DeviceNetworks.bytes_needed(self.layout, len(self.X), self.X.shape[1],
                                             self.targets.shape[1], 1, self.params.dtype, slots)
        needed += (3 * rows * units + self.params.size) * self.params.dtype.itemsize + 8 * rows
        check_free_memory(needed, f"training this network on the GPU (batch_size="
                                  f"{self.batch_size})")
        state = self.state
        self.device = DeviceNetworks(self.layout, self.X, self.targets, self.factors,
                                     self.params[None], state.m[None], state.v[None], [self.code],
                                     self.rates[None], self.penalties[None], self.loss_code)
        self._synced = self.params.copy()
        if not self.per_sample:
            self.kernels = BatchKernels(self.layout, self.device.d_layout, self.params.dtype,
                                        rows, config.CUDA_TILE, config.CUDA_THREADS_PER_BLOCK)
            self.d_Z, self.d_A, self.d_D = (cuda.device_array(rows * units, self.params.dtype)
                                            for _ in range(3))
            self.d_grad = cuda.device_array(self.params.size, self.params.dtype)
            self.d_row_losses = cuda.device_array(rows, np.float64)
            self.d_sums = cuda.device_array(1, np.float64)
            self.d_status = cuda.device_array(2, np.int64)
            self.d_result = cuda.device_array(3, np.float64)
        return self

    def __exit__(self, *exc_info):
        if self.device is not None:
            if self._device_ahead:  # stopped mid-epoch: by Ctrl-C, say
                self._pull()
            self.device = None
            self._inputs.clear()
        return False

    def _on_device(self, stacked):
        """The network's ``(1, n)`` row of one of the device's stacked arrays."""
        return stacked[self.row:self.row + 1]

    def _push(self):
        """Send the host's weights and optimizer state to the device."""
        device, state = self.device, self.state
        with launches:
            self._on_device(device.d_params).copy_to_device(self.params[None])
            for host, stacked in ((state.m, device.d_m), (state.v, device.d_v)):
                if host.size:
                    self._on_device(stacked).copy_to_device(host[None])
        self._synced[...] = self.params

    def _pull(self):
        """Bring the device's weights and optimizer state back into the host's arrays."""
        device, state = self.device, self.state
        with launches:
            self.params[...] = self._on_device(device.d_params).copy_to_host()[0]
            for host, stacked in ((state.m, device.d_m), (state.v, device.d_v)):
                if host.size:
                    host[...] = self._on_device(stacked).copy_to_host()[0]
        self._synced[...] = self.params
        self._device_ahead = False

    def epoch(self, order, lr):
        """Train one epoch over ``X[order]`` at the learning rate ``lr``, one launch (or one
        sequence of batch launches) per chunk of ``self.chunk`` samples, yielding a ``Chunk``
        after each; stops after one that diverged."""
        if not np.array_equal(self.params, self._synced):  # changed on the host since
            self._push()
        self._begin_epoch(order, lr)
        for start in range(0, len(order), self.chunk):
            count = min(self.chunk, len(order) - start)
            began = time.perf_counter()
            loss, stopped_at, steps = self._train_chunk(order, start, count, lr)
            seconds = time.perf_counter() - began
            self.state.steps, self._device_ahead = int(steps), True
            if stopped_at >= 0 or start + count == len(order):
                self._pull()
            if stopped_at >= 0:
                self.state.samples += int(stopped_at)
                yield Chunk(int(stopped_at), np.nan, seconds, start + int(stopped_at))
                return
            self.state.samples += count
            yield Chunk(count, float(loss), seconds, None)

    def _begin_epoch(self, order, lr):
        """Send the epoch's rate and order to the device."""
        self.rates[LR] = lr
        with launches:
            self.device.d_rates.copy_to_device(self.rates[None])
            self._d_orders = cuda.to_device(np.ascontiguousarray(order, np.int64)[None])

    def _train_chunk(self, order, start, count, lr):
        """``order[start:start + count]`` trained: (summed loss, stop position in the chunk
        or -1, steps)."""
        with launches:
            if self.per_sample:
                return self.device.train(self._d_orders, start, [count], [self.state.steps])[0]
            return self._train_batches(self._d_orders[0], start, count)

    def _train_batches(self, d_order, start, count):
        """Consecutive batches of ``order[start:start + count]``, each a sequence of launches;
        returns (summed loss, stop position in the chunk or -1, steps)."""
        device, kernels, dtype = self.device, self.kernels, self.params.dtype
        params, rates = device.d_params[self.row], device.d_rates[self.row]
        m, v = device.d_m[self.row], device.d_v[self.row]
        l1, l2 = (dtype.type(value) for value in self.penalties)
        self.d_status.copy_to_device(np.zeros(2, np.int64))
        self.d_result.copy_to_device(np.array([0.0, -1.0, self.state.steps]))
        X = device.d_X.reshape(device.d_X.size)
        for batch, first in enumerate(range(0, count, self.batch_size)):
            n = min(self.batch_size, count - first)
            rows = d_order[start + first:start + first + n]
            kernels.forward(self.d_status, params, X, rows, 0, n, self.d_Z, self.d_A)
            kernels.output(self.d_status, self.d_Z, self.d_A, self.d_D, self.loss_code,
                           device.d_targets, rows, device.d_factors, n, 1.0 / n,
                           self.d_row_losses)
            add_rows(self.d_row_losses, n, self.d_sums, 0, config.CUDA_THREADS_PER_BLOCK)
            finish_batch[1, 1](self.d_status, self.d_sums, first, self.state.steps + batch + 1,
                               self.code, rates, self.d_result)
            kernels.backward(self.d_status, params, X, rows, n, self.d_A, self.d_D, self.d_grad)
            kernels.step(self.d_status, params, self.d_grad, m, v, self.code, rates, l1, l2)
        return self.d_result.copy_to_host()

    def restore(self, snapshot):
        super().restore(snapshot)
        self._push()

    def _device_inputs(self, X):
        """``X`` on the device: the training inputs already there, others copied once."""
        if X is self.X:
            return self.device.d_X
        if id(X) not in self._inputs:
            self._inputs[id(X)] = X, to_device(X)
        return self._inputs[id(X)][1]

    def outputs(self, X):
        return self.loss_and_outputs(X, None)[1]

    def loss_and_outputs(self, X, targets):
        with launches:
            return self._loss_and_outputs(X, targets)

    def _loss_and_outputs(self, X, targets):
        d_targets = None if targets is None else self._device_inputs(targets)
        device = self.device
        total, out = _forward_blocks(device.d_params[self.row], self.layout, device.d_layout,
                                     self._device_inputs(X), len(X), d_targets, self.loss_code)
        return (None if targets is None else total / len(X)), out

    @classmethod
    def predict(cls, params, layout, X):
        with launches:
            return _predict(params, layout, X)


def _predict(params, layout, X):
    """``CUDATrainer.predict``: ``X`` copied to the device ``config.CUDA_BLOCK_ROWS`` rows at a
    time."""
    rows = min(len(X), config.CUDA_BLOCK_ROWS)
    check_free_memory((params.size + rows * (X.shape[1] + 3 * lay.n_units(layout)))
                      * params.dtype.itemsize, f"predicting {len(X):,} rows on the GPU")
    out = np.empty((len(X), layout[-1][N_OUT]), params.dtype)
    d_params, d_layout = cuda.to_device(params), cuda.to_device(layout)
    for first in range(0, len(X), rows):
        block = X[first:first + rows]
        out[first:first + len(block)] = _forward_blocks(d_params, layout, d_layout,
                                                        to_device(block), len(block), None, 0)[1]
    return out


def _forward_blocks(d_params, layout, d_layout, d_X, n_rows, d_targets, loss_code):
    """Output activations of the ``n_rows`` rows of ``d_X``, forwarded ``config.CUDA_BLOCK_ROWS``
    at a time, and, with ``d_targets``, their summed loss (else None); the caller holds
    ``launches``."""
    dtype = d_params.dtype
    rows = max(1, min(n_rows, config.CUDA_BLOCK_ROWS))
    kernels = BatchKernels(layout, d_layout, dtype, rows, config.CUDA_TILE,
                           config.CUDA_THREADS_PER_BLOCK)
    d_Z, d_A, d_D = (cuda.device_array(rows * lay.n_units(layout), dtype) for _ in range(3))
    d_status = cuda.to_device(np.zeros(2, np.int64))  # a non-finite output is reported as is
    d_row_losses, d_sums = cuda.device_array(rows, np.float64), cuda.device_array(1, np.float64)
    out = np.empty((n_rows, layout[-1][N_OUT]), dtype)
    X, total = d_X.reshape(d_X.size), 0.0
    for first in range(0, n_rows, rows):
        n = min(rows, n_rows - first)
        kernels.forward(d_status, d_params, X, kernels.no_rows, first, n, d_Z, d_A)
        if d_targets is not None:
            kernels.output(d_status, d_Z, d_A, d_D, loss_code, d_targets[first:first + n],
                           kernels.no_rows, kernels.no_factors, n, 1.0, d_row_losses)
            add_rows(d_row_losses, n, d_sums, 0, config.CUDA_THREADS_PER_BLOCK)
            total += float(d_sums.copy_to_host()[0])
        out[first:first + n] = kernels.outputs_block(d_A, n).copy_to_host().reshape(n, -1)
    return (total if d_targets is not None else None), out
