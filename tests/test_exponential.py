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
from fastnn.kernels.exponential import exp_nonpositive


@numba.njit(fastmath=set(FASTMATH_FLAGS))
def exp_each(x, out):
    """``exp_nonpositive`` over an array, in a fast-math loop like the kernels' own."""
    for i in range(x.size):
        out[i] = exp_nonpositive(x[i])


def exp_of(x):
    out = np.empty(x.shape, np.float64)
    exp_each(x, out)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_within_two_ulps_of_numpy(rng, dtype):
    x = -np.concatenate([np.linspace(0, 708, 200_001), rng.exponential(3, 100_000),
                         rng.random(100_000)]).astype(dtype)
    exact = np.exp(x.astype(np.float64))
    ulps = np.abs(exp_of(x) - exact) / np.spacing(exact)
    assert ulps.max() <= 2


def test_edges():
    x = np.array([0.0, -0.0, -708.0, -708.5, -1e300, -np.inf, np.nan])
    out = exp_of(x)
    assert out[0] == out[1] == 1.0
    assert out[2] == pytest.approx(np.exp(-708.0), rel=1e-15)
    np.testing.assert_array_equal(out[3:6], 0.0)  # below the normal range: flushed to zero
    assert np.isnan(out[6])


def test_sigmoid_keeps_nan_and_saturates():
    assert np.isnan(sigmoid(np.nan))
    assert sigmoid(np.inf) == 1.0 and sigmoid(-np.inf) == 0.0
    assert sigmoid(-800.0) == 0.0 and sigmoid(800.0) == 1.0


def test_plain_python_exp_matches_the_compiled_one():
    """Run as plain Python (``NUMBA_DISABLE_JIT=1``), ``2**n`` is built from Python integers,
    which do not wrap at 64 bits as the compiled shift does: the results must still agree."""
    plain_exp = getattr(exp_nonpositive, "py_func", exp_nonpositive)  # plain already there
    x = np.concatenate([-np.geomspace(1e-12, 707.9, 50), [0.0, -708.0, -708.5, -800.0]])
    np.testing.assert_array_equal([plain_exp(value) for value in x], exp_of(x))
    assert np.isnan(plain_exp(np.nan))
