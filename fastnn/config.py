"""Numba settings shared by every fastnn kernel, and every tunable, kept in one place.

The fastmath set leaves out ``nnan`` and ``ninf`` so that NaN and infinity checks keep working
inside kernels; the rest lets LLVM vectorise the dot-product reductions.

The tunables are read in Python when a fit or a prediction starts and passed to the kernels as
arguments, never read inside one (a kernel freezes the globals it reads when it is compiled,
and caches them), so a test or a benchmark that sets ``fastnn.config.BLOCK_ROWS`` sees it take
effect at the next call.
"""

import functools
import types

import numba
import numpy as np

from .vector_width import VectorCompiler

FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
CACHE = True

# Work per compiled training call, in multiply-adds: about ten milliseconds, so progress bars
# move and Ctrl-C is answered promptly while the fixed cost of each call stays a few percent
# of an epoch. Re-tune with asv's EpochPerSample and EpochMiniBatch.
CHUNK_MULTIPLY_ADDS = 2**28
# Rows forwarded together in prediction and in batches too big for one pass: enough for
# efficient matrix products, few enough that the work buffers stay a few megabytes.
# Re-tune with asv's PredictProba and EpochMiniBatch.
BLOCK_ROWS = 1024
# Per-sample training skips zero inputs in the first layer (kernels/sparse_inputs.py) when at
# most this share of X is nonzero (``sparse_inputs="auto"``): below it, the skipped work pays
# for the dearer visit of each remaining input. Re-tune with scripts/bench_peers.py's "every
# input" contenders and asv's EpochPerSample against EpochPerSampleDenseInputs.
SPARSE_INPUTS_MAX_DENSITY = 0.25
# ``n_jobs`` cuts a batch into parts of at least this many rows, since smaller parts gain less
# from a second thread than they pay to synchronise it. Re-tune with asv's
# EpochMiniBatchThreads against EpochMiniBatch.
MIN_PART_ROWS = 64
# Per-sample SGD with ``n_jobs`` of 2 or more splits the first layer's rows between two threads
# when each half keeps at least this many rows; a smaller layer's halves gain less than the two
# meetings per sample cost. Re-tune with asv's EpochPerSampleTwoCores against EpochPerSample.
MIN_SPLIT_ROWS = 32


def kernel(func=None, **options):
    """Compile ``func`` as a fastnn CPU kernel (``@kernel`` or ``@kernel(inline="always")``;
    ``options`` add to Numba's settings below, or replace them).

    ``cache`` keeps the machine code on disk so a second process does not recompile;
    ``nogil`` lets independent networks train in threads; ``error_model="numpy"`` drops the
    zero-division checks that would otherwise block vectorisation; ``VectorCompiler`` lets LLVM
    use 512-bit vectors (see ``vector_width``).
    """
    if func is None:
        return functools.partial(kernel, **options)
    settings = {"cache": CACHE, "fastmath": set(FASTMATH_FLAGS), "nogil": True,
                "error_model": "numpy", "pipeline_class": VectorCompiler}
    return numba.njit(**{**settings, **options})(func)


def parallel_kernel(func):
    """``kernel``, with its ``numba.prange`` loops run on Numba's threads."""
    return kernel(func, parallel=True)


def serial_and_threaded(func):
    """``func`` compiled twice: as a ``kernel``, whose ``numba.prange`` loops run as plain
    loops, and as a ``parallel_kernel``, which runs them on Numba's threads.

    The serial compilation never starts Numba's threading layer, whose GNU OpenMP version
    aborts a forked child once the parent has run a parallel loop; so a process that only ever
    calls the serial one may fork freely. Numba's cache tells functions apart by name and
    bytecode, not by compile flags, so the threaded compilation is made from a copy of
    ``func`` named ``<name>_threaded``.
    """
    threaded = types.FunctionType(func.__code__, func.__globals__, f"{func.__name__}_threaded",
                                  func.__defaults__, func.__closure__)
    threaded.__qualname__ = f"{func.__qualname__}_threaded"
    threaded.__doc__ = func.__doc__
    return kernel(func), parallel_kernel(threaded)


def exact_kernel(func):
    """Compile ``func`` without fast-math, for code whose rounding or NaN handling matters.

    Even without ``nnan``/``ninf``, LLVM's other fast-math rewrites were seen to fold
    ``isfinite(a + b)`` to true, and reassociation undoes the exact argument reduction of
    ``exp_nonpositive``. ``fastmath=False`` is spelled out: a function that leaves it unset
    inherits its caller's fast-math flags.
    """
    return kernel(func, fastmath=False)


def _scale_into(x, out, factor):
    """``out = factor * x``: the loop ``kernel_vector_bits`` compiles."""
    for i in range(x.size):
        out[i] = factor * x[i]


def kernel_vector_bits():
    """The width in bits of the widest vector registers in a loop compiled as a ``kernel``
    now, on this machine: 512 where the CPU has AVX-512 (see ``vector_width``)."""
    probe = kernel(_scale_into, cache=False)  # Numba shows no machine code it loaded from disk
    probe(np.ones(64, np.float32), np.empty(64, np.float32), np.float32(2.0))
    (assembly,) = probe.inspect_asm().values()
    return next(bits for bits, register in ((512, "%zmm"), (256, "%ymm"), (128, "%xmm"), (0, ""))
                if register in assembly)

# The CUDA backend (fastnn/cuda/). Threads per block of the per-sample epoch, which shares each
# layer's units among them: at least a warp, and enough for the widest layers' units. The side of
# the square tiles that the mini-batch products stage in shared memory. Rows forwarded together
# when predicting on the device. Tests set all three small, so that several blocks, ragged tiles
# and several row blocks are exercised on tiny networks.
CUDA_THREADS_PER_BLOCK = 128
CUDA_TILE = 16
CUDA_BLOCK_ROWS = 65536
