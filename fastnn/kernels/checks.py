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

    A sum is non-finite exactly when a term is (or, harmlessly here, when finite terms
    overflow): one pass with no branch per element.
    """
    total = 0.0
    for value in values:
        total += value
    return math.isfinite(total)
