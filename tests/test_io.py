"""Save and load: exact round trips, NumPy-readable files, and refusal of anything else."""

import json
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import fastnn
from fastnn import ModelFileError, Network


@pytest.fixture
def trained(tmp_path):
    X, y = make_blobs(300, centers=3, n_features=5, random_state=0)
    net = Network([5, 8, 3], activation="tanh", epochs=2, seed=4, dtype="float32", l2=1e-3)
    net.fit(X, y, validation_data=(X, y))
    path = tmp_path / "model.npz"
    net.save(path)
    return net, path, X, y


def test_round_trip_is_bit_exact(trained):
    net, path, X, _ = trained
    loaded = fastnn.load(path)
    assert loaded.params.dtype == np.float32
    np.testing.assert_array_equal(loaded.params, net.params)
    assert repr(loaded) == repr(net)
    assert loaded.history == net.history
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))


def test_loaded_network_continues_training_exactly_as_the_original(trained):
    net, path, X, y = trained
    loaded = fastnn.load(path)
    net.fit(X, y)
    loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.params, net.params)


def test_weights_are_readable_with_numpy_alone(trained):
    net, path, _, _ = trained
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["weights_0"], net.weights[0])
        np.testing.assert_array_equal(archive["biases_1"], net.biases[1])
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["sizes"] == [5, 8, 3] and metadata["format_version"] == 1


def test_saving_replaces_the_old_file_only_when_complete(trained, monkeypatch):
    net, path, X, y = trained
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    net.fit(X, y)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["model.npz"]  # no temporary left


def test_missing_file_is_reported_as_such(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastnn.load(tmp_path / "nothing.npz")


def _rewrite(path, **changes):
    """Save a copy of the model at ``path`` with some arrays replaced or removed (None)."""
    with np.load(path) as archive:
        arrays = dict(archive)
    for name, value in changes.items():
        if value is None:
            arrays.pop(name)
        else:
            arrays[name] = value
    np.savez(path, **arrays)


def _metadata(path, **changes):
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    return np.array(json.dumps({**metadata, **changes}))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable fastnn network"),
    (lambda p: p.write_bytes(b"hello"), "not a readable fastnn network"),
    (lambda p: np.savez(p, x=np.arange(3)), "not a readable fastnn network"),
    (lambda p: _rewrite(p, metadata=np.array("{}")), "no fastnn network metadata"),
    (lambda p: _rewrite(p, metadata=_metadata(p, format_version=2)), "format version 2"),
    (lambda p: _rewrite(p, weights_0=np.zeros((8, 4), np.float32)), r"weights_0 is float32\[8, 4\]"),
    (lambda p: _rewrite(p, biases_1=np.zeros(3)), r"biases_1 is float64\[3\]"),
    (lambda p: _rewrite(p, biases_1=None), "arrays"),
    (lambda p: _rewrite(p, metadata=_metadata(p, sizes="5-8-3")), "sizes"),
    (lambda p: _rewrite(p, metadata=_metadata(p, history={"loss": "low"})), "history"),
    (lambda p: _rewrite(p, metadata=_metadata(p, rng_state=7)), "not a readable"),
    (lambda p: _rewrite(p, metadata=np.array([1, 2])), "not a readable"),
    (lambda p: np.savez(p, metadata=np.array([object()], dtype=object)), "not a readable"),
])
def test_damaged_or_foreign_files_are_refused_clearly(trained, damage, message):
    _, path, _, _ = trained
    damage(path)
    with pytest.raises(ModelFileError, match=message):
        fastnn.load(path)


def test_a_flipped_byte_in_the_weights_is_caught_by_the_zip_checksum(trained):
    _, path, _, _ = trained
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("weights_0.npy")
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # inside the array bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="CRC|Bad"):
        fastnn.load(path)
