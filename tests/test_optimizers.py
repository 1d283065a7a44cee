"""fastnn's optimizers, learning-rate schedules and sample weights against the oracle
(fastnn/naive.py, itself checked against torch.optim in test_naive_optimizers.py), per sample,
per mini-batch and per full batch; and the optimizer's state across fits, copies and files."""

import pickle

import numpy as np
import pytest

from fastnn import Network, load, naive

from .helpers import make_data, oracle_activations, oracle_copy

# (Network settings, the oracle's optimizer) by name.
OPTIMIZERS = {
    "momentum": (dict(momentum=0.9), lambda: naive.SGD(momentum=0.9)),
    "nesterov": (dict(momentum=0.9, nesterov=True), lambda: naive.SGD(0.9, nesterov=True)),
    "adam": (dict(optimizer="adam"), naive.Adam),
    "adam_betas": (dict(optimizer="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6),
                   lambda: naive.Adam(0.8, 0.99, 1e-6)),
}
# (sizes, hidden activation, output, loss); the first layer's 11 rows leave an odd row out of
# the fused first-layer kernel's pairs of rows.
CASES = [
    ([13, 11, 7, 3], "sigmoid", "softmax", "cross_entropy"),
    ([13, 11, 4], "tanh", "sigmoid", "binary_cross_entropy"),
    ([13, 11, 7, 2], "relu", "identity", "squared_error"),
]
EPOCHS = 2


def fit_both(rng, optimizer, batch_size, case=CASES[0], dtype="float64", lr=0.01, epochs=EPOCHS,
             sample_weight=None, n=300, **settings):
    """``epochs`` epochs of fastnn and of the oracle from the same weights, in the given order.

    Returns the fitted network, the oracle's weights and biases, and the oracle's history.
    """
    sizes, activation, output, loss = case
    X, y, Y = make_data(rng, sizes, output, n=n)
    given, make_optimizer = OPTIMIZERS[optimizer] if optimizer else ({}, naive.SGD)
    net = Network(sizes, activation=activation, output=output, loss=loss, lr=lr, epochs=epochs,
                  batch_size=batch_size, shuffle=False, seed=3, dtype=dtype, **given, **settings)
    weights, biases = oracle_copy(net)
    oracle = {name: settings[name] for name in ("l1", "l2", "lr_schedule", "power_t")
              if name in settings}
    history = naive.train(weights, biases, oracle_activations(net), loss, X, Y, lr, epochs,
                          batch_size=len(X) if batch_size is None else batch_size,
                          optimizer=make_optimizer(), sample_weight=sample_weight, **oracle)
    net.fit(X, y, sample_weight=sample_weight)
    return net, weights, biases, history


def assert_matches(net, weights, biases, history, atol):
    for ours, theirs in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)
    np.testing.assert_allclose(net.history["loss"], history["loss"], rtol=max(atol, 1e-10))
    np.testing.assert_allclose(net.history["lr"], history["lr"], rtol=1e-15)


# Batches of 128 on two threads are cut into two parts of 64 (config.MIN_PART_ROWS).
@pytest.mark.parametrize("batch_size, n_jobs", [(1, None), (32, None), (None, None), (128, 2)])
@pytest.mark.parametrize("case", CASES, ids=[case[1] for case in CASES])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimizers_match_oracle_float64(rng, optimizer, case, batch_size, n_jobs):
    result = fit_both(rng, optimizer, batch_size, case, n_jobs=n_jobs)
    assert_matches(*result, atol=1e-10)
    start = Network(case[0], seed=3).params
    assert np.abs(result[0].params - start).max() > 1e-5  # far more than the tolerance


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_optimizers_match_oracle_float32(rng, optimizer, batch_size):
    # Two epochs of 300 steps, each rounding every weight and moment in float32: the weights
    # drift from the float64 oracle by a few hundred float32 ulps of O(1) values at most, far
    # below the 1e-3 and more by which a wrong formula moves them.
    net, weights, biases, _ = fit_both(rng, optimizer, batch_size, dtype="float32")
    assert net.params.dtype == np.float32
    for ours, theirs in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=5e-5)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("optimizer", [None, *OPTIMIZERS])
