"""The network file format: one ``.npz`` of plain arrays plus JSON metadata.

Nothing is pickled, so loading a file cannot run code, and the weights stay readable with
NumPy alone (``np.load(path)["weights_0"]``: each layer's part of the flat parameter vector).
The metadata (the settings, the optimizer's step counts, the shuffling generator's state and
the history) and the optimizer's state arrays (``optimizer_m``, ``optimizer_v``) let a loaded
network continue training exactly as the saved one would have. Version 1 files, written before
the optimizer state was kept, still load; their optimizer starts anew. This module reads and
writes a network's state (see ``Network.get_state``); building a network from one is left to the
``build`` function its callers pass.
"""

import contextlib
import json
import math
import os
import stat
import tempfile
import threading
import zipfile
import zlib

import numpy as np

from . import layout as lay
from ._version import __version__
from .errors import ModelFileError
from .settings import check_dtype, check_sizes, generator_from_state

FORMAT = "fastnn-network"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
# Metadata entries that are not settings.
BOOKKEEPING = ("format", "format_version", "fastnn_version", "optimizer_state", "rng_state",
               "history")
OPTIMIZER_ARRAY = "optimizer_{}"  # the file's name for an optimizer state array
# How a seed that is not an int or None is written: {tag: its state}.
GENERATOR_SEED, SEED_SEQUENCE_SEED = "numpy.random.Generator", "numpy.random.SeedSequence"


def save(state, path, build):
    """Write a network's ``state`` to ``path`` (conventionally ``*.npz``), replacing it
    atomically, once ``build`` has accepted the state exactly as ``load`` will read it back.

    The file is written beside its destination under a temporary name and renamed over it
    only once complete, so a crash mid-save leaves any previous file intact; on any failure
    the temporary file is removed. The file keeps the destination's permissions, or those the
    umask gives a new file, and errors name the destination.
    """
    try:
        metadata = json.dumps(_metadata(state))
        optimizer_state = state.get("optimizer_state")
        build(_state(json.loads(metadata), state["params"],
                     None if optimizer_state is None else optimizer_state["arrays"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not saving to {path}: the network would not load back "
                         f"({type(exc).__name__}: {exc}).") from exc
    arrays = {**_layer_views(state["params"], state["settings"]["sizes"]),
              **_optimizer_arrays(state.get("optimizer_state")), "metadata": np.array(metadata)}
    path = os.fspath(path)
    mode = _file_mode(path)
    try:
        tmp = tempfile.NamedTemporaryFile(dir=os.path.dirname(os.path.abspath(path)),
                                          prefix=".fastnn-", suffix=".tmp", delete=False)
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        with tmp:
            np.savez(tmp, **arrays)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, mode)
        os.replace(tmp.name, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp.name)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise


def _metadata(state):
    """The JSON-ready metadata of ``state``: its settings (a seed Generator or SeedSequence as
    its state), the generator's state and the history."""
    if callable(state["settings"].get("lr_schedule")):
        raise ValueError("lr_schedule is a function, which a file cannot hold: save with a "
                         "named schedule and set the function again after loading")
    settings = {name: _plain(value) for name, value in state["settings"].items()}
    seed = state["settings"].get("seed")
    if isinstance(seed, np.random.Generator):
        settings["seed"] = {GENERATOR_SEED: seed.bit_generator.state}
    elif isinstance(seed, np.random.SeedSequence):
        settings["seed"] = {SEED_SEQUENCE_SEED: {
            "entropy": seed.entropy, "spawn_key": list(seed.spawn_key),
            "pool_size": seed.pool_size, "n_children_spawned": seed.n_children_spawned}}
    optimizer_state = state.get("optimizer_state")
    if optimizer_state is not None:
        optimizer_state = {**optimizer_state, "arrays": sorted(optimizer_state["arrays"])}
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "fastnn_version": __version__,
            **settings, "optimizer_state": optimizer_state, "rng_state": state["rng_state"],
            "history": _checked_history(state["history"])}


def _optimizer_arrays(optimizer_state):
    """The optimizer state's arrays by file name (none before the first fit)."""
    if optimizer_state is None:
        return {}
    return {OPTIMIZER_ARRAY.format(name): array
            for name, array in optimizer_state["arrays"].items()}


def _plain(value):
    """``value`` as a JSON-ready Python object (NumPy scalars become Python numbers)."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value.item() if isinstance(value, np.generic) else value


def _state(metadata, params, optimizer_arrays=None):
    """The network state that ``metadata`` (parsed), the flat ``params`` and the optimizer's
    arrays (by their names in ``metadata``) describe."""
    settings = {name: value for name, value in metadata.items() if name not in BOOKKEEPING}
    seed = settings.get("seed")
    if isinstance(seed, dict) and set(seed) == {GENERATOR_SEED}:
        settings["seed"] = generator_from_state(seed[GENERATOR_SEED])
    elif isinstance(seed, dict) and set(seed) == {SEED_SEQUENCE_SEED}:
        settings["seed"] = np.random.SeedSequence(**seed[SEED_SEQUENCE_SEED])
    optimizer_state = metadata.get("optimizer_state")
    if optimizer_state is not None:
        optimizer_state = {**optimizer_state, "arrays": optimizer_arrays}
    return {"settings": settings, "params": params, "optimizer_state": optimizer_state,
            "rng_state": metadata["rng_state"], "history": _checked_history(metadata["history"])}


def _layer_arrays(weights, biases):
    """``{"weights_0": W0, "biases_0": b0, ...}``: the file's name for each layer array."""
    arrays = {f"weights_{layer}": w for layer, w in enumerate(weights)}
    arrays.update({f"biases_{layer}": b for layer, b in enumerate(biases)})
    return arrays


