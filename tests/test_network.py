"""The Network class as a user drives it: API contract, determinism, stability, bad input."""

import subprocess
import sys

import numba
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import roc_auc_score

import fastnn
from fastnn import Network, config

from .helpers import mostly_zero, rows_for


@pytest.fixture
def blobs():
    X, y = make_blobs(400, centers=3, n_features=5, random_state=0)
    return X, y


def test_weights_and_biases_are_views_into_params():
    net = Network([5, 4, 3], seed=0)
    assert [w.shape for w in net.weights] == [(4, 5), (3, 4)]
    assert [b.shape for b in net.biases] == [(4,), (3,)]
    assert net.params.size == 4 * 5 + 4 + 3 * 4 + 3
    net.weights[1][2, 3] = 7.0
    net.biases[0][1] = -2.0
    assert net.params[4 * 5 + 4 + 2 * 4 + 3] == 7.0
    assert net.params[4 * 5 + 1] == -2.0


def test_fit_learns_and_reports_history(blobs, backend):
    X, y = (data[:rows_for(backend, len(data))] for data in blobs)
    net = Network([5, 8, 3], lr=0.05, epochs=5, seed=0, device=backend)
    n_val = len(X) // 4
    assert net.fit(X, y, validation_data=(X[:n_val], y[:n_val])) is net
    assert set(net.history) == {"loss", "seconds", "lr", "val_loss", "val_accuracy"}
    assert all(len(values) == 5 for values in net.history.values())
    assert net.history["loss"][-1] < net.history["loss"][0]
    assert net.history["val_accuracy"][-1] == net.score(X[:n_val], y[:n_val])
    val_proba = net.predict_proba(X[:n_val])
    val_loss = -np.log(val_proba[np.arange(n_val), y[:n_val]]).mean()
    assert net.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-12)
    assert net.score(X, y) > 0.95
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))


def test_fit_continues_from_current_weights(blobs, backend):
    X, y = (data[:rows_for(backend, len(data))] for data in blobs)
    twice = Network([5, 8, 3], epochs=1, seed=0, device=backend).fit(X, y).fit(X, y)
    once = Network([5, 8, 3], epochs=2, seed=0, device=backend).fit(X, y)
    np.testing.assert_array_equal(twice.params, once.params)
    assert len(twice.history["loss"]) == 2


def test_same_seed_gives_bit_identical_weights(blobs, backend):
    X, y = (data[:rows_for(backend, len(data))] for data in blobs)
    first, second = (Network([5, 8, 3], epochs=3, seed=7, device=backend).fit(X, y)
                     for _ in range(2))
    np.testing.assert_array_equal(first.params, second.params)
    third = Network([5, 8, 3], epochs=3, seed=8).fit(X, y)
    assert not np.array_equal(first.params, third.params)


def test_shuffle_false_trains_in_the_given_order(blobs):
    X, y = blobs
    ordered = Network([5, 8, 3], epochs=1, seed=0, shuffle=False).fit(X, y)
    reversed_ = Network([5, 8, 3], epochs=1, seed=0, shuffle=False).fit(X[::-1], y[::-1])
    assert not np.array_equal(ordered.params, reversed_.params)


@pytest.mark.parametrize("inputs", ["dense", "mostly zero"])
def test_epoch_split_into_many_kernel_calls_gives_the_same_weights(blobs, monkeypatch, inputs):
    X, y = blobs
    X = mostly_zero(X) if inputs == "mostly zero" else X
    for batch_size in (1, 16):
        whole = Network([5, 8, 3], epochs=2, seed=0, batch_size=batch_size).fit(X, y)
        monkeypatch.setattr(config, "CHUNK_MULTIPLY_ADDS", 1)  # one batch per call
        chunked = Network([5, 8, 3], epochs=2, seed=0, batch_size=batch_size).fit(X, y)
        monkeypatch.undo()
        np.testing.assert_array_equal(whole.params, chunked.params)


@pytest.mark.parametrize("output, n_out", [("softmax", 2), ("softmax", 3), ("sigmoid", 1)])
def test_roc_auc_with_two_classes_present_is_the_binary_auc(output, n_out):
    """A two-unit softmax (or a wider one that sees two classes) scores the second class's
    column, as scikit-learn's binary ``roc_auc_score`` does."""
    X, y = make_blobs(300, centers=2, random_state=1)
    net = Network([2, 3, n_out], output=output, lr=0.1, epochs=3, seed=0)
    net.fit(X, y, metric="roc_auc")
    column = net.predict_proba(X)[:, min(1, n_out - 1)]
    assert net.history["roc_auc"][-1] == roc_auc_score(y, column)


