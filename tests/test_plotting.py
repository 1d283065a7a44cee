"""fastnn.plotting: what each figure draws, checked on its artists, and that it saves the same
PNG twice. Skipped where the optional matplotlib is not installed."""

import importlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # no display here; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402

import fastnn  # noqa: E402
from fastnn import datasets, plotting  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures(monkeypatch):
    """Fail any call of plt.show(), and close every figure a test leaves open."""
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() was called"))
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def blobs():
    """Two overlapping blobs and a 2-3-1 network that gets most, not all, of them right."""
    X, y = datasets.make_blobs(200, centers=2, cluster_std=3, random_state=1)
    net = fastnn.Network([2, 3, 1], lr=0.05, epochs=4, seed=0)
    return net.fit(X, y, validation_data=(X[:50], y[:50]), metric="roc_auc"), X, y


@pytest.fixture(scope="module")
def three_blobs():
    X, y = datasets.make_blobs(150, centers=3, random_state=2)
    return fastnn.Network([2, 5, 3], lr=0.05, epochs=3, seed=0).fit(X, y), X, y


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits (64 pixels: wider than plot_network's 30 units) and a net."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return fastnn.Network([64, 16, 10], lr=0.1, epochs=2, seed=0).fit(X, y), X, y


def test_import_fastnn_imports_neither_plotting_nor_matplotlib():
    code = ("import sys, fastnn; "
            "assert not {'fastnn.plotting', 'matplotlib'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # None: "import matplotlib" fails
    monkeypatch.delitem(sys.modules, "fastnn.plotting")
    with pytest.raises(ImportError, match=r'pip install "fastnn-numba\[plots\]"'):
        importlib.import_module("fastnn.plotting")


def test_history_puts_losses_left_and_scores_right(blobs):
    net = blobs[0]
    ax = plotting.plot_history(net.history)
    (score_ax,) = [other for other in ax.figure.axes if other is not ax]
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]
    assert [line.get_label() for line in score_ax.get_lines()] == ["val_accuracy", "roc_auc"]
    for line in ax.get_lines() + score_ax.get_lines():
        values = net.history[line.get_label()]
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(values) + 1))
        np.testing.assert_array_equal(line.get_ydata(), values)
    low, high = score_ax.get_ylim()
    assert low <= 0 and high >= 1
    assert ax.get_xlabel() == "epoch"
    legend = score_ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "loss", "val_loss", "val_accuracy", "roc_auc"]  # "seconds" is no curve


def test_history_keys_pick_curves_and_unknown_keys_raise(blobs):
    history = blobs[0].history
    ax = plotting.plot_history(history, keys=["roc_auc"])
    assert len(ax.figure.axes) == 1  # no loss, so no second axis
    assert [line.get_label() for line in ax.get_lines()] == ["roc_auc"]
    with pytest.raises(KeyError, match="r2"):
        plotting.plot_history(history, keys=["loss", "r2"])


def test_errors_are_red_and_right_predictions_green(blobs):
    net, X, y = blobs
    wrong = net.predict(X) != y
    assert 0 < wrong.sum() < len(y)  # the data exercises both colours
    ax = plotting.plot_errors(net, X, y)
    right_points, wrong_points = ax.collections
    for points, mask, color in ((right_points, ~wrong, "green"), (wrong_points, wrong, "red")):
        np.testing.assert_array_equal(points.get_offsets(), X[mask])
        np.testing.assert_array_equal(points.get_facecolors(), [to_rgba(color)])
    assert f"{wrong.sum()} of {len(y)} wrong" in ax.get_title()
    assert f"{1 - wrong.mean():.1%}" in ax.get_title()


def _drawn(ax, kind):
    """The collections of one kind (edges, points, contours) drawn on ``ax``, in order."""
    return [child for child in ax.collections if isinstance(child, kind)]


def _only(ax, kind):
    (artist,) = _drawn(ax, kind)
    return artist


def test_decision_regions_of_one_sigmoid_unit(blobs):
    net, X, y = blobs
    ax = plotting.plot_decision_regions(net, X, y, resolution=50)
    boundary, filled = sorted(_drawn(ax, ContourSet), key=lambda c: c.filled)
    np.testing.assert_allclose(filled.levels, np.linspace(0, 1, 11))  # P(class 1)
    assert filled.filled and boundary.levels.tolist() == [0.5]
    points = _only(ax, PathCollection)
    np.testing.assert_array_equal(points.get_offsets(), X)
    np.testing.assert_array_equal(points.get_array(), y)
    (x_low, x_high), (y_low, y_high) = ax.get_xlim(), ax.get_ylim()
    assert x_low < X[:, 0].min() and x_high > X[:, 0].max()  # the grid has a margin
    assert y_low < X[:, 1].min() and y_high > X[:, 1].max()
    assert len(ax.figure.axes) == 2  # and a colorbar


def test_decision_regions_of_softmax_show_each_class(three_blobs):
    net, X, y = three_blobs
    ax = plotting.plot_decision_regions(net, X, y, resolution=60)
    regions = _only(ax, ContourSet)
    assert regions.levels.tolist() == [-0.5, 0.5, 1.5, 2.5]
    assert len(_only(ax, PathCollection).get_offsets()) == len(X)