def _layer_views(params, sizes):
    """Each layer's weights and biases as views into the flat ``params``, by file name."""
    table = lay.layer_table(sizes)
    return _layer_arrays(lay.weight_views(params, table), lay.bias_views(params, table))


_umask_lock = threading.Lock()


def _file_mode(path):
    """The permissions to give the file at ``path``: those of the file there now, or those
    the umask gives a new file (read by setting and restoring it, the only portable way)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    with _umask_lock:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def _naming(exc, path):
    """``exc``, an OSError, as one of its kind that names ``path``, the destination."""
    message = f"cannot save the network to {path}: {exc.strerror or exc}"
    if exc.errno is None:
        return type(exc)(message)
    return type(exc)(exc.errno, message, path)


# What reading a damaged file can raise, from the zip, zlib, NumPy and JSON layers, and what
# rebuilding a network from settings that no network has can raise.
_READ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, OverflowError,
                zipfile.BadZipFile, zlib.error)


def load(path, build):
    """``build(state)`` for the network state saved at ``path``; ``ModelFileError`` if the
    file is not a network this version can read, or ``build`` refuses what it holds.

    Every array's shape and dtype is read from its header and checked, against the bytes the
    file holds and against the metadata, before any array is read: no file makes this
    allocate more than the file's own size.
    """
    try:
        headers = _array_headers(path)
        with open(path, "rb") as file, np.load(file, allow_pickle=False) as archive:
            metadata = json.loads(str(archive["metadata"]))
            _check_format(metadata)
            sizes, dtype = check_sizes(metadata["sizes"]), np.dtype(check_dtype(metadata["dtype"]))
            names = _optimizer_array_names(metadata)
            _check_headers({k: v for k, v in headers.items() if k != "metadata"}, sizes, dtype,
                           names)
            params = _flat_parameters(archive, sizes, dtype)
            optimizer_arrays = {name: archive[OPTIMIZER_ARRAY.format(name)] for name in names}
        return build(_state(metadata, params, optimizer_arrays))
    except FileNotFoundError:
        raise
    except ModelFileError as exc:
        raise ModelFileError(f"{path} is not a readable fastnn network: {exc}") from exc
    except _READ_ERRORS as exc:
        raise ModelFileError(f"{path} is not a readable fastnn network: "
                             f"{type(exc).__name__}: {exc}") from exc


def _array_headers(path):
    """``{name: (shape, dtype)}`` for every member of the ``.npz`` at ``path``, from the
    headers alone, each member checked to be an uncompressed array of exactly the bytes its
    header promises, all inside the file."""
    size = os.path.getsize(path)
    headers = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.removesuffix(".npy")
            if (name == info.filename or info.compress_type != zipfile.ZIP_STORED
                    or info.header_offset + info.compress_size > size):
                raise ModelFileError(f"the member {info.filename!r} is not an uncompressed "
                                     f"array inside the file")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ModelFileError(f"{name} is a .npy array of version {version}")
                shape, _, dtype = read_header(member)
                promised = member.tell() + math.prod(shape) * dtype.itemsize
            if dtype.hasobject or promised != info.file_size:
                raise ModelFileError(f"{name}'s header ({dtype}{list(shape)}) does not match "
                                     f"the {info.file_size:,} bytes the file holds for it")
            headers[name] = shape, dtype
    return headers


def _check_format(metadata):
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError("the file holds no fastnn network metadata")
    version = metadata.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ModelFileError(f"format version {version!r} is not one fastnn {__version__} "
                             f"reads ({', '.join(map(str, READABLE_VERSIONS))})")


def _optimizer_array_names(metadata):
    """The names of the optimizer state arrays that ``metadata`` says the file holds."""
    optimizer_state = metadata.get("optimizer_state")
    if optimizer_state is None:
        return []
    names = optimizer_state["arrays"]
    if not (isinstance(names, list) and set(names) <= {"m", "v"}):
        raise ModelFileError(f"the optimizer state names arrays {names!r}, not 'm' or 'v'")
    return names


def _check_headers(headers, sizes, dtype, optimizer_names):
    """Refuse arrays whose names, shapes or dtype are not the layer arrays that ``sizes`` and
    ``dtype`` give the network and the optimizer arrays ``optimizer_names``."""
    shapes = _layer_arrays([(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])],
                           [(n_out,) for n_out in sizes[1:]])
    n_params = lay.n_params(lay.layer_table(sizes))
    shapes.update({OPTIMIZER_ARRAY.format(name): (n_params,) for name in optimizer_names})
    if set(headers) != set(shapes):
        raise ModelFileError(f"the file's arrays {sorted(headers)} are not the network's "
                             f"{sorted(shapes)}")
    for name, shape in shapes.items():
        saved_shape, saved_dtype = headers[name]
        if saved_shape != shape or saved_dtype != dtype:
            raise ModelFileError(f"{name} is {saved_dtype}{list(saved_shape)}, the network "
                                 f"needs {dtype}{list(shape)}")


def _flat_parameters(archive, sizes, dtype):
    """The flat parameter vector, from the layer arrays of ``archive`` (checked already)."""
    params = np.empty(lay.n_params(lay.layer_table(sizes)), dtype)
    for name, target in _layer_views(params, sizes).items():
        target[...] = archive[name]
    return params


def _checked_history(history):
    if not (isinstance(history, dict)
            and all(isinstance(key, str) and isinstance(v, list)
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                    for key, v in history.items())):
        raise ModelFileError("the training history is not a mapping of per-epoch numbers")
    return history