def test_target_stops_training_early():
    X, y = make_blobs(300, centers=2, random_state=1)
    net = Network([2, 3, 1], lr=0.1, epochs=50, seed=0)
    net.fit(X, y, target=0.975, metric="roc_auc")
    assert len(net.history["roc_auc"]) < 50
    assert net.history["roc_auc"][-1] >= 0.975
    assert all(score < 0.975 for score in net.history["roc_auc"][:-1])


def test_regression_with_identity_output(rng):
    X = rng.normal(size=(500, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    net = Network([3, 8, 1], activation="tanh", output="identity", lr=0.01, epochs=20, seed=0)
    assert net.loss == "squared_error"
    assert net.fit(X, y).score(X, y) > 0.95
    assert net.predict(X).shape == (500,)


@pytest.mark.parametrize("batch_size", [1, 32, None])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation, output", [("sigmoid", "softmax"), ("tanh", "sigmoid")])
def test_huge_inputs_train_without_warnings(blobs, backend, activation, output, batch_size,
                                            dtype):
    # pytest runs with warnings as errors (pyproject.toml), so any overflow warning fails here.
    if backend == "cuda" and batch_size is None:
        pytest.skip("the CUDA trainer runs a full batch through the mini-batch kernels, which "
                    "batch_size=32 covers (the simulator takes seconds per fit)")
    X, y = (data[:rows_for(backend, len(data))] for data in blobs)
    y = y % 2 if output == "sigmoid" else y
    n_out = 1 if output == "sigmoid" else 3
    net = Network([5, 6, n_out], activation=activation, output=output, epochs=2, seed=0,
                  batch_size=batch_size, dtype=dtype, init="normal", device=backend)
    net.fit(X * 1e4, y, validation_data=(X * 1e4, y))
    assert np.isfinite(net.params).all()
    assert np.isfinite(net.history["loss"]).all() and np.isfinite(net.history["val_loss"]).all()
    assert np.isfinite(net.predict_proba(X * 1e4)).all()


@pytest.mark.parametrize("init", ["normal", "scaled_normal", "uniform", "glorot", "he"])
def test_every_init_scheme_is_seeded(init):
    first, second = (Network([20, 30, 4], init=init, seed=5) for _ in range(2))
    np.testing.assert_array_equal(first.params, second.params)
    assert np.abs(first.weights[0]).max() > 0


def test_float32_network_starts_from_the_float64_values():
    wide = Network([6, 5, 2], seed=2, dtype="float64")
    narrow = Network([6, 5, 2], seed=2, dtype=np.float32)
    assert narrow.params.dtype == np.float32
    np.testing.assert_array_equal(narrow.params, wide.params.astype(np.float32))


@pytest.mark.parametrize("output, loss, expected", [
    (None, None, ("softmax", "cross_entropy")),
    ("sigmoid", None, ("sigmoid", "binary_cross_entropy")),
    ("identity", None, ("identity", "squared_error")),
    (None, "squared_error", ("identity", "squared_error")),
    (None, "binary_cross_entropy", ("sigmoid", "binary_cross_entropy")),
    ("softmax", "squared_error", ("softmax", "squared_error")),
])
def test_output_and_loss_default_from_each_other(output, loss, expected):
    net = Network([4, 3, 3], output=output, loss=loss)
    assert (net.output, net.loss) == expected


BAD_CONSTRUCTION = [
    (dict(sizes=[4]), "sizes"),
    (dict(sizes=[4, 0, 2]), "sizes"),
    (dict(activation="sigmoidd"), "unknown activation 'sigmoidd'"),
    (dict(activation="softmax"), "unknown activation 'softmax'"),
    (dict(activation=["relu"]), "1 names for 2 hidden layers"),
    (dict(output="tanh"), "unknown output activation 'tanh'"),
    (dict(loss="hinge"), "unknown loss 'hinge'"),
    (dict(output="identity", loss="cross_entropy"), "needs a 'softmax' output"),
    (dict(output="softmax", loss="binary_cross_entropy"), "needs a 'sigmoid' output"),
    (dict(dtype="float16"), "unknown dtype 'float16'"),
    (dict(dtype="floaty"), "unknown dtype 'floaty'"),
    (dict(init="zeros"), "unknown init 'zeros'"),
    (dict(lr=-1.0), "lr must be"),
    (dict(lr=float("nan")), "lr must be"),
    (dict(epochs=-1), "epochs must be"),
    (dict(batch_size=0), "batch_size must be"),
    (dict(l2=-0.1), "l2 must be"),
    (dict(l1=float("inf")), "l1 must be"),
    (dict(n_jobs=0), "n_jobs must be"),
    (dict(n_jobs=-2), "n_jobs must be"),
    (dict(n_jobs=1.5), "n_jobs must be"),
]


@pytest.mark.parametrize("kwargs, message", BAD_CONSTRUCTION)
def test_bad_construction_is_refused(kwargs, message):
    kwargs = {"sizes": [4, 3, 3, 3], **kwargs}
    with pytest.raises(ValueError, match=message):
        Network(**kwargs)


def test_softmax_needs_two_units():
    with pytest.raises(ValueError, match="at least 2 units"):
        Network([4, 1], output="softmax")


def _bad_fits(X, y):
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    y_nan = y.astype(float)
    y_nan[5] = np.nan
    return [
        ((X_nan, y), {}, "X contains NaN"),
        ((X_inf, y), {}, "X contains infinity"),
        ((X, y_nan), {}, "y contains NaN"),
        ((X[:, :4], y), {}, "X has 4 features, but the network's input layer takes 5"),
        ((X, np.where(y == 2, 3, y)), {}, "label 3"),
        ((X, y - 1), {}, "label -1"),
        ((X, y + 0.5), {}, r"label \d\.5"),
        ((X, np.array(["a"] * len(y))), {}, "integer class labels"),
        ((X[:0], y[:0]), {}, "0 sample"),
        ((X, y[:-1]), {}, "inconsistent numbers of samples"),
        ((X, y), {"validation_data": (X[:, :2], y)}, "X has 2 features"),
        ((X, y), {"metric": "r2"}, "unknown metric"),
        ((X, y), {"target": 0.9, "metric": "f1"}, "unknown metric"),
        ((X, y), {"target": "0.9"}, "target must be a finite number"),
        ((X, y), {"target": np.nan}, "target must be a finite number"),
        ((X, y), {"validation_data": X}, r"validation_data must be a pair \(X_val, y_val\)"),
        ((X, y), {"validation_data": (X, y, y)}, "validation_data must be a pair"),
        ((X, y), {"validation_data": [X]}, "validation_data must be a pair"),
    ]


@pytest.mark.parametrize("case", range(18))
def test_bad_fit_input_is_refused_and_nothing_changes(blobs, case):
    X, y = blobs
    args, kwargs, message = _bad_fits(X, y)[case]
    net = Network([5, 8, 3], epochs=2, seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        net.fit(*args, **kwargs)
    np.testing.assert_array_equal(net.params, before)
    assert net.history == {"loss": [], "seconds": []}


def test_sigmoid_output_takes_labels_zero_and_one_only(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="label 2"):
        Network([5, 3, 1]).fit(X, y)


def test_bad_setting_changed_after_construction_is_refused(blobs):
    net = Network([5, 8, 3])
    net.lr = 0
    with pytest.raises(ValueError, match="lr must be"):
        net.fit(*blobs)


def test_callers_arrays_are_not_modified(blobs):
    X, y = blobs
    X_before, y_before = X.copy(), y.copy()
    Network([5, 8, 3], epochs=1, seed=0).fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


def test_verbose_shows_a_progress_bar_with_the_running_loss(blobs, capsys):
    Network([5, 8, 3], epochs=2, seed=0, verbose=True).fit(*blobs)
    err = capsys.readouterr().err
    assert "800/800" in err and "loss=" in err


def test_single_sigmoid_unit_predicts_zero_one_labels():
    X, y = make_blobs(200, centers=2, random_state=3)
    net = Network([2, 4, 1], lr=0.1, epochs=5, seed=0).fit(X, y)
    assert net.predict_proba(X).shape == (200, 1)
    assert set(np.unique(net.predict(X))) <= {0, 1}
    assert net.score(X, y) > 0.9


@pytest.mark.parametrize("batch_size, n_jobs", [(1, None), (16, None), (128, 2)])
def test_train_many_gives_each_network_its_own_fit(blobs, batch_size, n_jobs):
    X, y = blobs
    settings = [dict(seed=seed, lr=lr) for seed in (0, 1) for lr in (0.05, 0.2)]
    alone = [Network([5, 8, 3], epochs=2, batch_size=batch_size, n_jobs=n_jobs, **kw).fit(X, y)
             for kw in settings]
    together = fastnn.train_many(
        [Network([5, 8, 3], epochs=2, batch_size=batch_size, n_jobs=n_jobs, **kw)
         for kw in settings],
        X, y, n_jobs=2, validation_data=(X, y))
    for one, other in zip(alone, together):
        np.testing.assert_array_equal(one.params, other.params)
        assert len(other.history["val_loss"]) == 2


def _input_forms(X):
    read_only = X.copy()
    read_only.flags.writeable = False
    pandas = pytest.importorskip("pandas")
    return {
        "float32": X.astype(np.float32),
        "int": np.round(X).astype(np.int64),
        "bool": X > 0,
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=1)[:, ::2],
        "read-only": read_only,
        "list": X.tolist(),
        "DataFrame": pandas.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]),
    }


