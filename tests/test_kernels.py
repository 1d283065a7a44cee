"""Each kernel formula on its own against the NumPy oracle (fastnn/naive.py): activations and
their derivatives, losses and output deltas, dense layers forward and back, and plain SGD's
fused steps (the other optimizers' are in test_optimizer_kernels.py).

Inputs are drawn across the ranges the formulas must survive (saturated sigmoids, softmax
arguments hundreds apart), and every comparison is to float64 rounding.
"""

import platform

import numba
import numpy as np
import pytest
from sklearn.neural_network import _base as sklearn_losses

from fastnn import Network, naive
from fastnn.kernels import (
    activate,
    affine,
    affine_rows,
    all_finite,
    backprop_sgd_update,
    block_gradient,
    forward_layers,
    forward_rows,
    log_sum_exp,
    loss_and_delta,
    scale_by_derivative,
    sgd_update_affine,
    softmax,
)
from fastnn.kernels.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from fastnn.kernels.losses import CLIPPED_BINARY_CROSS_ENTROPY, CLIPPED_CROSS_ENTROPY, LOSSES
from fastnn.kernels.prefetch import prefetch_row
from fastnn.layout import n_units

from .helpers import make_data, oracle_activations

ALL_ACTIVATIONS = {**HIDDEN_ACTIVATIONS, **OUTPUT_ACTIVATIONS}
# (output activation, loss) pairs with a gradient, and how many output units to try.
HEADS = [("softmax", "cross_entropy", 4), ("sigmoid", "binary_cross_entropy", 3),
         ("identity", "squared_error", 3), ("sigmoid", "squared_error", 3),
         ("softmax", "squared_error", 4), ("sigmoid", "binary_cross_entropy", 1)]


def pre_activations(rng, n):
    """``n`` values from every regime: near zero, moderate, saturating and extreme."""
    return np.concatenate([rng.normal(size=n), rng.normal(scale=30, size=n),
                           [0.0, -0.0, 40.0, -40.0, 700.0, -700.0, 1e4, -1e4]])


