"""Saving and loading trained networks: one ``.npz`` of plain arrays plus JSON metadata.

Nothing is pickled, so loading a file cannot run code, and the weights stay readable with
NumPy alone (``np.load(path)["weights_0"]``). The metadata (architecture, settings, the
shuffling generator's state and the history) lets a loaded network continue training exactly
as the saved one would have.
"""

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import __version__
from .network import Network

FORMAT = "fastnn-network"
FORMAT_VERSION = 1
# Settings saved and restored as constructor arguments.
ARCHITECTURE = ("activation", "output", "loss", "init")
SETTINGS = ("lr", "epochs", "batch_size", "shuffle", "seed", "l1", "l2", "on_divergence",
            "n_jobs", "verbose")


class ModelFileError(ValueError):
    """A file is not a fastnn network this version can read: damaged, foreign or too new."""


def save(network, path):
    """Write ``network`` to ``path`` (conventionally ``*.npz``), replacing it atomically.

    The file is written beside its destination under a temporary name and renamed over it
    only once complete, so a crash mid-save leaves any previous file intact.
    """
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastnn_version": __version__,
        "sizes": network.sizes,
        "dtype": network.dtype.name,
        **{name: _plain(getattr(network, name)) for name in ARCHITECTURE + SETTINGS},
        "rng_state": network._rng.bit_generator.state,
        "history": network.history,
    }
    arrays = {**_layer_arrays(network), "metadata": np.array(json.dumps(metadata))}
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".fastnn-", suffix=".tmp",
                                     delete=False) as tmp:
        try:
            np.savez(tmp, **arrays)
            tmp.flush()
            os.fsync(tmp.fileno())
            os.chmod(tmp.name, 0o644)  # temporary files are private; a model is for sharing
        except BaseException:
            tmp.close()
            os.remove(tmp.name)
            raise
    os.replace(tmp.name, path)


def _layer_arrays(network):
    """``{"weights_0": W0, "biases_0": b0, ...}``: the network's parameter views by file name."""
    arrays = {f"weights_{layer}": w for layer, w in enumerate(network.weights)}
    arrays.update({f"biases_{layer}": b for layer, b in enumerate(network.biases)})
    return arrays


def _plain(value):
    """``value`` as a JSON-ready Python object (NumPy scalars become Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


# What reading a damaged file can raise, from the zip, zlib, NumPy and JSON layers.
_READ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, OverflowError,
                zipfile.BadZipFile, zlib.error)


def load(path):
    """The network saved at ``path``; ``ModelFileError`` if the file is not one."""
    try:
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        metadata = json.loads(str(arrays.pop("metadata")))
        _check_format(metadata)
        network = Network(metadata["sizes"], dtype=metadata["dtype"],
                          **{name: metadata[name] for name in ARCHITECTURE + SETTINGS})
        _restore_parameters(network, arrays)
        network._rng.bit_generator.state = metadata["rng_state"]
        network.history = _checked_history(metadata["history"])
    except (ModelFileError, FileNotFoundError):
        raise
    except _READ_ERRORS as exc:
        raise ModelFileError(f"{path} is not a readable fastnn network: "
                             f"{type(exc).__name__}: {exc}") from exc
    return network


def _check_format(metadata):
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError("the file holds no fastnn network metadata")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"format version {version!r} is not {FORMAT_VERSION}, the one "
                             f"fastnn {__version__} reads")


def _restore_parameters(network, arrays):
    """Copy the saved layer arrays into ``network``, refusing any shape or dtype mismatch."""
    expected = _layer_arrays(network)
    if set(arrays) != set(expected):
        raise ModelFileError(f"the file's arrays {sorted(arrays)} are not the network's "
                             f"{sorted(expected)}")
    for name, target in expected.items():
        saved = arrays[name]
        if saved.shape != target.shape or saved.dtype != target.dtype:
            raise ModelFileError(f"{name} is {saved.dtype}{list(saved.shape)}, the network "
                                 f"needs {target.dtype}{list(target.shape)}")
        target[...] = saved


def _checked_history(history):
    if not (isinstance(history, dict)
            and all(isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
                    for v in history.values())):
        raise ModelFileError("the training history is not a mapping of per-epoch numbers")
    return history