def test_penalties_with_every_optimizer_match_oracle(rng, optimizer, batch_size):
    """Per sample, penalised plain SGD takes the optimizers' fused kernel too."""
    assert_matches(*fit_both(rng, optimizer, batch_size, l1=0.001, l2=0.01), atol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 32])
@pytest.mark.parametrize("schedule", [
    dict(lr_schedule="invscaling", power_t=0.5),
    dict(lr_schedule="invscaling", power_t=0.25),
    dict(lr_schedule=lambda epoch, lr: lr * 0.5 if epoch % 2 else lr * 1.5),
])
@pytest.mark.parametrize("optimizer", [None, "momentum", "adam"])
def test_schedules_match_oracle(rng, optimizer, schedule, batch_size):
    net, *result = fit_both(rng, optimizer, batch_size, epochs=3, **schedule)
    assert_matches(net, *result, atol=1e-10)
    assert len(set(net.history["lr"])) == 3


@pytest.mark.parametrize("batch_size", [1, 32, None])
@pytest.mark.parametrize("optimizer", [None, "momentum", "adam"])
def test_sample_weights_match_oracle(rng, optimizer, batch_size):
    weights = np.random.default_rng(7).uniform(0, 3, 300)
    weights[::5] = 0
    assert_matches(*fit_both(rng, optimizer, batch_size, sample_weight=weights), atol=1e-10)


def test_class_weight_is_the_oracles_sample_weight(rng):
    X, y, _ = make_data(rng, [5, 4, 3], "softmax", n=200)
    y[:120] = 0  # unbalanced classes
    expected = naive.class_sample_weights(y, "balanced") * np.linspace(0.5, 2, 200)
    settings = dict(seed=0, epochs=1, shuffle=False)
    ours = Network([5, 4, 3], **settings).fit(X, y, sample_weight=np.linspace(0.5, 2, 200),
                                              class_weight="balanced")
    theirs = Network([5, 4, 3], **settings).fit(X, y, sample_weight=expected)
    np.testing.assert_array_equal(ours.params, theirs.params)
    by_dict = Network([5, 4, 3], **settings).fit(X, y, class_weight={0: 0.5, 2: 3})
    theirs = Network([5, 4, 3], **settings).fit(
        X, y, sample_weight=naive.class_sample_weights(y, {0: 0.5, 2: 3}))
    np.testing.assert_array_equal(by_dict.params, theirs.params)


def test_weights_two_and_zero_per_sample_equal_the_kept_samples_at_twice_the_rate(rng):
    X, y, _ = make_data(rng, [13, 11, 3], "softmax", n=300)
    settings = dict(seed=0, epochs=2, shuffle=False)
    weighted = Network([13, 11, 3], lr=0.05, **settings).fit(
        X, y, sample_weight=np.tile([2.0, 0.0], 150))
    kept = Network([13, 11, 3], lr=0.1, **settings).fit(X[::2], y[::2])
    np.testing.assert_array_equal(weighted.params, kept.params)
    np.testing.assert_allclose(weighted.history["loss"], kept.history["loss"], rtol=1e-12)


@pytest.mark.parametrize("optimizer", [None, "momentum", "adam"])
def test_full_batch_integer_weights_equal_repeated_rows(rng, optimizer):
    X, y, _ = make_data(rng, [13, 11, 3], "softmax", n=100)
    counts = np.random.default_rng(1).integers(0, 4, 100)
    given = OPTIMIZERS[optimizer][0] if optimizer else {}
    settings = dict(seed=0, epochs=3, batch_size=None, lr=0.05, **given)
    weighted = Network([13, 11, 3], **settings).fit(X, y, sample_weight=counts)
    repeated = Network([13, 11, 3], **settings).fit(np.repeat(X, counts, axis=0),
                                                    np.repeat(y, counts))
    np.testing.assert_allclose(weighted.params, repeated.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weighted.history["loss"], repeated.history["loss"], rtol=1e-12)


