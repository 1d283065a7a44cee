"""fastnn's compiled epochs against the plain NumPy oracle in fastnn/naive.py."""

import numpy as np
import pytest

from fastnn import config
from fastnn.kernels.gradients import batch_parts

from .helpers import assert_matches_oracle, train_both

# (sizes, hidden activation, output, loss). The first layer's 10 rows exercise both the
# four-row blocks and the leftover rows of the fused update-and-forward kernel.
CASES = [
    ([13, 10, 7, 3], "sigmoid", "softmax", "cross_entropy"),
    ([13, 10, 7, 2], "tanh", "sigmoid", "binary_cross_entropy"),
    ([13, 10, 1], "tanh", "sigmoid", "binary_cross_entropy"),
    ([13, 10, 7, 3], "relu", "identity", "squared_error"),
    ([13, 10, 7, 3], "identity", "softmax", "squared_error"),
    ([13, 10, 4], "sigmoid", "sigmoid", "squared_error"),
]


# Batches of 128 on two threads are cut into two parts of 64 (config.MIN_PART_ROWS).
@pytest.mark.parametrize("batch_size, n_jobs", [(1, None), (32, None), (None, None), (128, 2)])
@pytest.mark.parametrize("sizes, activation, output, loss", CASES)
def test_one_epoch_matches_oracle_float64(rng, backend, sizes, activation, output, loss,
                                          batch_size, n_jobs):
    net, weights, biases, oracle_loss = train_both(rng, sizes, activation, output, loss,
                                                   batch_size, n_jobs=n_jobs, device=backend)
    assert_matches_oracle(net, weights, biases, atol=1e-10)
    assert net.history["loss"][0] == pytest.approx(oracle_loss, rel=1e-10)


@pytest.mark.parametrize("batch_size, n_jobs", [(1, None), (32, None), (128, 2)])
@pytest.mark.parametrize("sizes, activation, output, loss", CASES[:4])
def test_one_epoch_matches_oracle_float32(rng, backend, sizes, activation, output, loss,
                                          batch_size, n_jobs):
    # float32 carries ~7 significant digits; 500 successive updates, each rounding every
    # weight once, drift by at most a few hundred float32 ulps of these O(1) weights
    # (observed: under 2e-6), so 2e-5 passes any correct kernel yet fails any wrong formula,
    # whose error after one epoch is of the order of the update itself (1e-2 and up).
    net, weights, biases, _ = train_both(rng, sizes, activation, output, loss, batch_size,
                                         dtype="float32", n_jobs=n_jobs, device=backend)
    assert net.params.dtype == np.float32
    assert_matches_oracle(net, weights, biases, atol=2e-5)


@pytest.mark.parametrize("dtype, atol", [("float64", 1e-10), ("float32", 2e-5)])
@pytest.mark.parametrize("sizes, activation, output, loss",
                         CASES + [([13, 3], "sigmoid", "softmax", "cross_entropy")])
def test_per_sample_epoch_on_mostly_zero_inputs_matches_oracle(rng, sizes, activation, output,
                                                               loss, dtype, atol):
    """Mostly-zero inputs train the first layer transposed, skipping zeros: same weights, with
    and without hidden layers (without, the first layer is the output layer). A CPU path."""
    net, weights, biases, oracle_loss = train_both(rng, sizes, activation, output, loss, 1,
                                                   dtype=dtype, sparse=True)
    assert_matches_oracle(net, weights, biases, atol=atol)
    assert net.history["loss"][0] == pytest.approx(oracle_loss, rel=max(atol, 1e-10))


def test_per_sample_epoch_is_not_the_mean_gradient_step():
    """Guard against a per-sample path that silently averages: the two must differ."""
    per_sample, *_ = train_both(np.random.default_rng(0), *CASES[0], batch_size=1)
    full_batch, *_ = train_both(np.random.default_rng(0), *CASES[0], batch_size=None)
    assert np.abs(per_sample.params - full_batch.params).max() > 1e-3


@pytest.mark.parametrize("n_jobs", [None, 3])
@pytest.mark.parametrize("batch_size", [None, 200])
def test_batches_larger_than_the_work_buffers_match_oracle(rng, backend, monkeypatch, batch_size,
                                                           n_jobs):
    """Batches bigger than BLOCK_ROWS are summed a block at a time: same mean gradient."""
    monkeypatch.setattr(config, "BLOCK_ROWS", 64)
    net, weights, biases, oracle_loss = train_both(rng, *CASES[0], batch_size=batch_size,
                                                   n_jobs=n_jobs, device=backend)
    assert_matches_oracle(net, weights, biases, atol=1e-10)
    assert net.history["loss"][0] == pytest.approx(oracle_loss, rel=1e-10)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("penalties", [dict(l2=0.01), dict(l1=0.001), dict(l1=0.002, l2=0.02)])
def test_weight_penalties_match_oracle(rng, backend, batch_size, penalties):
    net, weights, biases, _ = train_both(rng, *CASES[0], batch_size=batch_size, device=backend,
                                         **penalties)
    assert_matches_oracle(net, weights, biases, atol=1e-10)
    plain, *_ = train_both(np.random.default_rng(12345), *CASES[0], batch_size=batch_size)
    assert np.abs(net.params - plain.params).max() > 1e-4  # the penalty did something


@pytest.mark.parametrize("n_rows, n_sets, block, parts", [
    (128, 1, 1024, 1),   # one set of buffers: one part
    (128, 2, 1024, 2),   # two parts of 64
    (127, 2, 1024, 1),   # halves would have fewer than 64 rows
    (256, 8, 1024, 4),   # no more parts than keep 64 rows each
    (5000, 2, 1024, 5),  # more parts than sets when the batch exceeds the buffers
])
def test_batch_parts(n_rows, n_sets, block, parts):
    assert batch_parts(n_rows, n_sets, block, 64) == parts