def test_network_draws_one_segment_per_weight(blobs):
    net = blobs[0]
    ax = plotting.plot_network(net)
    edges = _drawn(ax, LineCollection)
    assert len(edges) == len(net.weights)
    for layer, (collection, weights) in enumerate(zip(edges, net.weights)):
        segments = collection.get_segments()
        assert len(segments) == weights.size
        assert {tuple(s[:, 0]) for s in segments} == {(layer, layer + 1)}
        strongest = weights.ravel()[np.abs(weights).argmax()]  # drawn last, on top
        red, _, blue, alpha = collection.get_colors()[-1]
        assert (red > blue) == (strongest > 0) and alpha == 1
        assert collection.get_linewidths()[-1] == max(collection.get_linewidths())
    assert [len(c.get_offsets()) for c in _drawn(ax, PathCollection)] == [2, 3, 1]
    assert ax.get_title() == "network 2-3-1"


def test_network_samples_wide_layers_and_says_so(digits):
    net = digits[0]
    ax = plotting.plot_network(net, max_nodes=30)
    assert [len(c.get_segments()) for c in _drawn(ax, LineCollection)] == [30 * 16, 16 * 10]
    assert [len(c.get_offsets()) for c in _drawn(ax, PathCollection)] == [30, 16, 10]
    assert "30 evenly sampled" in ax.get_title() and "64-16-10" in ax.get_title()
    labels = {text.get_text() for text in ax.texts}
    assert {"0", "63"} <= labels  # the first and last input are among those drawn


def test_digit_bars_are_its_predicted_probabilities(digits):
    net, X, y = digits
    image = X[0]
    fig = plotting.plot_digit(net, image, label=y[0])
    image_ax, bars_ax = fig.axes
    assert image_ax.images[0].get_array().shape == (8, 8)
    widths = [bar.get_width() for bar in bars_ax.patches]
    np.testing.assert_allclose(widths, net.predict_proba(image[None])[0], rtol=0, atol=1e-12)
    predicted = net.predict(image[None])[0]
    highlight = "tab:green" if predicted == y[0] else "tab:red"
    colors = [bar.get_facecolor() for bar in bars_ax.patches]
    assert colors[predicted] == to_rgba(highlight)
    assert colors.count(to_rgba("lightgray")) == 9
    assert image_ax.get_title() == f"true label {y[0]}, predicted {predicted}"


def test_digit_of_one_sigmoid_unit_shows_both_classes():
    net = fastnn.Network([4, 1], seed=0)
    image = np.array([[0.0, 1.0], [1.0, 0.5]])
    fig = plotting.plot_digit(net, image)
    p = net.predict_proba(image.reshape(1, -1))[0, 0]
    np.testing.assert_allclose([bar.get_width() for bar in fig.axes[1].patches], [1 - p, p],
                               rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="not square"):
        plotting.plot_digit(net, np.zeros(5))


def test_regression_networks_are_refused():
    net = fastnn.Network([2, 1], output="identity", seed=0)
    X, y = np.zeros((3, 2)), np.zeros(3)
    for draw in (plotting.plot_errors, plotting.plot_decision_regions):
        with pytest.raises(ValueError, match="classifier"):
            draw(net, X, y)


def _drawings(blobs, three_blobs, digits):
    """Each public function once, on a new figure, and the figure it drew."""
    (net, X, y), (soft, X3, y3), (dnet, D, labels) = blobs, three_blobs, digits
    return {
        "history": lambda: plotting.plot_history(net.history).figure,
        "errors": lambda: plotting.plot_errors(net, X, y).figure,
        "regions": lambda: plotting.plot_decision_regions(soft, X3, y3, resolution=80).figure,
        "network": lambda: plotting.plot_network(dnet).figure,
        "digit": lambda: plotting.plot_digit(dnet, D[3], label=labels[3]),
    }


@pytest.mark.parametrize("name", ["history", "errors", "regions", "network", "digit"])
def test_each_plot_saves_the_same_png_twice(name, blobs, three_blobs, digits, tmp_path):
    draw = _drawings(blobs, three_blobs, digits)[name]
    paths = [tmp_path / f"{name}{i}.png" for i in range(2)]
    for path in paths:
        draw().savefig(path, dpi=60)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[0].stat().st_size > 5_000
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_each_plot_draws_on_the_axes_it_is_given(blobs, digits):
    (net, X, y), (dnet, D, _) = blobs, digits
    fig, axes = plt.subplots(2, 3)
    assert plotting.plot_history(net.history, ax=axes[0, 0]) is axes[0, 0]
    assert plotting.plot_errors(net, X, y, ax=axes[0, 1]) is axes[0, 1]
    assert plotting.plot_decision_regions(net, X, y, ax=axes[0, 2], resolution=20) is axes[0, 2]
    assert plotting.plot_network(net, ax=axes[1, 0]) is axes[1, 0]
    assert plotting.plot_digit(dnet, D[0], ax=axes[1, 1:]) is fig
    assert plt.get_fignums() == [fig.number]
