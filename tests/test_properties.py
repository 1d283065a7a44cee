"""Property-based tests: random networks and inputs train like the oracle; random damage to
a model file is always refused cleanly."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn
from fastnn import DivergenceError, ModelFileError, Network, naive

from .helpers import assert_matches_oracle, one_hot, oracle_activations, oracle_copy

HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
HEADS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"),
         ("identity", "squared_error"), ("sigmoid", "squared_error"),
         ("softmax", "squared_error")]


@st.composite
def problems(draw):
    """A random network, data set and training setting with a sane learning rate."""
    hidden = draw(st.lists(st.integers(1, 9), min_size=0, max_size=3))
    output, loss = draw(st.sampled_from(HEADS))
    n_out = draw(st.integers(2 if output == "softmax" else 1, 4))
    sizes = [draw(st.integers(1, 8)), *hidden, n_out]
    n = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([1e-3, 1.0, 10.0]))
    X = rng.normal(scale=scale, size=(n, sizes[0]))
    if output == "identity":
        y = rng.normal(size=(n, n_out))
        Y = y
    else:
        y = rng.integers(0, 2 if n_out == 1 else n_out, n)
        Y = one_hot(y, n_out)
    net = Network(sizes, activation=[draw(st.sampled_from(HIDDEN)) for _ in hidden],
                  output=output, loss=loss, lr=draw(st.sampled_from([1e-3, 1e-2, 0.1])),
                  epochs=1, batch_size=draw(st.sampled_from([1, 3, 16, None])),
                  shuffle=False, seed=seed, init=draw(st.sampled_from(["glorot", "he"])),
                  l2=draw(st.sampled_from([0.0, 0.0, 1e-2])))
    return net, X, y, Y


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_random_networks_train_like_the_oracle(problem):
    net, X, y, Y = problem
    weights, biases = oracle_copy(net)
    batch = len(X) if net.batch_size is None else net.batch_size
    try:
        with np.errstate(over="raise", invalid="raise"):
            naive.train_epoch(weights, biases, oracle_activations(net), net.loss, X, Y,
                              net.lr, batch_size=batch, l2=net.l2)
    except FloatingPointError:
        # This draw's learning rate is too large for its data (deep identity stacks on
        # inputs of 10 can blow up): fastnn must then refuse, and restore its weights.
        before = net.params.copy()
        with pytest.raises(DivergenceError):
            net.fit(X, y)
        np.testing.assert_array_equal(net.params, before)
        return
    net.fit(X, y)  # any warning fails the test (warnings are errors)
    assert np.isfinite(net.params).all()
    assert_matches_oracle(net, weights, biases, atol=1e-9, rtol=1e-9)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    Network([3, 4, 2], seed=0).save(path)
    return path.read_bytes()


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_or_truncated_model_files_load_exactly_or_fail_cleanly(model_bytes, tmp_path,
                                                                        data):
    damaged = bytearray(model_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(st.integers(0, 255))
    damaged = damaged[:data.draw(st.integers(0, len(damaged)))]
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(damaged))
    try:
        loaded = fastnn.load(path)
    except ModelFileError:
        return
    # A file that still loads is the saved network exactly: zip CRCs cover every member.
    reference_path = tmp_path / "reference.npz"
    reference_path.write_bytes(model_bytes)
    reference = fastnn.load(reference_path)
    np.testing.assert_array_equal(loaded.params, reference.params)
    assert repr(loaded) == repr(reference) and loaded.history == reference.history
