"""Divergence and interruption: fit never leaves a half-updated or silently broken network."""

import _thread
import re
import threading

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from fastnn import DivergenceError, DivergenceWarning, Network

from .helpers import mostly_zero, rows_for


@pytest.fixture
def regression_data(rng, backend):
    X = rng.normal(size=(rows_for(backend, 300), 4))
    return X, X @ np.array([1.0, -1.0, 0.5, 2.0])


@pytest.fixture
def regressor(backend):
    """Builds a 4-6-1 relu regressor with the given settings, on the backend under test."""
    def build(**settings):
        return Network([4, 6, 1], activation="relu", output="identity", seed=0, device=backend,
                       **settings)
    return build


@pytest.mark.parametrize("batch_size, where", [
    (1, r"at sample \d+ of \d+ \(row \d+ of X\)"),
    (8, r"in the batch of samples \d+ to \d+ of \d+"),
])
def test_divergence_restores_the_last_good_epoch_and_names_it(regression_data, regressor,
                                                              batch_size, where):
    X, y = regression_data
    net = regressor(lr=1e-3, epochs=1, batch_size=batch_size).fit(X, y)
    good = net.params.copy()
    net.lr, net.epochs = 1e3, 3
    with pytest.raises(DivergenceError, match=rf"diverged in epoch 2 {where}.*end of epoch 1"):
        net.fit(X, y)
    np.testing.assert_array_equal(net.params, good)
    assert net.history["loss"][0] > 0 and np.isnan(net.history["loss"][1])
    assert len(net.history["seconds"]) == 2


def test_full_batch_divergence_keeps_the_epoch_before(regression_data, regressor):
    X, y = regression_data
    net = regressor(lr=30.0, epochs=500, batch_size=None)
    with pytest.raises(DivergenceError, match=r"in its full-batch step") as raised:
        net.fit(X, y)
    epoch = int(re.search(r"epoch (\d+)", str(raised.value))[1])
    assert len(net.history["loss"]) == epoch and np.isnan(net.history["loss"][-1])
    assert np.isfinite(net.history["loss"][:-1]).all()
    replay = regressor(lr=30.0, epochs=epoch - 1, batch_size=None).fit(X, y)
    np.testing.assert_array_equal(net.params, replay.params)


@pytest.mark.parametrize("batch_size, where", [
    (1, r"at sample 17 of \d+ \(row 17 of X\)"),
    (4, r"in the batch of samples 16 to 19 of \d+"),
])
def test_divergence_is_caught_at_the_sample_where_it_appears(regression_data, regressor,
                                                             batch_size, where):
    X, y = regression_data
    X = X.copy()
    X[17] = 1e200  # finite, but its squared error overflows
    net = regressor(lr=1e-3, epochs=1, batch_size=batch_size, shuffle=False)
    before = net.params.copy()
    with pytest.raises(DivergenceError, match=rf"epoch 1 {where}.*the previous fit"):
        net.fit(X, y)
    np.testing.assert_array_equal(net.params, before)


def test_divergence_on_mostly_zero_inputs_restores_the_weights(regression_data, regressor):
    """The first-layer path that skips zero inputs meets a bad weight only through a nonzero
    input; whatever it leaves non-finite, the end-of-epoch check still catches."""
    X, y = regression_data
    X = mostly_zero(X, density=0.2)
    net = regressor(lr=1e-3, epochs=1).fit(X, y)
    good = net.params.copy()
    net.lr, net.epochs = 1e4, 3
    with pytest.raises(DivergenceError, match=r"diverged in epoch 2 .*end of epoch 1"):
        net.fit(X, y)
    np.testing.assert_array_equal(net.params, good)


def test_on_divergence_warn_stops_with_a_warning(regression_data, regressor):
    X, y = regression_data
    net = regressor(lr=1e3, epochs=5, on_divergence="warn")
    before = net.params.copy()
    with pytest.warns(DivergenceWarning, match="diverged in epoch 1"):
        net.fit(X, y, validation_data=(X, y))
    np.testing.assert_array_equal(net.params, before)
    assert np.isnan(net.history["loss"]).all() and np.isnan(net.history["val_loss"]).all()
    assert len(net.history["loss"]) == 1


def test_interrupted_fit_keeps_a_consistent_model_and_says_so():
    X, y = make_blobs(5000, centers=10, n_features=200, random_state=0)
    net = Network([200, 64, 10], epochs=1000, seed=0, shuffle=False)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt) as raised:
        net.fit(X, y)
    timer.cancel()
    note = " ".join(getattr(raised.value, "__notes__", []))
    within = re.search(r"interrupted in epoch (\d+) after ([\d,]+) of 5,000 samples", note)
    between = re.search(r"interrupted after epoch (\d+)\.", note)  # pressed between epochs
    assert within or between, note
    epochs_done, samples_done = ((int(within[1]) - 1, int(within[2].replace(",", ""))) if within
                                 else (int(between[1]), 0))
    assert len(net.history["loss"]) == len(net.history["seconds"]) == epochs_done

    # The weights are exactly those of the completed steps: replay them and compare.
    replay = Network([200, 64, 10], epochs=epochs_done, seed=0, shuffle=False).fit(X, y)
    replay.epochs = 1
    if samples_done:
        replay.fit(X[:samples_done], y[:samples_done])
    np.testing.assert_array_equal(net.params, replay.params)
    net.epochs = 1
    assert net.fit(X, y).score(X, y) > 0.9  # and it trains on
