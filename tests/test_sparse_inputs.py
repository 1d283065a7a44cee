"""The first-layer kernels that skip zero inputs, against NumPy."""

import numpy as np
import pytest

from fastnn.kernels.steps import sgd_update_affine
from fastnn.kernels.sparse_inputs import nonzero_inputs, sgd_update_affine_sparse, transpose_into

from .helpers import mostly_zero


def test_nonzero_inputs_lists_the_nonzero_indices_in_order(rng):
    x = mostly_zero(rng.normal(size=50))
    buffer = np.full(50, -1, np.int64)
    np.testing.assert_array_equal(nonzero_inputs(x, buffer), np.flatnonzero(x))


# The two samples share none, some or all of their nonzero inputs; with every input nonzero,
# 40 to 43 of them, 0 to 3 rows are left after the blocks of four.
@pytest.mark.parametrize("density, n_in", [(0.0, 41), (0.05, 41), (0.2, 41), (0.5, 43),
                                           (1.0, 40), (1.0, 41), (1.0, 42), (1.0, 43)])
def test_sparse_step_equals_the_dense_step_and_product(rng, density, n_in):
    n_out = 6
    weights, bias = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    step = rng.normal(size=n_out)
    x_prev, x = mostly_zero(rng.normal(size=(2, n_in)), density=density)
    expected_weights = weights - np.outer(step, x_prev)
    expected_out = expected_weights @ x + bias - step

    weights_t, sparse_bias, out = np.ascontiguousarray(weights.T), bias.copy(), np.empty(n_out)
    buffers = np.empty((3, n_in), np.int64)
    inputs_prev = nonzero_inputs(x_prev, buffers[0])
    inputs = sgd_update_affine_sparse(weights_t, sparse_bias, step, x_prev, inputs_prev, x,
                                      buffers[1], buffers[2], out)
    np.testing.assert_array_equal(inputs, np.flatnonzero(x))
    np.testing.assert_allclose(weights_t.T, expected_weights, rtol=0, atol=1e-14)
    np.testing.assert_allclose(sparse_bias, bias - step, rtol=0, atol=1e-14)
    np.testing.assert_allclose(out, expected_out, rtol=1e-13, atol=1e-13)

    dense_weights, dense_bias, dense_out = weights.copy(), bias.copy(), np.empty(n_out)
    sgd_update_affine(dense_weights, dense_bias, step, x_prev, x, dense_out)
    np.testing.assert_array_equal(weights_t.T, dense_weights)
    np.testing.assert_allclose(out, dense_out, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (8, 5), (19, 12)])
def test_transpose_into_writes_the_transpose(rng, shape):
    # Row counts below, at and around multiples of the eight rows read at a time.
    source = rng.normal(size=shape)
    out = np.empty(shape[::-1])
    transpose_into(source, out)
    np.testing.assert_array_equal(out, source.T)
