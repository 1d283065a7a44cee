"""A network's state: pickling, copying and joblib rebuild ``weights``/``biases`` as views of
the restored ``params``, and the copy trains on exactly as the original would."""

import copy
import pickle

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from fastnn import Network

from .helpers import rows_for


@pytest.fixture
def blobs():
    return make_blobs(300, centers=3, n_features=5, random_state=0)


def _pickled(net):
    return pickle.loads(pickle.dumps(net))


def _deep_copied(net):
    return copy.deepcopy(net)


def _through_joblib(net, tmp_path):
    joblib.dump(net, tmp_path / "net.joblib")
    return joblib.load(tmp_path / "net.joblib")


COPIES = {"pickle": lambda net, _: _pickled(net), "deepcopy": lambda net, _: _deep_copied(net),
          "joblib": _through_joblib}


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("batch_size", [1, 16])
def test_a_copy_trains_its_own_views_exactly_as_the_original(blobs, tmp_path, backend, how,
                                                              batch_size):
    if backend == "cuda" and how != "pickle":
        pytest.skip("copying is the host's work, the same for every trainer: pickling covers "
                    "the CUDA trainer's part (the simulator takes seconds per fit)")
    X, y = (data[:rows_for(backend, len(data))] for data in blobs)
    net = Network([5, 8, 3], epochs=2, seed=0, batch_size=batch_size, device=backend)
    net.fit(X, y)  # the copy takes over mid-stream: the shuffling generator has moved on
    clone = COPIES[how](net, tmp_path)
    assert not np.shares_memory(clone.params, net.params)
    before = [w.copy() for w in clone.weights]
    clone.fit(X, y)
    for weights, biases, old in zip(clone.weights, clone.biases, before):
        assert np.shares_memory(weights, clone.params) and np.shares_memory(biases, clone.params)
        assert not np.array_equal(weights, old)  # fit moved them: they are the trained arrays
    np.testing.assert_array_equal(np.concatenate([np.r_[w.ravel(), b] for w, b in
                                                  zip(clone.weights, clone.biases)]),
                                  clone.params)
    net.fit(X, y)
    np.testing.assert_array_equal(clone.params, net.params)
    assert clone.history["loss"] == net.history["loss"] and repr(clone) == repr(net)


def test_get_state_and_from_state_round_trip_without_sharing(blobs):
    X, y = blobs
    net = Network([5, 8, 3], activation="tanh", dtype="float32", epochs=1, seed=4, l2=1e-3,
                  n_jobs=2, batch_size=64, optimizer="adam").fit(X, y)
    state = net.get_state()
    assert set(state) == {"settings", "params", "optimizer_state", "rng_state", "history"}
    assert state["settings"]["dtype"] == "float32" and state["settings"]["n_jobs"] == 2
    rebuilt = Network.from_state(state)
    assert not np.shares_memory(rebuilt.params, net.params)
    rebuilt.params[0] += 1.0  # changing the copy leaves the original alone
    assert rebuilt.params[0] != net.params[0]
    moments = rebuilt.get_state()["optimizer_state"]["arrays"]
    assert set(moments) == {"m", "v"}
    for name, array in moments.items():
        assert not np.shares_memory(array, state["optimizer_state"]["arrays"][name])
        np.testing.assert_array_equal(array, state["optimizer_state"]["arrays"][name])


def test_settings_missing_from_a_state_take_their_defaults(blobs):
    net = Network([5, 8, 3], seed=0)
    state = net.get_state()
    del state["settings"]["sparse_inputs"], state["settings"]["device"]
    rebuilt = Network.from_state(state)
    assert (rebuilt.sparse_inputs, rebuilt.device) == ("auto", "cpu")


@pytest.mark.parametrize("change, message", [
    (lambda state: state["settings"].update(colour="blue"), "colour"),
    (lambda state: state.update(params=state["params"][:-1]), r"float64\[39\]"),
    (lambda state: state.update(params=state["params"].astype(np.float32)), r"float64\[39\]"),
    (lambda state: state["settings"].update(lr=-1.0), "lr must be"),
])
def test_a_state_no_network_has_is_refused(change, message):
    state = Network([5, 4, 3], seed=0).get_state()
    change(state)
    with pytest.raises((ValueError, TypeError), match=message):
        Network.from_state(state)


def test_rebinding_a_layer_array_is_refused_and_writing_into_it_works():
    net = Network([5, 4, 3], seed=0)
    with pytest.raises(TypeError, match=r"weights\[0\] is a view .* net.weights\[0\]\[\.\.\.\]"):
        net.weights[0] = np.zeros((4, 5))
    with pytest.raises(TypeError, match=r"biases\[1\] is a view"):
        net.biases[1] = np.zeros(3)
    with pytest.raises(AttributeError):
        net.weights = [np.zeros((4, 5)), np.zeros((3, 4))]
    net.weights[0][...] = 2.0
    assert (net.params[:20] == 2.0).all()
    assert isinstance(net.weights + net.biases, tuple) and len(net.weights) == 2
