"""Settings belong to the network: copied when given, checked when the network is built and
again before ``fit`` and ``save``, and whatever is accepted can be saved and loaded back."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

import fastnn
from fastnn import DivergenceWarning, Network


@pytest.fixture
def blobs():
    return make_blobs(120, centers=3, n_features=4, random_state=0)


def test_a_list_given_as_activation_is_copied():
    names = ["relu", "tanh"]
    net = Network([4, 5, 5, 2], activation=names)
    names[0] = "sigmoid"
    assert net.activation == ("relu", "tanh")
    assert isinstance(net.sizes, list) and net.sizes == [4, 5, 5, 2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(activation="sigmoidd", sizes=[4, 2]), "unknown activation 'sigmoidd'"),  # no hidden
    (dict(activation=["relu"], sizes=[4, 2]), "1 names for 0 hidden layers"),
    (dict(activation=3), "activation must be a name or a list"),
    (dict(init=["glorot"]), "unknown init"),
    (dict(dtype=["float32"]), "unknown dtype"),
    (dict(sizes=[4, True, 2]), "sizes"),
    (dict(sizes=4), "sizes"),
    (dict(sizes=[4.0, 3, 2]), "sizes"),
    (dict(lr=True), "lr must be"),
    (dict(lr="0.1"), "lr must be"),
    (dict(lr=10**400), "lr must be"),
    (dict(l2=np.inf), "l2 must be"),
    (dict(l1=False), "l1 must be"),
    (dict(epochs=True), "epochs must be"),
    (dict(epochs=2.0), "epochs must be"),
    (dict(batch_size=np.True_), "batch_size must be"),
    (dict(n_jobs=True), "n_jobs must be"),
    (dict(shuffle="yes"), "shuffle must be True or False"),
    (dict(verbose=1), "verbose must be True or False"),
    (dict(on_divergence=None), "unknown on_divergence"),
    (dict(sparse_inputs=1), "sparse_inputs must be"),
    (dict(device=None), "unknown device"),
    (dict(seed=-1), "seed must be"),
    (dict(seed=1.5), "seed must be"),
    (dict(seed=True), "seed must be"),
    (dict(seed=np.random.RandomState(0)), "seed must be"),
    (dict(lr=1e-50, dtype="float32"), r"lr=1e-50 rounds to zero in float32"),
    (dict(lr=1e40, dtype="float32"), r"lr=1e\+40 overflows in float32"),
    (dict(l2=1e-60, dtype="float32"), r"l2=1e-60 rounds to zero in float32"),
    (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
    (dict(momentum=1.0), r"momentum must be a number in \[0, 1\)"),
    (dict(momentum=-0.1), "momentum must be"),
    (dict(momentum=True), "momentum must be"),
    (dict(nesterov=True), "nesterov=True needs a momentum above 0"),
    (dict(nesterov="yes", momentum=0.9), "nesterov must be True or False"),
    (dict(beta_1=1.0, optimizer="adam"), "beta_1 must be"),
    (dict(beta_2=np.nan, optimizer="adam"), "beta_2 must be"),
    (dict(epsilon=0.0, optimizer="adam"), "epsilon must be a positive"),
    (dict(epsilon=1e-50, dtype="float32"), "epsilon=1e-50 rounds to zero in float32"),
    (dict(lr_schedule="adaptive"), "unknown lr_schedule 'adaptive'"),
    (dict(power_t=-0.5), "power_t must be"),
])
def test_settings_of_the_wrong_type_range_or_precision_are_refused(kwargs, message):
    kwargs = {"sizes": [4, 3, 2], **kwargs}
    with pytest.raises(ValueError, match=message):
        Network(**kwargs)


def test_numpy_integers_of_any_width_are_integers(blobs):
    X, y = blobs
    net = Network([np.int8(4), np.uint16(5), np.int64(3)], epochs=np.int32(1),
                  batch_size=np.uint8(16), n_jobs=np.int16(2), seed=np.uint32(7),
                  lr=np.float32(0.1))
    assert net.sizes == [4, 5, 3] and type(net.sizes[0]) is int and net.seed == 7
    net.fit(X, y)
    assert len(net.history["loss"]) == 1


def test_a_generator_seed_is_copied_never_shared_or_advanced(blobs, tmp_path):
    X, y = blobs
    rng = np.random.default_rng(42)
    before = rng.bit_generator.state
    first, second = (Network([4, 6, 3], epochs=2, seed=rng) for _ in range(2))
    assert rng.bit_generator.state == before  # the caller's generator did not move
    np.testing.assert_array_equal(first.params, second.params)
    first.fit(X, y)
    second.fit(X, y)
    np.testing.assert_array_equal(first.params, second.params)
    fastnn.train_many([Network([4, 6, 3], epochs=2, seed=rng) for _ in range(2)], X, y)
    assert rng.bit_generator.state == before
    first.save(tmp_path / "model.npz")  # a Generator seed is saved as its state
    loaded = fastnn.load(tmp_path / "model.npz")
    assert loaded.seed.bit_generator.state == before
    loaded.fit(X, y)
    first.fit(X, y)
    np.testing.assert_array_equal(loaded.params, first.params)


def test_a_seed_sequence_seed_trains_alike_and_round_trips(blobs, tmp_path):
    X, y = blobs
    sequence = np.random.SeedSequence(2024)
    net = Network([4, 6, 3], epochs=1, seed=sequence).fit(X, y)
    same = Network([4, 6, 3], epochs=1, seed=np.random.SeedSequence(2024)).fit(X, y)
    np.testing.assert_array_equal(net.params, same.params)
    net.save(tmp_path / "model.npz")
    assert fastnn.load(tmp_path / "model.npz").seed.entropy == 2024


def test_the_seed_is_fixed_at_construction():
    net = Network([4, 3, 2], seed=1)
    with pytest.raises(AttributeError):
        net.seed = 2


@pytest.mark.parametrize("change, message", [
    (dict(lr=0), "lr must be"), (dict(epochs=-1), "epochs must be"),
    (dict(shuffle=None), "shuffle must be"), (dict(lr=1e-50), "rounds to zero"),
])
def test_settings_changed_later_are_checked_before_fit_and_save(blobs, tmp_path, change,
                                                                message):
    X, y = blobs
    net = Network([4, 6, 3], dtype="float32", seed=0)
    for name, value in change.items():
        setattr(net, name, value)
    with pytest.raises(ValueError, match=message):
        net.fit(X, y)
    with pytest.raises(ValueError, match=message):
        net.save(tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()
    assert net.history == {"loss": [], "seconds": []}


SETTING_VALUES = {
    "lr": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                    st.booleans(), st.just("0.1"), st.none()),
    "l2": st.one_of(st.floats(-1, 1e39), st.just(0), st.booleans()),
    "epochs": st.one_of(st.integers(-2, 3), st.floats(0, 3), st.booleans(), st.none()),
    "batch_size": st.one_of(st.integers(-1, 50), st.none(), st.booleans(), st.floats(1, 4)),
    "n_jobs": st.one_of(st.integers(-3, 3), st.none(), st.booleans()),
    "shuffle": st.one_of(st.booleans(), st.integers(0, 1), st.none()),
    "seed": st.one_of(st.integers(-5, 2**64), st.none(), st.floats(0, 5), st.booleans()),
    "dtype": st.sampled_from(["float64", "float32", np.float32, "float16", "int"]),
    "activation": st.one_of(st.sampled_from(["relu", "tanh", "nope"]),
                            st.lists(st.sampled_from(["relu", "sigmoid", "x"]), max_size=2)),
    "sparse_inputs": st.one_of(st.sampled_from(["auto", True, False, "yes", 1, None])),
    "optimizer": st.sampled_from(["sgd", "adam", "nope"]),
    "momentum": st.one_of(st.floats(-0.5, 1.5), st.booleans()),
    "nesterov": st.one_of(st.booleans(), st.none()),
    "beta_2": st.one_of(st.floats(-0.5, 1.5), st.none()),
    "epsilon": st.one_of(st.floats(-1, 1), st.just(1e-300)),
    "lr_schedule": st.sampled_from(["constant", "invscaling", "adaptive"]),
    "power_t": st.one_of(st.floats(-1, 2), st.none()),
}


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional=SETTING_VALUES))
def test_any_settings_are_refused_at_once_or_fit_save_and_load_exactly(tmp_path, blobs, drawn):
    """Whatever a user passes, the network is refused at construction with a ValueError, or
    it trains, and the file it saves loads back as the same network."""
    X, y = blobs
    try:
        net = Network([4, 5, 3], **drawn)
    except ValueError:
        return
    net.epochs, net.on_divergence = min(net.epochs, 1), "warn"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # a drawn lr may well diverge
        net.fit(X[:40], y[:40])
        path = tmp_path / "drawn.npz"
        net.save(path)
        loaded = fastnn.load(path)
        np.testing.assert_array_equal(loaded.params, net.params)
        assert repr(loaded) == repr(net)
        np.testing.assert_equal(loaded.history, net.history)  # NaN where an epoch diverged
        loaded.fit(X[:40], y[:40])
        net.fit(X[:40], y[:40])
    np.testing.assert_array_equal(loaded.params, net.params)
