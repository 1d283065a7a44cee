"""The network file format: one ``.npz`` of plain arrays plus JSON metadata.

Nothing is pickled, so loading a file cannot run code, and the weights stay readable with
NumPy alone (``np.load(path)["weights_0"]``). The metadata (the settings, the shuffling
generator's state and the history) lets a loaded network continue training exactly as the
saved one would have. This module reads and writes a network's state (see
``Network.get_state``); it never builds a network itself.
"""

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from . import layout as lay
from ._version import __version__
from .errors import ModelFileError
from .settings import check_dtype, check_sizes

FORMAT = "fastnn-network"
FORMAT_VERSION = 1
# Metadata entries that are not settings.
BOOKKEEPING = ("format", "format_version", "fastnn_version", "rng_state", "history")


def save(state, path):
    """Write a network's ``state`` to ``path`` (conventionally ``*.npz``), replacing it
    atomically.

    The file is written beside its destination under a temporary name and renamed over it
    only once complete, so a crash mid-save leaves any previous file intact.
    """
    settings = state["settings"]
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastnn_version": __version__,
        **{name: _plain(value) for name, value in settings.items()},
        "rng_state": state["rng_state"],
        "history": state["history"],
    }
    table = lay.layer_table(settings["sizes"])
    layers = _layer_arrays(lay.weight_views(state["params"], table),
                           lay.bias_views(state["params"], table))
    arrays = {**layers, "metadata": np.array(json.dumps(metadata))}
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


def _layer_arrays(weights, biases):
    """``{"weights_0": W0, "biases_0": b0, ...}``: the file's name for each layer array."""
    arrays = {f"weights_{layer}": w for layer, w in enumerate(weights)}
    arrays.update({f"biases_{layer}": b for layer, b in enumerate(biases)})
    return arrays


def _plain(value):
    """``value`` as a JSON-ready Python object (NumPy scalars become Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


# What reading a damaged file can raise, from the zip, zlib, NumPy and JSON layers, and what
# rebuilding a network from settings that no network has can raise.
_READ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, OverflowError,
                zipfile.BadZipFile, zlib.error)


def load(path, build):
    """``build(state)`` for the network state saved at ``path``; ``ModelFileError`` if the
    file is not a network this version can read, or ``build`` refuses what it holds."""
    try:
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        metadata = json.loads(str(arrays.pop("metadata")))
        _check_format(metadata)
        state = {
            "settings": {k: v for k, v in metadata.items() if k not in BOOKKEEPING},
            "params": _flat_parameters(arrays, metadata["sizes"], metadata["dtype"]),
            "rng_state": metadata["rng_state"],
            "history": _checked_history(metadata["history"]),
        }
        return build(state)
    except (ModelFileError, FileNotFoundError):
        raise
    except _READ_ERRORS as exc:
        raise ModelFileError(f"{path} is not a readable fastnn network: "
                             f"{type(exc).__name__}: {exc}") from exc


def _check_format(metadata):
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError("the file holds no fastnn network metadata")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"format version {version!r} is not {FORMAT_VERSION}, the one "
                             f"fastnn {__version__} reads")


def _flat_parameters(arrays, sizes, dtype):
    """The flat parameter vector from the file's layer arrays, each checked against the
    shape that ``sizes`` gives it and against ``dtype`` before anything is allocated."""
    sizes, dtype = check_sizes(sizes), np.dtype(check_dtype(dtype))
    table = lay.layer_table(sizes)
    shapes = _layer_arrays([(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])],
                           [(n_out,) for n_out in sizes[1:]])
    if set(arrays) != set(shapes):
        raise ModelFileError(f"the file's arrays {sorted(arrays)} are not the network's "
                             f"{sorted(shapes)}")
    for name, shape in shapes.items():
        saved = arrays[name]
        if saved.shape != shape or saved.dtype != dtype:
            raise ModelFileError(f"{name} is {saved.dtype}{list(saved.shape)}, the network "
                                 f"needs {dtype}{list(shape)}")
    params = np.empty(lay.n_params(table), dtype)
    targets = _layer_arrays(lay.weight_views(params, table), lay.bias_views(params, table))
    for name, target in targets.items():
        target[...] = arrays[name]
    return params


def _checked_history(history):
    if not (isinstance(history, dict)
            and all(isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
                    for v in history.values())):
        raise ModelFileError("the training history is not a mapping of per-epoch numbers")
    return history
