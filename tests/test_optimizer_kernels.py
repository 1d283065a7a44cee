"""Each optimizer kernel of fastnn/kernels/optimizers.py on its own, against the oracle's
optimizers (fastnn/naive.py): a step over the whole vector, the fused back-propagating step of
a hidden layer, and the first layer's deferred step fused with the next product."""

import numpy as np
import pytest

from fastnn import Network, naive
from fastnn.kernels import backprop_update, optimizer_step, update_affine
from fastnn.kernels.optimizers import (
    ADAM,
    KINGMA_ADAM,
    MOMENTUM,
    NESTEROV,
    SGD,
    new_rates,
    set_step,
    squared_weights,
    uses_slots,
)
from fastnn.layout import bias_views, weight_views

LR, L1, L2 = 0.05, 0.01, 0.02
CODES = {SGD: naive.SGD, MOMENTUM: lambda: naive.SGD(0.9), NESTEROV: lambda: naive.SGD(0.9, True),
         ADAM: lambda: naive.Adam(0.8, 0.99, 1e-3)}


def kernel_state(code, size):
    """The kernels' rates and state arrays for the optimizer ``code``, and the oracle's
    optimizer; each test takes several steps, so the later ones start from state that is not
    zero."""
    rates = new_rates(np.float64, LR, 0.9, 0.8, 0.99, 1e-3)
    slots = [np.zeros(size) if uses_slots(code) > k else np.empty(0) for k in range(2)]
    return rates, slots, CODES[code]()


def oracle_step(optimizer, params, grads, penalise):
    """The oracle's step, with the penalty gradients on the arrays ``penalise`` marks."""
    grads = [g + L2 * p + L1 * np.sign(p) if weight else g
             for p, g, weight in zip(params, grads, penalise)]
    optimizer.step(params, grads, LR)


@pytest.mark.parametrize("code", CODES)
def test_optimizer_step_matches_oracle_and_penalises_weights_not_biases(rng, code):
    net = Network([4, 3, 2], seed=0, init="normal")
    rates, (m, v), optimizer = kernel_state(code, net.params.size)
    theirs = [w.copy() for w in net.weights] + [b.copy() for b in net.biases]
    for step in (1, 2, 3):
        grad = rng.normal(size=net.params.size)
        set_step(rates, step)
        optimizer_step(code, net.params, grad, net.layout, m, v, rates, L1, L2)
        grads = list(weight_views(grad, net.layout)) + list(bias_views(grad, net.layout))
        oracle_step(optimizer, theirs, grads, [True, True, False, False])
    for ours, expected in zip(list(net.weights) + list(net.biases), theirs):
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n_chunks", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", CODES)
def test_a_step_adding_a_pending_part_in_chunks_is_the_step_on_the_sum(rng, code, dtype,
                                                                       n_chunks):
    """What the threaded mini-batch epoch does (a batch's last part added as the step reads
    it, each thread a chunk) steps every parameter and its state as adding the part first and
    stepping the whole vector at once does, to rounding (fast-math orders the sums freely)."""
    net = Network([7, 5, 3], seed=0, init="normal", dtype=dtype)
    grad, pending = (rng.normal(size=net.params.size).astype(dtype) for _ in range(2))
    rates = new_rates(dtype, LR, 0.9, 0.8, 0.99, 1e-3)
    set_step(rates, 2)
    runs = []
    for chunks in (None, range(n_chunks)):
        params = net.params.copy()
        m, v = (np.full(params.size if uses_slots(code) > k else 0, 0.1, dtype) for k in (0, 1))
        if chunks is None:
            optimizer_step(code, params, grad + pending, net.layout, m, v, rates, dtype(L1),
                           dtype(L2))
        for chunk in chunks or ():
            optimizer_step(code, params, grad, net.layout, m, v, rates, dtype(L1), dtype(L2),
                           pending, chunk, n_chunks)
        runs.append((params, m, v))
    for summed_first, chunked in zip(*runs):
        ulps = 4 * np.finfo(dtype).eps * np.abs(summed_first).max(initial=0)
        np.testing.assert_allclose(chunked, summed_first, rtol=0, atol=ulps)
    assert not np.array_equal(runs[0][0], net.params)


def layer(rng, n_out, n_in):
    """A one-layer network's flat vector, layout and (W, b) views."""
    net = Network([n_in, n_out], seed=int(rng.integers(1000)), init="normal")
    return net.params, net.layout[0], net.weights[0], net.biases[0]