@pytest.mark.parametrize("name", sorted(ALL_ACTIVATIONS))
def test_activation_matches_oracle(rng, name):
    z = pre_activations(rng, 50)
    if name == "softmax":
        z = z[:12]  # one vector of units; its shift keeps every exponent at most zero
    out = np.empty_like(z)
    activate(z, out, ALL_ACTIVATIONS[name])
    np.testing.assert_allclose(out, naive.ACTIVATIONS[name](z), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", sorted(HIDDEN_ACTIVATIONS))
def test_derivative_from_the_output_matches_oracle(rng, name):
    a = naive.ACTIVATIONS[name](pre_activations(rng, 50))
    delta = rng.normal(size=a.size)
    expected = delta * naive.DERIVATIVES[name](a)
    scale_by_derivative(delta, a, HIDDEN_ACTIVATIONS[name])
    # Near saturation 1 - a² (tanh) cancels: its rounding is an ulp of 1 times |delta| (1e-16
    # here, for deltas of order 1), not an ulp of the result.
    np.testing.assert_allclose(delta, expected, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("output, loss, n_out", HEADS)
def test_loss_and_output_delta_match_oracle(rng, output, loss, n_out):
    for _ in range(20):
        z = rng.normal(scale=3, size=n_out)
        a = naive.ACTIVATIONS[output](z)
        y = (np.eye(n_out)[rng.integers(n_out)] if output == "softmax" else
             rng.normal(size=n_out) if output == "identity" else
             rng.integers(0, 2, n_out).astype(float))
        delta, scale = np.empty(n_out), 0.25
        value = loss_and_delta(z, a, y, OUTPUT_ACTIVATIONS[output], LOSSES[loss], delta, scale)
        assert value == pytest.approx(naive.sample_loss(a, y, loss), rel=1e-12)
        np.testing.assert_allclose(delta, scale * naive.output_delta(output, loss, a, y),
                                   rtol=1e-12, atol=1e-15)


def test_log_losses_stay_finite_where_probabilities_round_to_zero():
    """From pre-activations the log losses need no clipping: a confidently wrong output costs
    its full margin, where the oracle (from probabilities) clips at log(1e-15)."""
    z, delta = np.array([0.0, 800.0]), np.empty(2)
    a = naive.ACTIVATIONS["softmax"](z)
    value = loss_and_delta(z, a, np.array([1.0, 0.0]), OUTPUT_ACTIVATIONS["softmax"],
                           LOSSES["cross_entropy"], delta, 1.0)
    assert value == pytest.approx(800.0, rel=1e-15)
    np.testing.assert_allclose(delta, [-1.0, 1.0])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("position", [0, 4, 9])
def test_a_nan_or_infinite_unit_makes_softmax_and_log_sum_exp_nan(bad, position):
    """Both shift by the largest unit; whichever one a NaN leaves largest, the result is NaN,
    which the per-sample loop reads as divergence. (Run as plain Python, NumPy's scalars warn
    as they subtract an infinity from itself. A unit of -inf is no fault: its probability is 0.)
    """
    z, out = np.linspace(-5.0, 5.0, 10), np.empty(10)
    z[position] = bad
    with np.errstate(invalid="ignore"):
        softmax(z, out)
        lse = log_sum_exp(z)
    assert np.isnan(out).all()
    assert np.isnan(lse)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_any_infinity_or_nan(dtype):
    """Exact at the ends of the range: the largest finite numbers and the smallest subnormal
    pass, each non-finite value fails wherever it sits (in and past the vectorised part)."""
    info = np.finfo(dtype)
    values = np.linspace(-1.0, 1.0, 37).astype(dtype)
    values[[1, 2, 3]] = info.max, -info.max, info.smallest_subnormal
    assert all_finite(values)
    assert all_finite(values[:0])
    for bad in (np.nan, np.inf, -np.inf):
        for position in (0, 17, 36):
            spoiled = values.copy()
            spoiled[position] = bad
            assert not all_finite(spoiled)


@numba.njit
def _sum_prefetched_row(array, row):
    prefetch_row(array, row)
    return array[row].sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prefetch_row_is_a_hint_that_compiles_to_prefetches(dtype):
    """A prefetch changes nothing, in any order of array, and compiled for x86 it is there as
    instructions (LLVM drops none it is given)."""
    array = np.arange(3 * 41, dtype=dtype).reshape(3, 41)  # rows across several cache lines
    before = array.copy()
    assert _sum_prefetched_row(array, 1) == before[1].sum()
    assert _sum_prefetched_row(np.asfortranarray(array), 2) == before[2].sum()
    np.testing.assert_array_equal(array, before)
    if numba.config.DISABLE_JIT or platform.machine() not in ("x86_64", "AMD64"):
        return  # as plain Python it does nothing; other machines have other instructions
    assembly = _sum_prefetched_row.inspect_asm(_sum_prefetched_row.signatures[0])
    assert "prefetcht0" in assembly


@pytest.mark.parametrize("n_rows", [1, 4, 10, 13, 16])  # eight-row blocks, rows left over
def test_affine_one_sample_and_a_batch(rng, n_rows):
    weights, bias = rng.normal(size=(n_rows, 9)), rng.normal(size=n_rows)
    x, inputs = rng.normal(size=9), rng.normal(size=(6, 9))
    out, out_rows = np.empty(n_rows), np.empty((6, n_rows))
    affine(weights, bias, x, out)
    affine_rows(weights, bias, inputs, out_rows)
    np.testing.assert_allclose(out, weights @ x + bias, rtol=1e-13)
    np.testing.assert_allclose(out_rows, inputs @ weights.T + bias, rtol=1e-13)


@pytest.mark.parametrize("activation", sorted(HIDDEN_ACTIVATIONS))
def test_forward_passes_match_oracle(rng, activation):
    net = Network([7, 10, 5, 3], activation=activation, seed=1)
    activations = oracle_activations(net)
    X = rng.normal(size=(11, 7))
    z, a = (np.empty(len(X) * n_units(net.layout)) for _ in range(2))
    forward_rows(net.params, net.layout, X, z, a)
    expected = naive.forward(list(net.weights), list(net.biases), activations, X)
    np.testing.assert_allclose(a[-len(X) * 3:].reshape(len(X), 3), expected, rtol=1e-13)
    z1, a1 = (np.empty(n_units(net.layout)) for _ in range(2))
    forward_layers(net.params, net.layout, 0, X[4], z1, a1)
    np.testing.assert_allclose(a1[-3:], expected[4], rtol=1e-13)


@pytest.mark.parametrize("output, loss, n_out", HEADS)
def test_weighted_block_gradient_matches_oracle(rng, output, loss, n_out):
    sizes = [6, 8, 5, n_out]
    X, _, Y = make_data(rng, sizes, output, n=9)
    net = Network(sizes, activation="tanh", output=output, loss=loss, seed=2)
    z, a, delta = (np.empty(len(X) * n_units(net.layout)) for _ in range(3))
    grad = np.empty_like(net.params)
    factors = rng.uniform(0.0, 2.0, len(X))
    total = block_gradient(net.params, net.layout, X, Y, factors, LOSSES[loss], 1.0 / len(X), z,
                           a, delta, grad)
    grad_w, grad_b, mean_loss = naive.gradient(list(net.weights), list(net.biases),
                                               oracle_activations(net), loss, X, Y,
                                               sample_weight=factors)
    assert total / len(X) == pytest.approx(mean_loss, rel=1e-12)
    expected = np.concatenate([np.r_[w.ravel(), b] for w, b in zip(grad_w, grad_b)])
    np.testing.assert_allclose(grad, expected, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("n_rows", [3, 4, 9, 14])  # blocks of four rows, and rows left over
def test_backprop_step_uses_the_weights_before_the_step(rng, n_rows):
    weights, bias = rng.normal(size=(n_rows, 7)), rng.normal(size=n_rows)
    delta, a_in, lr = rng.normal(size=n_rows), rng.normal(size=7), 0.3
    expected_delta_in = weights.T @ delta
    expected_weights, expected_bias = weights - lr * np.outer(delta, a_in), bias - lr * delta
    delta_in = np.empty(7)
    backprop_sgd_update(weights, bias, delta, a_in, lr, delta_in)
    np.testing.assert_allclose(delta_in, expected_delta_in, rtol=1e-13)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-14)
    np.testing.assert_allclose(bias, expected_bias, rtol=1e-14)


def test_fused_first_layer_step_applies_the_previous_step_then_forwards(rng):
    weights, bias = rng.normal(size=(10, 7)), rng.normal(size=10)
    step, x_prev, x = rng.normal(size=10), rng.normal(size=7), rng.normal(size=7)
    expected_weights, expected_bias = weights - np.outer(step, x_prev), bias - step
    out = np.empty(10)
    sgd_update_affine(weights, bias, step, x_prev, x, out)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-14)
    np.testing.assert_allclose(bias, expected_bias, rtol=1e-14)
    np.testing.assert_allclose(out, expected_weights @ x + expected_bias, rtol=1e-13)


@pytest.mark.parametrize("output, code, reference", [
    ("softmax", CLIPPED_CROSS_ENTROPY, sklearn_losses.log_loss),
    ("sigmoid", CLIPPED_BINARY_CROSS_ENTROPY, sklearn_losses.binary_log_loss)])
def test_clipped_log_losses_are_sklearns(rng, output, code, reference):
    """scikit-learn's log losses clip the probabilities; the same deltas, a capped loss."""
    n_out = 4
    for scale in (1.0, 3.0, 60.0):  # at 60 some probabilities clip
        z = rng.normal(scale=scale, size=n_out)
        a = naive.ACTIVATIONS[output](z)
        y = (np.eye(n_out)[rng.integers(n_out)] if output == "softmax"
             else rng.integers(0, 2, n_out).astype(float))
        delta = np.empty(n_out)
        value = loss_and_delta(z, a, y, OUTPUT_ACTIVATIONS[output], code, delta, 0.5)
        assert value == pytest.approx(reference(y[None], a[None]), rel=1e-13)
        np.testing.assert_allclose(delta, 0.5 * (a - y), rtol=1e-15)
