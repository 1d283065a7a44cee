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


def exact_kernel(func):
    """Compile ``func`` without fast-math, for checks that must see infinities and NaN.

    Even without ``nnan``/``ninf``, LLVM's other fast-math rewrites were seen to fold
    ``isfinite(a + b)`` to true; checks for divergence are compiled strictly instead.
    """
    return numba.njit(cache=CACHE, nogil=True)(func)