@pytest.mark.parametrize("code", CODES)
def test_backprop_update_uses_the_weights_before_the_step(rng, code):
    params, row, weights, bias = layer(rng, 5, 7)
    rates, (m, v), optimizer = kernel_state(code, params.size)
    theirs = [weights.copy(), bias.copy()]
    for step in (1, 2):
        delta, a_in = rng.normal(size=5), rng.normal(size=7)
        expected_delta_in = theirs[0].T @ delta
        delta_in = np.empty(7)
        set_step(rates, step)
        backprop_update(code, params, m, v, row, delta, a_in, rates, L1, L2, delta_in)
        oracle_step(optimizer, theirs, [np.outer(delta, a_in), delta], [True, False])
        np.testing.assert_allclose(delta_in, expected_delta_in, rtol=1e-13)
    np.testing.assert_allclose(weights, theirs[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(bias, theirs[1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("n_out", [6, 7])  # pairs of rows, and an odd row left over
@pytest.mark.parametrize("code", CODES)
def test_update_affine_steps_on_the_previous_sample_then_forwards(rng, code, n_out):
    params, row, weights, bias = layer(rng, n_out, 9)
    rates, (m, v), optimizer = kernel_state(code, params.size)
    theirs = [weights.copy(), bias.copy()]
    for step in (1, 2):
        delta_prev, x_prev, x = rng.normal(size=n_out), rng.normal(size=9), rng.normal(size=9)
        out = np.empty(n_out)
        set_step(rates, step)
        update_affine(code, params, m, v, row, delta_prev, x_prev, rates, L1, L2, x, out)
        oracle_step(optimizer, theirs, [np.outer(delta_prev, x_prev), delta_prev], [True, False])
        np.testing.assert_allclose(out, theirs[0] @ x + theirs[1], rtol=1e-13)
    np.testing.assert_allclose(weights, theirs[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(bias, theirs[1], rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_flushes_subnormal_moments_to_zero_and_keeps_the_weights(dtype):
    """A moment that decays below the smallest normal number becomes 0 (see
    ``optimizers.flushed``), one that stays above it is kept; the weights step as the
    oracle's, whose moment goes on subnormal."""
    tiny = np.finfo(dtype).smallest_normal
    params = np.array([0.5, -0.25], dtype)
    layout = Network([1, 1], dtype=dtype).layout  # one weight, then one bias
    m, v = np.array([tiny, 2 * tiny], dtype), np.array([1e-4, 1e-4], dtype)
    rates = new_rates(dtype, 1e-3, 0.0, 0.8, 0.999, 1e-8)
    set_step(rates, 5)
    optimizer = naive.Adam(0.8, 0.999, 1e-8)
    optimizer.steps = 4
    optimizer.m = [m[:1].astype(float), m[1:].astype(float)]
    optimizer.v = [v[:1].astype(float), v[1:].astype(float)]
    theirs = [params[:1].astype(float), params[1:].astype(float)]
    # A blank input: no gradient, so each first moment is multiplied by beta_1 = 0.8.
    optimizer_step(ADAM, params, np.zeros(2, dtype), layout, m, v, rates, dtype(0), dtype(0))
    optimizer.step(theirs, [np.zeros(1), np.zeros(1)], 1e-3)
    assert m.tolist() == [0.0, dtype(0.8) * dtype(2 * tiny)]
    assert 0 < optimizer.m[0][0] < tiny
    np.testing.assert_array_equal(params, np.concatenate(theirs).astype(dtype))


@pytest.mark.parametrize("code", [MOMENTUM, NESTEROV])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_momentum_flushes_a_subnormal_velocity_to_zero_and_keeps_the_weights(dtype, code):
    """As Adam's moments: a velocity that decays below the smallest normal number becomes 0,
    one that stays above it is kept, and the weights step as the oracle's."""
    tiny = np.finfo(dtype).smallest_normal
    params = np.array([0.5, -0.25], dtype)
    layout = Network([1, 1], dtype=dtype).layout
    m = np.array([tiny, 2 * tiny], dtype)
    rates = new_rates(dtype, 1e-3, 0.9, 0.9, 0.999, 1e-8)
    optimizer = naive.SGD(0.9, code == NESTEROV)
    optimizer.buffers = [m[:1].astype(float), m[1:].astype(float)]
    theirs = [params[:1].astype(float), params[1:].astype(float)]
    optimizer_step(code, params, np.zeros(2, dtype), layout, m, np.empty(0, dtype), rates,
                   dtype(0), dtype(0))
    optimizer.step(theirs, [np.zeros(1), np.zeros(1)], 1e-3)
    assert m.tolist() == [0.0, dtype(0.9) * dtype(2 * tiny)]
    assert 0 < optimizer.buffers[0][0] < tiny
    np.testing.assert_array_equal(params, np.concatenate(theirs).astype(dtype))


def test_kingma_adam_folds_the_correction_into_the_step_size(rng):
    """scikit-learn's Adam: ``lr * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (sqrt(v) +
    epsilon)``, with epsilon on the uncorrected root."""
    net = Network([4, 3], seed=0, init="normal")
    rates = new_rates(np.float64, LR, 0.0, 0.8, 0.99, 1e-3, KINGMA_ADAM)
    m, v = np.zeros(net.params.size), np.zeros(net.params.size)
    expected, m_ref, v_ref = net.params.copy(), m.copy(), v.copy()
    for step in (1, 2, 3):
        grad = rng.normal(size=net.params.size)
        set_step(rates, step)
        optimizer_step(ADAM, net.params, grad, net.layout, m, v, rates, 0.0, 0.0)
        m_ref = 0.8 * m_ref + 0.2 * grad
        v_ref = 0.99 * v_ref + 0.01 * grad**2
        step_size = LR * np.sqrt(1 - 0.99**step) / (1 - 0.8**step)
        expected -= step_size * m_ref / (np.sqrt(v_ref) + 1e-3)
    np.testing.assert_allclose(net.params, expected, rtol=0, atol=1e-15)


def test_squared_weights_leaves_the_biases_out():
    net = Network([5, 4, 3], seed=0, init="normal")
    expected = sum(float((w**2).sum()) for w in net.weights)
    assert squared_weights(net.params, net.layout) == pytest.approx(expected, rel=1e-14)
