"""Checks for infinite and NaN values, compiled without fast-math (see ``exact_kernel``)."""

import math

from ..config import exact_kernel


@exact_kernel
def is_finite(value):
    """True when ``value`` is neither infinite nor NaN."""
    return math.isfinite(value)


@exact_kernel
def all_finite(values):
    """True when no element of the 1-D ``values`` is infinite or NaN.

    A comparison per element (false for NaN) and-ed together: no branch per element, and,
    unlike a sum, no ordered floating-point chain, so the loop vectorises without fast-math.
    The loop runs over indices: over the array's iterator it stayed one element at a time.
    """
    finite = True
    for k in range(values.size):
        finite &= abs(values[k]) < math.inf
    return finite
