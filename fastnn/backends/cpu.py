"""Training on the CPU: the kernels of ``fastnn.kernels``, their work buffers and chunking.

``CPUTrainer`` trains the network's own parameter vector and optimizer state in place. It
chooses between the epoch kernels: fused per-sample plain SGD (over every input, on one thread
or with the first layer split between two, or skipping zero inputs in the first layer), fused
per-sample steps of the other optimizers, and mini-batch steps, serial or with each batch's
parts on Numba's threads.
"""

import concurrent.futures
import contextlib
import time

import numba
import numpy as np

from .. import config
from .. import layout as lay
from ..kernels import (
    loss_rows,
    predict_rows,
    train_minibatch,
    train_minibatch_threaded,
    train_per_sample,
    train_per_sample_optimizer,
    train_per_sample_part,
)
from ..kernels.optimizers import LR, SGD, l1_or_none, set_lr
from ..kernels.views import N_OUT
from ..memory import aligned_empty
from ..threads import fits_keep_to_one_core, one_blas_thread
from ..protocol import Chunk, HostTrainer


def kernel_errors():
    """Context for a kernel call: compiled kernels let overflow give infinity and 0/0 NaN (their
    error model), and notice both; run as plain Python (``NUMBA_DISABLE_JIT=1``) they compute
    with NumPy scalars, which would also warn. Silencing NumPy keeps the two alike."""
    return np.errstate(all="ignore")


def threads_for(n_jobs):
    """``n_jobs`` as a number of threads: None is 1, -1 is Numba's ``NUMBA_NUM_THREADS``."""
    if n_jobs is None:
        return 1
    return numba.config.NUMBA_NUM_THREADS if n_jobs == -1 else int(n_jobs)


