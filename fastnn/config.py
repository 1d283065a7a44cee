"""Numba settings shared by every fastnn kernel, kept in one place.

The fastmath set leaves out ``nnan`` and ``ninf`` so that NaN and infinity checks keep working
inside kernels; the rest lets LLVM vectorise the dot-product reductions.
"""

import numba

FASTMATH_FLAGS = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})
CACHE = True


def kernel(func):
    """Compile ``func`` as a fastnn CPU kernel.

    ``cache`` keeps the machine code on disk so a second process does not recompile;
    ``nogil`` lets independent networks train in threads; ``error_model="numpy"`` drops the
    zero-division checks that would otherwise block vectorisation.
    """
    return numba.njit(
        cache=CACHE, fastmath=set(FASTMATH_FLAGS), nogil=True, error_model="numpy"
    )(func)


def parallel_kernel(func):
    """``kernel``, with its ``numba.prange`` loops run on Numba's threads.

    Numba's GNU OpenMP threading layer cannot survive a ``fork`` once a parallel loop has run
    (the child process aborts), so a parallel kernel keeps a plain loop beside each ``prange``
    and takes it unless threads were asked for.
    """
    return numba.njit(
        cache=CACHE, fastmath=set(FASTMATH_FLAGS), nogil=True, error_model="numpy",
        parallel=True,
    )(func)


def exact_kernel(func):
    """Compile ``func`` without fast-math, for code whose rounding or NaN handling matters.

    Even without ``nnan``/``ninf``, LLVM's other fast-math rewrites were seen to fold
    ``isfinite(a + b)`` to true, and reassociation undoes the exact argument reduction of
    ``exp_nonpositive``. ``fastmath=False`` is spelled out: a function that leaves it unset
    inherits its caller's fast-math flags.
    """
    return numba.njit(cache=CACHE, fastmath=False, nogil=True, error_model="numpy")(func)
