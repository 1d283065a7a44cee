"""Data, networks and oracle runs shared by the test modules."""

import gc
import signal

import numpy as np

from fastnn import Network, naive

# Numba's CUDA simulator runs each GPU thread as a Python thread, some 30 ms per training sample
# on the tiny networks the tests use: tests that train on every backend take this many rows of
# their data on the CUDA backend.
SIMULATOR_ROWS = 48


class _PressesCtrlCWhenCollected:
    """Garbage in a reference cycle whose finalizer presses Ctrl-C."""

    def __init__(self):
        self.cycle = self

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def press_ctrl_c_in_a_finalizer():
    """Press Ctrl-C from inside a finalizer that a garbage collection on this thread runs.

    Python runs a signal's handler at whatever the thread runs next, here the finalizer; a
    ``KeyboardInterrupt`` raised there is swallowed ("Exception ignored in ..."). Any allocation
    can start such a collection, so code that waits in Python for Ctrl-C must not rely on it.
    """
    _PressesCtrlCWhenCollected()
    gc.collect()


def rows_for(backend, n):
    """How many of a test's ``n`` rows to train on with the ``backend`` under test."""
    return min(n, SIMULATOR_ROWS) if backend == "cuda" else n


def mostly_zero(X, seed=0, density=0.15):
    """``X`` with all but about ``density`` of its entries set to zero, as in images of digits:
    per-sample training then takes the first-layer path that skips zero inputs."""
    keep = np.random.default_rng(seed).random(X.shape) < density
    return np.where(keep, X, 0.0)


def oracle_copy(net):
    """The network's parameters as the oracle's lists of independent arrays, in float64."""
    weights = [w.astype(np.float64) for w in net.weights]
    biases = [b.astype(np.float64) for b in net.biases]
    return weights, biases


def oracle_activations(net):
    """The oracle's activation names, one per layer, for ``net``."""
    hidden = net.activation
    if isinstance(hidden, str):
        hidden = [hidden] * (len(net.sizes) - 2)
    return list(hidden) + [net.output]


def one_hot(y, n_outputs):
    """Labels as the oracle's target rows: one-hot, or a column of 0/1 for one sigmoid unit."""
    if n_outputs == 1:
        return y.reshape(-1, 1).astype(np.float64)
    return np.eye(n_outputs)[y]


def make_data(rng, sizes, output, n=500, sparse=False):
    """``(X, y, Y)`` for a network of ``sizes``: inputs, labels or values, and the oracle's
    target rows."""
    X = rng.normal(size=(n, sizes[0]))
    X = mostly_zero(X) if sparse else X
    if output == "identity":
        y = rng.normal(size=(n, sizes[-1]))
        return X, y, y
    n_classes = 2 if sizes[-1] == 1 else sizes[-1]
    y = rng.integers(0, n_classes, n)
    return X, y, one_hot(y, sizes[-1])


def train_both(rng, sizes, activation, output, loss, batch_size, dtype="float64", lr=0.05,
               sparse=False, device="cpu", **settings):
    """One epoch of fastnn and of the oracle from the same weights over the same data.

    Returns the fitted network, the oracle's weights and biases, and the oracle's mean loss.
    ``sparse`` trains on mostly-zero inputs with the zero-skipping first layer.
    """
    X, y, Y = make_data(rng, sizes, output, n=rows_for(device, 500), sparse=sparse)
    net = Network(sizes, activation=activation, output=output, loss=loss, lr=lr, epochs=1,
                  batch_size=batch_size, shuffle=False, seed=3, dtype=dtype, device=device,
                  sparse_inputs=sparse, **settings)
    weights, biases = oracle_copy(net)
    penalties = {name: settings[name] for name in ("l1", "l2") if name in settings}
    oracle_loss = naive.train_epoch(weights, biases, oracle_activations(net), loss, X, Y, lr,
                                    batch_size=len(X) if batch_size is None else batch_size,
                                    **penalties)
    net.fit(X, y)
    return net, weights, biases, oracle_loss


def assert_matches_oracle(net, weights, biases, atol, rtol=0.0):
    """Every weight and bias of ``net`` within ``atol`` (plus ``rtol`` of its size) of the
    oracle's."""
    for ours, theirs in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)
