"""Shared fixtures: small data sets and a helper to copy a network into the NumPy oracle."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def oracle_copy(net):
    """The network's parameters as the oracle's lists of independent arrays, in float64."""
    weights = [w.astype(np.float64) for w in net.weights]
    biases = [b.astype(np.float64) for b in net.biases]
    return weights, biases


def oracle_activations(net):
    hidden = net.activation
    if isinstance(hidden, str):
        hidden = [hidden] * (len(net.sizes) - 2)
    return list(hidden) + [net.output]


def one_hot(y, n_outputs):
    if n_outputs == 1:
        return y.reshape(-1, 1).astype(np.float64)
    return np.eye(n_outputs)[y]
