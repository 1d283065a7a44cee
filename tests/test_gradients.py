"""Central finite differences of the compiled loss confirm the compiled gradient."""

import itertools

import numpy as np
import pytest

from fastnn import Network
from fastnn.kernels import batch_gradient, loss_rows
from fastnn.kernels.losses import LOSSES
from fastnn.layout import n_units

from .helpers import make_data

HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
OUTPUTS = [  # (n_outputs, output, loss)
    (3, "softmax", "cross_entropy"),
    (1, "sigmoid", "binary_cross_entropy"),
    (3, "sigmoid", "binary_cross_entropy"),
    (2, "identity", "squared_error"),
    (3, "sigmoid", "squared_error"),
    (3, "softmax", "squared_error"),
]


def mean_loss(net, X, Y):
    buffers = [np.empty(len(X) * n_units(net.layout)) for _ in range(3)]
    outputs = np.empty((len(X), net.sizes[-1]))
    return loss_rows(net.params, net.layout, X, Y, LOSSES[net.loss], *buffers, outputs) / len(X)


@pytest.mark.parametrize("activation, n_outputs, output, loss",
                         [(hidden, *out) for hidden, out in itertools.product(HIDDEN, OUTPUTS)])
def test_gradient_matches_central_differences(rng, activation, n_outputs, output, loss):
    sizes = [4, 6, 5, n_outputs]
    X, _, Y = make_data(rng, sizes, output, n=8)
    net = Network(sizes, activation=activation, output=output, loss=loss, seed=1, init="normal")
    buffers = [np.empty((1, len(X) * n_units(net.layout))) for _ in range(3)]
    grad, part_grads = np.empty_like(net.params), np.empty((1, net.params.size))
    rows = np.arange(len(X))
    batch_gradient(net.params, net.layout, X, Y, np.ones(len(X)), rows, LOSSES[loss], 64, X[:0],
                   Y[:0], np.empty(0), *buffers, grad, part_grads, np.empty(1))

    step = 1e-6
    numeric = np.empty_like(grad)
    for k in range(net.params.size):
        original = net.params[k]
        net.params[k] = original + step
        upper = mean_loss(net, X, Y)
        net.params[k] = original - step
        lower = mean_loss(net, X, Y)
        net.params[k] = original
        numeric[k] = (upper - lower) / (2 * step)
    assert np.abs(grad).max() > 1e-3  # a vanishing gradient would make the check vacuous
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("n_sets", [1, 2, 3])
def test_a_batch_taken_in_rounds_of_parts_has_the_gradient_of_one_part(rng, n_sets):
    """Buffers of two rows for a batch of eleven: six parts, taken ``n_sets`` at a time, with
    the last part of each round added before the next overwrites it."""
    sizes = [4, 6, 3]
    X, _, Y = make_data(rng, sizes, "softmax", n=11)
    net = Network(sizes, seed=1, init="normal")
    rows = rng.permutation(len(X))

    def gradient(n_sets, block_rows):
        buffers = [np.empty((n_sets, block_rows * n_units(net.layout))) for _ in range(3)]
        grad, part_grads = np.empty_like(net.params), np.empty((n_sets, net.params.size))
        loss = batch_gradient(net.params, net.layout, X, Y, np.ones(len(X)), rows,
                              LOSSES["cross_entropy"], 1, np.empty_like(X), np.empty_like(Y),
                              np.empty(len(X)), *buffers, grad, part_grads, np.empty(n_sets))
        return loss, grad

    one_loss, one_part = gradient(1, len(X))
    loss, parts = gradient(n_sets, 2)
    np.testing.assert_allclose(parts, one_part, rtol=0, atol=1e-15)
    np.testing.assert_allclose(loss, one_loss, rtol=1e-15)
    assert np.abs(one_part).max() > 1e-3
