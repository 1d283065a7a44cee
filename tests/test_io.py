"""Save and load: exact round trips, NumPy-readable files, and refusal of anything else."""

import io
import json
import os
import re
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import fastnn
from fastnn import ModelFileError, Network


@pytest.fixture
def trained(tmp_path):
    X, y = make_blobs(300, centers=3, n_features=5, random_state=0)
    net = Network([5, 8, 3], activation="tanh", epochs=2, seed=4, dtype="float32", l2=1e-3,
                  optimizer="adam")  # its file holds both moments
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
    assert metadata["sizes"] == [5, 8, 3] and metadata["format_version"] == 2


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


def _optimizer_metadata(path, **changes):
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    metadata["optimizer_state"].update(changes)
    return np.array(json.dumps(metadata))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable fastnn network"),
    (lambda p: p.write_bytes(b"hello"), "not a readable fastnn network"),
    (lambda p: np.savez(p, x=np.arange(3)), "not a readable fastnn network"),
    (lambda p: _rewrite(p, metadata=np.array("{}")), "no fastnn network metadata"),
    (lambda p: _rewrite(p, metadata=_metadata(p, format_version=3)),
     "format version 3"),
    (lambda p: _rewrite(p, weights_0=np.zeros((8, 4), np.float32)),
     r"weights_0 is float32\[8, 4\]"),
    (lambda p: _rewrite(p, biases_1=np.zeros(3)), r"biases_1 is float64\[3\]"),
    (lambda p: _rewrite(p, biases_1=None), "arrays"),
    (lambda p: _rewrite(p, metadata=_metadata(p, sizes="5-8-3")), "sizes"),
    (lambda p: _rewrite(p, metadata=_metadata(p, history={"loss": "low"})), "history"),
    (lambda p: _rewrite(p, metadata=_metadata(p, rng_state=7)), "not a readable"),
    (lambda p: _rewrite(p, metadata=np.array([1, 2])), "not a readable"),
    (lambda p: np.savez(p, metadata=np.array([object()], dtype=object)), "not a readable"),
    (lambda p: _rewrite(p, optimizer_v=None), "arrays"),
    (lambda p: _rewrite(p, optimizer_m=np.zeros(3, np.float32)), r"optimizer_m is float32\[3\]"),
    (lambda p: _rewrite(p, optimizer_m=np.zeros(67)), r"optimizer_m is float64\[67\]"),
    (lambda p: _rewrite(p, metadata=_optimizer_metadata(p, arrays=["m", "w"])), "'m' or 'v'"),
    (lambda p: _rewrite(p, metadata=_optimizer_metadata(p, steps=-1)), "step and sample counts"),
    (lambda p: _rewrite(p, metadata=_optimizer_metadata(p, optimizer="rmsprop")), "rmsprop"),
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


def _only_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_save_refuses_what_load_would_refuse_before_touching_the_file(trained):
    net, path, _, _ = trained
    before = path.read_bytes()
    net.lr = 0
    with pytest.raises(ValueError, match="lr must be"):
        net.save(path)
    net.lr = 0.1
    net.history["loss"].append("low")
    with pytest.raises(ValueError, match=r"not saving to .*model\.npz.*history"):
        net.save(path)
    assert path.read_bytes() == before and _only_files(path.parent) == ["model.npz"]


def test_save_onto_a_folder_names_it_and_leaves_no_temporary_file(trained):
    net, path, _, _ = trained
    folder = path.parent / "a-folder"
    folder.mkdir()
    with pytest.raises(OSError, match=rf"cannot save the network to {re.escape(str(folder))}"):
        net.save(folder)
    assert _only_files(path.parent) == ["a-folder", "model.npz"]


def test_save_into_a_missing_folder_names_the_destination(trained):
    net, path, _, _ = trained
    destination = path.parent / "missing" / "model.npz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(destination))):
        net.save(destination)


def test_a_failed_rename_removes_the_temporary_file(trained, monkeypatch):
    net, path, _, _ = trained
    before = path.read_bytes()

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied", source)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError, match=rf"to {re.escape(str(path))}: Permission denied"):
        net.save(path)
    assert path.read_bytes() == before and _only_files(path.parent) == ["model.npz"]


def test_save_keeps_the_files_permissions_or_the_umask(trained):
    net, path, _, _ = trained
    os.chmod(path, 0o600)
    net.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    umask = os.umask(0o027)
    try:
        net.save(path.parent / "new.npz")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(path.parent / "new.npz").st_mode) == 0o640


def _npz_with(path, members):
    """An uncompressed .npz whose members are the given raw ``.npy`` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)


def _npy(array=None, header_shape=None, dtype="<f8"):
    """The ``.npy`` bytes of ``array``, or a bare header claiming ``header_shape``."""
    buffer = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(buffer, np.asarray(array))
    else:
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": dtype, "fortran_order": False, "shape": header_shape})
        buffer.write(b"\0" * 64)
    return buffer.getvalue()


@pytest.mark.parametrize("claim", ["metadata", "header"])
def test_a_file_claiming_huge_arrays_is_refused_without_allocating(trained, tmp_path, claim):
    """Neither the metadata's sizes nor an array's header can make load allocate more than
    the file holds: both are checked against each other and against the file's bytes first."""
    _, path, _, _ = trained
    with np.load(path) as archive:
        members = {name: _npy(archive[name]) for name in archive.files}
        metadata = json.loads(str(archive["metadata"]))
    huge = 10**6
    if claim == "metadata":
        metadata["sizes"] = [huge, huge]
    else:
        members["weights_0"] = _npy(header_shape=(8, huge), dtype="<f4")
        metadata["sizes"] = [huge, 8, 3]
    members["metadata"] = _npy(np.array(json.dumps(metadata)))
    forged = tmp_path / "forged.npz"
    _npz_with(forged, members)
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="forged.npz is not a readable"):
            fastnn.load(forged)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * forged.stat().st_size + 2**20


def test_compressed_members_are_refused(trained, tmp_path):
    _, path, _, _ = trained
    with np.load(path) as archive:
        arrays = dict(archive)
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    with pytest.raises(ModelFileError, match="not an uncompressed array"):
        fastnn.load(tmp_path / "compressed.npz")


def test_the_optimizer_state_is_saved_as_arrays(trained):
    net, path, _, _ = trained
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
        arrays = net.get_state()["optimizer_state"]["arrays"]
        for name in ("m", "v"):
            np.testing.assert_array_equal(archive[f"optimizer_{name}"], arrays[name])
    assert metadata["optimizer_state"] == {"optimizer": "adam", "steps": 600, "samples": 600,
                                           "arrays": ["m", "v"]}


def test_a_version_1_file_loads_with_its_optimizer_started_anew(trained):
    net, path, X, y = trained
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    del metadata["optimizer_state"]
    _rewrite(path, metadata=np.array(json.dumps({**metadata, "format_version": 1})),
             optimizer_m=None, optimizer_v=None)
    loaded = fastnn.load(path)
    np.testing.assert_array_equal(loaded.params, net.params)
    assert loaded.get_state()["optimizer_state"] is None
    fresh = Network.from_state({**net.get_state(), "optimizer_state": None})
    np.testing.assert_array_equal(loaded.fit(X, y).params, fresh.fit(X, y).params)


def test_a_function_schedule_is_refused_before_the_file_is_touched(trained):
    net, path, _, _ = trained
    before = path.read_bytes()
    net.lr_schedule = lambda epoch, lr: lr
    with pytest.raises(ValueError, match="lr_schedule is a function, which a file cannot hold"):
        net.save(path)
    assert path.read_bytes() == before
