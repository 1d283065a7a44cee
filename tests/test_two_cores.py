"""Per-sample SGD on two cores (``n_jobs``): the first layer's rows split between two threads
(``kernels.epochs.train_per_sample_part``), with the weights of one thread, bit for bit."""

import numba
import numpy as np
import pytest

from fastnn import DivergenceError, Network, config

from .helpers import make_data, mostly_zero
from .test_backends import cpu_trainer


@pytest.fixture
def small_splits(monkeypatch):
    """Split layers of a few rows, so that tiny networks take the two-core path."""
    monkeypatch.setattr(config, "MIN_SPLIT_ROWS", 4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes, activation, output", [
    ([13, 10, 7, 3], "sigmoid", "softmax"),  # halves of 4 and 6 rows: blocked and leftover
    ([13, 16, 2], "tanh", "sigmoid"),
    ([13, 12], "relu", "softmax"),  # no hidden layer: the first layer is the output layer
    ([13, 9, 4], "relu", "identity"),
])
def test_two_cores_give_the_weights_of_one(rng, small_splits, sizes, activation, output, dtype):
    X, y, _ = make_data(rng, sizes, output, n=300)
    settings = dict(sizes=sizes, activation=activation, output=output, epochs=3, seed=0,
                    dtype=dtype, sparse_inputs=False, lr=0.05)
    one = Network(**settings).fit(X, y)
    two = Network(**settings, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(two.params, one.params)
    assert two.history["loss"] == one.history["loss"]


def test_divergence_on_two_cores_stops_where_one_core_does(rng, small_splits):
    X = rng.normal(size=(200, 4))
    y = X @ np.array([1.0, -1.0, 0.5, 2.0])
    X[57] = 1e200  # finite, but its squared error overflows
    messages = []
    for n_jobs in (None, 2):
        net = Network([4, 8, 1], activation="relu", output="identity", seed=0, lr=1e-3,
                      shuffle=False, n_jobs=n_jobs, sparse_inputs=False, epochs=1)
        before = net.params.copy()
        with pytest.raises(DivergenceError, match="at sample 57 of 200") as raised:
            net.fit(X, y)
        messages.append(str(raised.value))
        np.testing.assert_array_equal(net.params, before)
    assert messages[0] == messages[1]


def test_small_layers_zero_skipping_and_one_job_train_on_one_core(rng):
    if numba.get_num_threads() < 2:
        pytest.skip("one Numba thread: per-sample n_jobs trains on one core")
    X = rng.normal(size=(50, 13))
    assert cpu_trainer(X, n_jobs=2).split == 0  # 10 rows: halves under MIN_SPLIT_ROWS
    config_rows = config.MIN_SPLIT_ROWS
    try:
        config.MIN_SPLIT_ROWS = 4
        assert cpu_trainer(X, n_jobs=2, sparse_inputs=False).split == 4
        assert cpu_trainer(X, n_jobs=None, sparse_inputs=False).split == 0
        assert cpu_trainer(mostly_zero(X), n_jobs=2).split == 0  # the zero-skipping path
        assert cpu_trainer(X, n_jobs=2, sparse_inputs=False, l2=0.1).split == 0  # penalised
    finally:
        config.MIN_SPLIT_ROWS = config_rows
