"""``exp_nonpositive`` against NumPy's ``exp``, called the way the kernels call it.

The function is inlined into fast-math loops; it must keep its own strict arithmetic there
(a callee that leaves ``fastmath`` unset inherits its caller's flags, and reassociation
undoes the exact argument reduction: errors grew to 214 ulps before this was fixed).
"""

import numba
import numpy as np
import pytest

from fastnn.config import FASTMATH_FLAGS
from fastnn.kernels.activations import sigmoid
from fastnn.kernels.exponential import (
    SMALLEST_ARGUMENT,
    SMALLEST_ARGUMENT_32,
    exp_nonpositive,
    exp_nonpositive_float32,
    exp_nonpositive_float64,
)

SMALLEST = {np.float64: SMALLEST_ARGUMENT, np.float32: SMALLEST_ARGUMENT_32}


@numba.njit(fastmath=set(FASTMATH_FLAGS))
def exp_each(x, out):
    """``exp_nonpositive`` over an array, in a fast-math loop like the kernels' own."""
    for i in range(x.size):
        out[i] = exp_nonpositive(x[i])


def exp_of(x):
    """``exp_each`` into an array of ``x``'s dtype, as the kernels store their results."""
    out = np.empty(x.shape, x.dtype)
    exp_each(x, out)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_within_two_ulps_of_numpy_in_its_own_precision(rng, dtype):
    # Within 2 units in the last place of the argument's own precision, down to the smallest
    # argument whose exponential is a normal number of that precision.
    smallest = -float(SMALLEST[dtype])
    x = -np.concatenate([np.linspace(0, smallest, 200_001), rng.exponential(3, 100_000),
                         rng.random(100_000)]).astype(dtype)
    x = x[x >= SMALLEST[dtype]]
    exact = np.exp(x.astype(np.float64))
    ulps = np.abs(exp_of(x).astype(np.float64) - exact) / np.spacing(exact.astype(dtype))
    assert ulps.max() <= 2


def test_float32_arguments_take_float32_arithmetic():
    # A float64 computation rounded to float32 would be the correctly rounded value; this
    # one's own rounding differs from it for some arguments (that is what makes it float32).
    x = -np.linspace(0, 80, 10_001).astype(np.float32)
    rounded = np.exp(x.astype(np.float64)).astype(np.float32)
    assert np.any(exp_of(x) != rounded)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_edges(dtype):
    smallest = SMALLEST[dtype]
    x = np.array([0.0, -0.0, smallest, smallest - 0.5, -1e30, -np.inf, np.nan], dtype)
    out = exp_of(x)
    assert out[0] == out[1] == 1.0
    assert out[2] == pytest.approx(np.exp(np.float64(smallest)), rel=4 * float(np.finfo(dtype).eps))
    assert out[2] >= np.finfo(dtype).tiny
    np.testing.assert_array_equal(out[3:6], 0.0)  # below the normal range: flushed to zero
    assert np.isnan(out[6])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_keeps_nan_and_saturates(dtype):
    assert np.isnan(sigmoid(dtype(np.nan)))
    assert sigmoid(dtype(np.inf)) == 1.0 and sigmoid(dtype(-np.inf)) == 0.0
    assert sigmoid(dtype(-800.0)) == 0.0 and sigmoid(dtype(800.0)) == 1.0


@pytest.mark.parametrize("kernel, dtype", [(exp_nonpositive_float64, np.float64),
                                           (exp_nonpositive_float32, np.float32)])
def test_plain_python_exp_matches_the_compiled_one(kernel, dtype):
    """Run as plain Python (``NUMBA_DISABLE_JIT=1``), ``2**n`` is built from Python integers,
    which do not wrap as the compiled shift does: the results must still agree."""
    plain_exp = getattr(kernel, "py_func", kernel)  # plain already there
    smallest = SMALLEST[dtype]
    x = np.concatenate([-np.geomspace(1e-12, -float(smallest), 50),
                        [0.0, smallest, smallest - 0.5, -800.0]]).astype(dtype)
    np.testing.assert_array_equal(np.array([plain_exp(value) for value in x], dtype), exp_of(x))
    assert np.isnan(plain_exp(dtype(np.nan)))