def continued(net, how, tmp_path):
    """``net`` after one fit, carried on as ``how`` says: refitted, pickled, saved and loaded."""
    if how == "pickled":
        return pickle.loads(pickle.dumps(net))
    if how == "saved":
        net.save(tmp_path / "net.npz")
        return load(tmp_path / "net.npz")
    return net


@pytest.mark.parametrize("how", ["refitted", "pickled", "saved"])
@pytest.mark.parametrize("batch_size", [1, 16])
@pytest.mark.parametrize("optimizer", [None, "momentum", "adam"])
def test_two_fits_of_two_epochs_equal_one_of_four(rng, tmp_path, optimizer, batch_size, how):
    X, y, _ = make_data(rng, [13, 11, 3], "softmax", n=200)
    given = OPTIMIZERS[optimizer][0] if optimizer else {}
    settings = dict(seed=5, batch_size=batch_size, lr=0.02, lr_schedule="invscaling", **given)
    whole = Network([13, 11, 3], epochs=4, **settings).fit(X, y)
    net = Network([13, 11, 3], epochs=2, **settings).fit(X, y)
    net = continued(net, how, tmp_path).fit(X, y)
    np.testing.assert_array_equal(net.params, whole.params)
    assert net.history["lr"] == whole.history["lr"]
    assert net.get_state()["optimizer_state"]["steps"] == whole.get_state()[
        "optimizer_state"]["steps"] == 4 * -(-200 // batch_size)


def test_changing_the_optimizer_starts_its_state_anew(rng):
    X, y, _ = make_data(rng, [13, 11, 3], "softmax", n=100)
    net = Network([13, 11, 3], seed=0, epochs=1, optimizer="adam").fit(X, y)
    assert net.get_state()["optimizer_state"]["steps"] == 100
    fresh = Network.from_state({**net.get_state(), "optimizer_state": None})
    for network in (net, fresh):
        network.optimizer, network.momentum = "sgd", 0.9
        network.fit(X, y)
    np.testing.assert_array_equal(net.params, fresh.params)
    state = net.get_state()["optimizer_state"]
    assert (state["optimizer"], state["steps"], set(state["arrays"])) == ("sgd", 100, {"m"})


@pytest.mark.parametrize("weights, message", [
    (np.ones(99), r"one weight per sample \(100\)"),
    (np.ones((100, 1)), "one weight per sample"),
    (-np.ones(100), "must not be negative"),
    (np.r_[np.nan, np.ones(99)], "NaN"),
    (np.r_[np.inf, np.ones(99)], "infinity"),
    (np.zeros(100), "every sample weight is zero"),
    (["a"] * 100, "sample_weight"),
])
def test_bad_sample_weights_are_refused_before_training(rng, weights, message):
    X, y, _ = make_data(rng, [13, 11, 3], "softmax", n=100)
    net = Network([13, 11, 3], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        net.fit(X, y, sample_weight=weights)
    np.testing.assert_array_equal(net.params, before)
    assert net.get_state()["optimizer_state"] is None


@pytest.mark.parametrize("output, class_weight, message", [
    ("softmax", "balance", "class_weight must be a dict"),
    ("softmax", {0: np.nan}, r"class_weight\[0\] must be a finite number"),
    ("softmax", {0: -1.0}, "must not be negative"),
    ("softmax", {0: 0, 1: 0, 2: 0}, "every sample weight is zero"),
    ("identity", "balanced", "class_weight needs class labels"),
])
def test_bad_class_weights_are_refused(rng, output, class_weight, message):
    sizes = [13, 11, 3]
    X, y, _ = make_data(rng, sizes, output, n=100)
    with pytest.raises(ValueError, match=message):
        Network(sizes, output=output).fit(X, y, class_weight=class_weight)


def test_invscaling_rates_follow_the_samples_seen(rng):
    X, y, _ = make_data(rng, [13, 11, 3], "softmax", n=100)
    net = Network([13, 11, 3], lr=0.1, epochs=3, lr_schedule="invscaling", power_t=0.5).fit(X, y)
    assert net.history["lr"] == [0.1 / (t + 1) ** 0.5 for t in (0, 100, 200)]
