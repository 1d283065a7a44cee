"""The first-layer kernels that skip zero inputs, against NumPy."""

import numpy as np
import pytest

from fastnn.kernels.steps import sgd_update_affine
from fastnn.kernels.sparse_inputs import nonzero_inputs, sgd_update_affine_sparse

from .helpers import mostly_zero


def test_nonzero_inputs_lists_the_union_of_both_samples_in_order(rng):
    x_prev, x = mostly_zero(rng.normal(size=(2, 50)))
    active = np.empty(50, np.int64)
    count = nonzero_inputs(x_prev, x, active)
    np.testing.assert_array_equal(active[:count], np.flatnonzero((x_prev != 0) | (x != 0)))


@pytest.mark.parametrize("density", [0.0, 0.05, 0.2, 1.0])
def test_sparse_step_equals_the_dense_step_and_product(rng, density):
    n_out, n_in = 6, 41  # an odd count of nonzero inputs leaves one after the pairs
    weights, bias = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
    step = rng.normal(size=n_out)
    x_prev, x = mostly_zero(rng.normal(size=(2, n_in)), density=density)
    expected_weights = weights - np.outer(step, x_prev)
    expected_out = expected_weights @ x + bias - step

    weights_t, sparse_bias, out = np.ascontiguousarray(weights.T), bias.copy(), np.empty(n_out)
    sgd_update_affine_sparse(weights_t, sparse_bias, step, x_prev, x, out,
                             np.empty(n_in, np.int64))
    np.testing.assert_allclose(weights_t.T, expected_weights, rtol=0, atol=1e-14)
    np.testing.assert_allclose(sparse_bias, bias - step, rtol=0, atol=1e-14)
    np.testing.assert_allclose(out, expected_out, rtol=1e-13, atol=1e-13)

    dense_weights, dense_bias, dense_out = weights.copy(), bias.copy(), np.empty(n_out)
    sgd_update_affine(dense_weights, dense_bias, step, x_prev, x, dense_out)
    np.testing.assert_array_equal(weights_t.T, dense_weights)
    np.testing.assert_allclose(out, dense_out, rtol=1e-13, atol=1e-13)
