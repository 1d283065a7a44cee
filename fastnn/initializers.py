"""Weight initialisation schemes, by name.

Each scheme draws one layer's ``(W, b)`` in float64 from a NumPy ``Generator``; the network
casts them to its dtype, so float32 and float64 networks built with one seed start from the
same values.
"""

import numpy as np


def normal(rng, n_in, n_out):
    """Standard normal weights and biases, as article 000 initialises its layers."""
    return rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)


def scaled_normal(rng, n_in, n_out):
    """Normal weights scaled by ``sqrt(1 / n_out)`` and zero biases, as article 001 writes it."""
    return rng.standard_normal((n_out, n_in)) * np.sqrt(1.0 / n_out), np.zeros(n_out)


def uniform(rng, n_in, n_out):
    """Weights and biases uniform on [-1, 1), article 003's ``NNClassifier`` scheme."""
    return rng.uniform(-1.0, 1.0, (n_out, n_in)), rng.uniform(-1.0, 1.0, n_out)


def glorot(rng, n_in, n_out):
    """Glorot (Xavier) uniform weights and zero biases, the Keras default."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_out, n_in)), np.zeros(n_out)


def he(rng, n_in, n_out):
    """He (Kaiming) normal weights, standard deviation ``sqrt(2 / n_in)``, and zero biases."""
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


INITIALIZERS = {
    "normal": normal,
    "scaled_normal": scaled_normal,
    "uniform": uniform,
    "glorot": glorot,
    "he": he,
}