def nonzero_share(X, rows=256):
    """Share of nonzero entries in about ``rows`` evenly spaced rows of ``X``: a sample, since
    counting every entry of a large ``X`` costs a noticeable part of an epoch."""
    sample = X[::max(1, len(X) // rows)]
    # Counted as booleans: NumPy counts a strided float array's nonzeros three times slower.
    return np.count_nonzero(sample != 0) / max(1, sample.size)


def skips_zero_inputs(sparse_inputs, share):
    """Whether per-sample training leaves zero inputs out of the first layer's work: the
    ``sparse_inputs`` setting, with ``"auto"`` decided by ``share``, the inputs' nonzero share
    (``nonzero_share``)."""
    if sparse_inputs == "auto":
        return bool(share <= config.SPARSE_INPUTS_MAX_DENSITY)
    return bool(sparse_inputs)


def two_core_split(layout, threads):
    """Where per-sample SGD on ``threads`` threads splits the first layer's rows between two
    (a multiple of 4 near half), or 0 to train on one: one thread asked for, or halves
    smaller than ``config.MIN_SPLIT_ROWS``."""
    split = int(layout[0][N_OUT]) // 8 * 4
    return split if threads >= 2 and split >= config.MIN_SPLIT_ROWS else 0


def block_buffers(layout, dtype, count, rows, sets=None):
    """``count`` work buffers, each holding every layer's units for ``rows`` samples
    (``sets`` such buffers, one per row, when given)."""
    size = rows * lay.n_units(layout)
    shape = size if sets is None else (sets, size)
    return [np.empty(shape, dtype) for _ in range(count)]


def gradient_buffers(params, sets):
    """``batch_gradient``'s outputs for ``sets`` sets of work buffers: the gradient, and each
    part's gradient and loss."""
    return (np.empty_like(params), np.empty((sets, params.size), params.dtype),
            np.empty(sets))


def runs_threaded(sets):
    """Whether ``sets`` sets of work buffers are worth the threaded compilation of a kernel."""
    return sets > 1 and numba.get_num_threads() > 1


class CPUTrainer(HostTrainer):
    """One ``fit`` call's training on the CPU, with every buffer allocated once.

    ``params`` and the optimizer's ``state`` (an ``optimizers.OptimizerState`` whose arrays
    match ``params``) are trained in place. The settings are plain values: ``loss_code`` from
    ``kernels.losses.LOSSES``, ``factors`` (each sample's weight, see ``kernels.epochs``),
    ``optimizer`` (its ``code`` from ``kernels.optimizers`` and its ``momentum``, ``beta_1``,
    ``beta_2`` and ``epsilon``, and optionally its ``adam_form``), ``batch_size`` (None for
    full batch), ``n_jobs`` as ``Network`` takes it, and ``sparse_inputs`` (``"auto"``, True or
    False). Its methods are those of ``fastnn.protocol.Trainer``.

    With ``sum_squares``, ``squares[0]`` adds up the squared weights each step starts from (see
    ``kernels.epochs``), for scikit-learn's penalised loss; ``l1`` and ``l2`` may be changed
    between epochs (scikit-learn's ``alpha`` is divided by each batch's rows).
    """

    def __init__(self, params, layout, X, targets, *, loss_code, factors, optimizer, state, l1,
                 l2, batch_size, n_jobs, sparse_inputs, sum_squares=False):
        super().__init__(params, layout, X, targets, loss_code, factors, optimizer, state,
                         batch_size)
        dtype, n_samples = params.dtype, len(X)
        self.squares = np.zeros(1) if sum_squares else None
        self.set_penalties(l1, l2)
        self.per_sample = self.batch_size == 1
        # Plain, unpenalised per-sample SGD has kernels of its own (zero skipping among them).
        self.plain_sgd = self.per_sample and self.code == SGD and l1 == 0 and l2 == 0
        self.sets = 1 if self.per_sample else threads_for(n_jobs)
        self.z, self.a, self.delta = block_buffers(
            layout, dtype, 3, min(self.batch_size, config.BLOCK_ROWS), self.sets)
        share = nonzero_share(X) if self.plain_sgd else 1.0
        self.sparse_inputs = self.plain_sgd and skips_zero_inputs(sparse_inputs, share)
        threads = 1 if fits_keep_to_one_core() else threads_for(n_jobs)
        self.split = two_core_split(layout, threads) if (
            self.plain_sgd and not self.sparse_inputs) else 0
        n_in, n_out = X.shape[1], layout[0][N_OUT]
        self.first_t = aligned_empty((n_in, n_out) if self.sparse_inputs else (0, 0), dtype)
        self.active = np.empty((3, n_in if self.sparse_inputs else 0), np.int64)
        if not self.per_sample:
            staged = 0 if self.batch_size == n_samples else self.batch_size  # used in place
            self.X_batch = np.empty((staged, X.shape[1]), dtype)
            self.targets_batch = np.empty((staged, targets.shape[1]), dtype)
            self.factors_batch = np.empty(staged, dtype)
            self.grad, self.part_grads, self.part_losses = gradient_buffers(params, self.sets)
            self.min_part_rows = config.MIN_PART_ROWS
        # A forward, a backward and an update pass over every parameter; zero skipping leaves
        # the first layer's zero inputs out of its passes, and the chunk grows to match.
        skipped = (1 - share) * n_in * n_out if self.sparse_inputs else 0
        work_per_sample = 3 * (params.size - skipped)
        batches_per_chunk = int(config.CHUNK_MULTIPLY_ADDS // (work_per_sample * self.batch_size))
        self.chunk = max(1, batches_per_chunk) * self.batch_size
        self._held = contextlib.ExitStack()

    def set_penalties(self, l1, l2):
        """Use the penalties ``l1`` and ``l2`` from the next epoch on."""
        dtype = self.params.dtype
        self.l1, self.l2 = l1_or_none(l1, dtype), dtype.type(l2)

    def __enter__(self):
        self._held.enter_context(one_blas_thread())
        if self.split:
            self._partner = self._held.enter_context(concurrent.futures.ThreadPoolExecutor(1))
        return self

    def __exit__(self, *exc_info):
        self._held.close()
        return False

    def epoch(self, order, lr):
        """Train one epoch over ``X[order]`` at the learning rate ``lr``, one compiled call per
        chunk of ``self.chunk`` samples, yielding a ``Chunk`` after each; stops after one that
        diverged."""
        set_lr(self.rates, lr)
        for start in range(0, len(order), self.chunk):
            rows = order[start:start + self.chunk]
            began = time.perf_counter()
            with kernel_errors():
                loss, stopped_at, steps = self._train(rows, order[start - 1] if start else -1)
            seconds = time.perf_counter() - began
            self.state.steps = int(steps)
            if stopped_at >= 0:
                self.state.samples += int(stopped_at)
                yield Chunk(int(stopped_at), np.nan, seconds, start + int(stopped_at))
                return
            self.state.samples += len(rows)
            yield Chunk(len(rows), float(loss), seconds, None)

    def _train(self, rows, previous):
        """One compiled call over the samples ``X[rows]``, after the row ``previous`` (-1 at the
        epoch's start): (summed loss, stop position or -1, optimizer steps taken in all)."""
        state = self.state
        if self.split:
            loss, stopped_at = self._train_on_two_cores(rows)
            return loss, stopped_at, state.steps + (len(rows) if stopped_at < 0 else stopped_at)
        if self.plain_sgd:
            loss, stopped_at = train_per_sample(
                self.params, self.layout, self.X, self.targets, self.factors, rows,
                self.rates[LR], self.loss_code, self.z[0], self.a[0], self.delta[0], self.first_t,
                self.active, previous)
            return loss, stopped_at, state.steps + (len(rows) if stopped_at < 0 else stopped_at)
        if self.per_sample:
            return train_per_sample_optimizer(
                self.params, self.layout, self.X, self.targets, self.factors, rows, self.code,
                self.rates, state.steps, self.l1, self.l2, state.m, state.v, self.loss_code,
                self.z[0], self.a[0], self.delta[0], self.squares)
        kernel = train_minibatch_threaded if runs_threaded(self.sets) else train_minibatch
        return kernel(self.params, self.layout, self.X, self.targets, self.factors, rows,
                      self.code, self.rates, state.steps, self.l1, self.l2, state.m, state.v,
                      self.loss_code, self.batch_size, self.min_part_rows, self.X_batch,
                      self.targets_batch, self.factors_batch, self.z, self.a, self.delta,
                      self.grad, self.part_grads, self.part_losses, self.squares)

    def _train_on_two_cores(self, rows):
        """``train_per_sample`` over ``X[rows]`` as two threads, this one and the partner, each
        stepping its share of the first layer (``kernels.epochs.train_per_sample_part``)."""
        flags = np.zeros(3, np.int64)
        arguments = (self.params, self.layout, self.X, self.targets, self.factors, rows,
                     self.rates[LR], self.loss_code, self.z[0], self.a[0], self.delta[0])
        partner = self._partner.submit(train_per_sample_part, *arguments, 1, self.split, flags)
        with kernel_errors():
            loss, stopped_at = train_per_sample_part(*arguments, 0, self.split, flags)
        partner.result()
        return loss, stopped_at

    def outputs(self, X):
        return self.predict(self.params, self.layout, X)

    def loss_and_outputs(self, X, targets):
        out = _outputs_buffer(self.params, self.layout, X)
        with kernel_errors():
            total = loss_rows(self.params, self.layout, X, targets, self.loss_code,
                              *block_buffers(self.layout, self.params.dtype, 3, config.BLOCK_ROWS),
                              out)
        return total / len(X), out

    @classmethod
    def predict(cls, params, layout, X):
        out = _outputs_buffer(params, layout, X)
        with kernel_errors():
            predict_rows(params, layout, X,
                         *block_buffers(layout, params.dtype, 2, config.BLOCK_ROWS), out)
        return out


def _outputs_buffer(params, layout, X):
    """An uninitialised ``(len(X), n_outputs)`` array for output activations."""
    return np.empty((len(X), layout[-1][N_OUT]), dtype=params.dtype)