@pytest.mark.parametrize("form", ["float32", "int", "bool", "fortran", "strided", "read-only",
                                  "list", "DataFrame"])
def test_every_common_input_form_trains_like_a_float64_array(blobs, form):
    X, y = blobs
    inputs = _input_forms(X)[form]
    as_array = np.asarray(inputs, dtype=np.float64)
    snapshot = np.array(inputs, copy=True)
    ours = Network([5, 8, 3], epochs=1, seed=0).fit(inputs, list(y))
    reference = Network([5, 8, 3], epochs=1, seed=0).fit(as_array, y)
    np.testing.assert_array_equal(ours.params, reference.params)
    np.testing.assert_array_equal(ours.predict_proba(inputs), reference.predict_proba(as_array))
    np.testing.assert_array_equal(np.array(inputs), snapshot)  # the caller's data is untouched


def test_sparse_input_is_refused_clearly(blobs):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = blobs
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data"):
        Network([5, 8, 3]).fit(sparse.csr_matrix(X), y)


@pytest.mark.parametrize("batch_size, inputs, n_jobs", [
    (1, "dense", None), (1, "mostly zero", None), (128, "dense", None), (None, "dense", None),
    (128, "dense", 2), (None, "dense", 2),
])
def test_fit_on_float32_data_allocates_no_copy_of_it(batch_size, inputs, n_jobs):
    """fit converts X at most once, so data already in the network's dtype is not copied, and
    the work buffers are bounded: the issue's budget is 0.3x the data beyond data + params.
    Mostly-zero inputs add the first layer's transposed copy, which is parameter-sized."""
    import tracemalloc

    X = np.random.default_rng(0).random((60_000, 784), dtype=np.float32)
    X = mostly_zero(X) if inputs == "mostly zero" else X
    assert X.dtype == np.float32
    y = np.arange(60_000) % 10
    net = Network([784, 16, 10], dtype="float32", epochs=1, seed=0, batch_size=batch_size,
                  n_jobs=n_jobs)
    net.fit(X[:100], y[:100])  # compile outside the measurement
    tracemalloc.start()
    try:
        net.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.05 * X.nbytes, f"fit allocated {peak / 2**20:.1f} MiB"


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_batches_do_not_depend_on_the_threads_that_ran_them(blobs, threads):
    """``n_jobs`` fixes how batches are cut; the threads free at the time change nothing."""
    X, y = blobs
    reference = Network([5, 8, 3], batch_size=128, n_jobs=2, epochs=3, seed=0).fit(X, y)
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        again = Network([5, 8, 3], batch_size=128, n_jobs=2, epochs=3, seed=0).fit(X, y)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(again.params, reference.params)
    serial = Network([5, 8, 3], batch_size=128, epochs=3, seed=0).fit(X, y)
    np.testing.assert_allclose(serial.params, reference.params, rtol=0, atol=1e-12)
    assert not np.array_equal(serial.params, reference.params)  # two parts, added: rounding


FORK_AFTER_THREADS = """
import multiprocessing, numpy as np
from fastnn import Network
X = np.random.default_rng(0).normal(size=(2100, 5)); y = (X[:, 0] > 0).astype(int)
def fit(n_jobs, batch_size):
    net = Network([5, 4, 2], batch_size=batch_size, n_jobs=n_jobs, epochs=1, seed=0)
    return net.fit(X, y).params
if __name__ == "__main__":
    threaded = fit(2, 128)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        serial = pool.apply_async(fit, (None, 128)).get(timeout=60)
        # a full batch of 2,100 rows is taken in parts, one after another
        pool.apply_async(fit, (None, None)).get(timeout=60)
    print(np.abs(serial - threaded).max() < 1e-12)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork is the default start method on Linux")
def test_a_forked_child_trains_serially_after_threaded_training(tmp_path):
    """Numba's GNU OpenMP layer aborts a forked child that runs a parallel loop; the default
    ``n_jobs`` never runs one, so a child forked after threaded training still trains."""
    script = tmp_path / "fork_after_threads.py"
    script.write_text(FORK_AFTER_THREADS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
