"""The articles' pictures of a ``Network``: training curves, errors, decision regions, the
network itself, a digit beside its predicted class probabilities.

matplotlib is an optional extra, so ``import fastnn`` never imports this module. Every function
draws on the ``ax`` it is given (or a new figure), returns what it drew on and never calls
``plt.show()``: the caller decides whether to show, save or close.
"""

import math

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:
    raise ImportError('fastnn.plotting needs matplotlib: pip install "fastnn-numba[plots]"') \
        from exc

# History keys that are not per-epoch curves worth a line by default.
NOT_CURVES = ("seconds", "lr")
EDGE_CMAP = "coolwarm"  # diverging: blue for negative weights, red for positive


def _axes(ax, figsize=(6.4, 4.8)):
    """``ax``, or the Axes of a new figure whose layout keeps colorbars and labels inside."""
    if ax is not None:
        return ax
    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _require_classifier(net):
    if not net.is_classifier:
        raise ValueError(f"this plot needs a classifier (sigmoid or softmax output), "
                         f"not a {net.output!r} output.")


def _class_proba(net, X):
    """Probability of every class, ``(n, n_classes)``: ``[1 - p, p]`` for one sigmoid unit."""
    _require_classifier(net)
    proba = net.predict_proba(X)
    return np.hstack([1 - proba, proba]) if proba.shape[1] == 1 else proba


def _points(X, y):
    """``X`` and ``y`` as arrays, ``X`` with the two columns (at least) drawn in the plane."""
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"X must be (n_samples, 2) to be drawn in the plane, got {X.shape}.")
    return X, y


def plot_history(history, keys=None, ax=None):
    """Per-epoch training curves from ``Network.history``.

    Losses (keys ending in ``loss``) go on the left axis; scores (accuracy, roc_auc, r2 and
    their ``val_`` twins) go on a right axis spanning [0, 1] (lower if a score is negative),
    since the two have different scales. A ``val_`` curve is dashed, in its training twin's
    colour. ``keys`` picks the curves; by default every key except ``seconds`` and ``lr``.
    Returns the left Axes; when both kinds are drawn, the scores' axis is its ``twinx``.
    """
    keys = [key for key in history if key not in NOT_CURVES] if keys is None else list(keys)
    missing = [key for key in keys if key not in history]
    if missing or not keys:
        raise KeyError(f"no curve {missing or keys} in history; it has {list(history)}.")
    ax = _axes(ax, figsize=(8, 4.8))
    losses = [key for key in keys if key.endswith("loss")]
    scores = [key for key in keys if key not in losses]
    score_ax = ax.twinx() if losses and scores else ax
    bases = list(dict.fromkeys(key.removeprefix("val_") for key in keys))
    for key in keys:
        values = history[key]
        (score_ax if key in scores else ax).plot(
            np.arange(1, len(values) + 1), values, label=key,
            color=f"C{bases.index(key.removeprefix('val_'))}",
            linestyle="--" if key.startswith("val_") else "-")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if losses:
        ax.set_ylabel("loss")
    if scores:
        lowest = min(min(history[key], default=0.0) for key in scores)
        score_ax.set_ylim(min(0.0, lowest) - 0.02, 1.02)
        score_ax.set_ylabel("score")
    lines = ax.get_lines() + (score_ax.get_lines() if score_ax is not ax else [])
    # Outside, right of the plot: inside it would cover one axis' curves or the other's.
    score_ax.legend(lines, [line.get_label() for line in lines], loc="upper left",
                    bbox_to_anchor=(1.15 if score_ax is not ax else 1.02, 1))
    return ax


def plot_errors(net, X, y, ax=None):
    """Article 000's error scatter: the first two features of each sample, green where the
    network predicts its label, red (drawn on top) where it does not; accuracy in the title."""
    X, y = _points(X, y)
    _require_classifier(net)
    wrong = net.predict(X) != y
    ax = _axes(ax)
    for mask, color, name in ((~wrong, "green", "right"), (wrong, "red", "wrong")):
        ax.scatter(X[mask, 0], X[mask, 1], c=color, s=12, label=f"{name} ({mask.sum()})")
    ax.set_title(f"accuracy {1 - wrong.mean():.1%}: {wrong.sum()} of {len(y)} wrong")
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    ax.legend()
    return ax


def plot_decision_regions(net, X, y, ax=None, resolution=200):
    """Article 002's decision boundary: what the network predicts all over the plane of ``X``.

    Two classes: filled contours of the probability of class 1 with the 0.5 boundary drawn
    in black. More classes: the predicted class. The grid spans ``X`` plus 10% on each side,
    ``resolution`` points a side; the samples are drawn on top in their label's colour.
    """
    X, y = _points(X, y)
    if X.shape[1] != 2:
        raise ValueError(f"decision regions need exactly 2 features, got {X.shape[1]}.")
    low, high = X.min(axis=0), X.max(axis=0)
    pad = np.where(high > low, 0.1 * (high - low), 0.5)
    xx, yy = np.meshgrid(*(np.linspace(a, b, resolution) for a, b in zip(low - pad, high + pad)))
    proba = _class_proba(net, np.column_stack([xx.ravel(), yy.ravel()]))
    n_classes = proba.shape[1]
    ax = _axes(ax)
    if n_classes == 2:  # line contours draw above filled ones, whatever the order of calls
        z, cmap, norm = proba[:, 1].reshape(xx.shape), plt.get_cmap("RdBu_r"), Normalize(0, 1)
        levels, label, ticks = np.linspace(0, 1, 11), "P(class 1)", None
        ax.contour(xx, yy, z, levels=[0.5], colors="black", linewidths=1)
    else:
        z, cmap = proba.argmax(axis=1).reshape(xx.shape), plt.get_cmap("tab10", n_classes)
        norm = Normalize(-0.5, n_classes - 0.5)
        levels, label, ticks = np.arange(n_classes + 1) - 0.5, "predicted class", range(n_classes)
    regions = ax.contourf(xx, yy, z, levels=levels, cmap=cmap, norm=norm, alpha=0.6)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, norm=norm, s=10, edgecolors="black",
               linewidths=0.3)
    ax.figure.colorbar(regions, ax=ax, label=label, ticks=ticks)
    ax.set_xlabel("feature 0")
    ax.set_ylabel("feature 1")
    return ax


def _edges(weights, x, y_in, y_out, norm, cmap):
    """One layer's weights as segments from ``(x, y_in)`` to ``(x + 1, y_out)``: coloured by
    value, wider and more opaque as ``|w|`` nears the layer's largest, strongest on top."""
    y0, y1 = (y.ravel() for y in np.broadcast_arrays(y_in[None, :], y_out[:, None]))
    segments = np.stack([np.full(y0.size, x), y0, np.full(y0.size, x + 1), y1], axis=1)
    values = weights.ravel()
    order = np.argsort(np.abs(values), kind="stable")
    strength = np.abs(values[order]) / max(np.abs(values).max(), 1e-12)
    colors = cmap(norm(values[order]))
    colors[:, 3] = 0.15 + 0.85 * strength
    return LineCollection(segments[order].reshape(-1, 2, 2), colors=colors,
                          linewidths=0.3 + 2.7 * strength)


def plot_network(net, ax=None, max_nodes=30):
    """Article 000's ``graph``: units in one column per layer, every weight an edge.

    An edge's colour is its weight on a diverging scale shared by the whole network (the
    colorbar); its width and opacity grow with ``|weight|`` relative to its layer's largest,
    so every layer's strong connections stand out, even where a layer's weights are small. A
    unit's fill is its bias on the same scale (inputs are white) and its label its index.
    Layers wider than ``max_nodes`` show that many evenly spaced units, as the title says.
    """
    sizes = net.sizes
    shown = [np.unique(np.linspace(0, n - 1, min(n, max_nodes)).round().astype(int))
             for n in sizes]
    heights = [np.arange(len(units)) - (len(units) - 1) / 2 for units in shown]
    weights = [w[np.ix_(rows, cols)] for w, rows, cols in zip(net.weights, shown[1:], shown)]
    biases = [b[rows] for b, rows in zip(net.biases, shown[1:])]
    limit = max(max(np.abs(a).max() for a in weights + biases), 1e-12)
    norm, cmap = Normalize(-limit, limit), plt.get_cmap(EDGE_CMAP)
    ax = _axes(ax, figsize=(8, 6))
    for layer, w in enumerate(weights):
        ax.add_collection(_edges(w, layer, heights[layer], heights[layer + 1], norm, cmap))
    fills = [np.ones((len(shown[0]), 4))] + [cmap(norm(b)) for b in biases]
    bottom = -max(map(len, shown)) / 2
    names = ["input"] + [f"hidden {layer}" for layer in range(1, len(sizes) - 1)] + ["output"]
    for layer, (units, y, fill) in enumerate(zip(shown, heights, fills)):
        ax.scatter(np.full(len(y), layer), y, s=120, c=fill, edgecolors="black", zorder=3)
        for unit, height in zip(units, y):
            ax.text(layer, height, str(unit), fontsize=5, color="0.35", ha="center",
                    va="center", zorder=4)
        ax.annotate(f"{names[layer]}\n{sizes[layer]}", (layer, bottom), xytext=(0, -2),
                    textcoords="offset points", ha="center", va="top")
    ax.figure.colorbar(ScalarMappable(norm, cmap), ax=ax, label="weight (unit fill: bias)")
    sampled = any(len(units) < n for units, n in zip(shown, sizes))
    note = f"\nlayers wider than {max_nodes} units: {max_nodes} evenly sampled units drawn" \
        if sampled else ""
    ax.set_title(f"network {'-'.join(map(str, sizes))}{note}")
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(bottom, -bottom)
    ax.axis("off")
    return ax


def plot_digit(net, image, ax=None, label=None):
    """Article 003's digit and its class distribution, side by side.

    Left: ``image`` (a flat row of pixels, or already square) as a square greyscale picture.
    Right: the predicted probability of each class as horizontal bars, the predicted class
    highlighted: green, or red when it differs from the true ``label``, which the title gives.
    ``ax`` is a pair (image Axes, bars Axes) or None for a new figure. Returns the Figure.
    """
    pixels = np.asarray(image, dtype=float).ravel()
    side = math.isqrt(pixels.size)
    if side * side != pixels.size:
        raise ValueError(f"an image of {pixels.size} pixels is not square.")
    proba = _class_proba(net, pixels[None, :])[0]
    predicted = int(net.predict(pixels[None, :])[0])
    if ax is None:
        ax = plt.subplots(1, 2, figsize=(8, 3.6), layout="constrained",
                          width_ratios=(1, 1.4))[1]
    image_ax, bars_ax = ax
    image_ax.imshow(pixels.reshape(side, side), cmap="gray_r")
    image_ax.set_axis_off()
    right = label is None or label == predicted
    colors = ["lightgray"] * len(proba)
    colors[predicted] = "tab:green" if right else "tab:red"
    bars = bars_ax.barh(np.arange(len(proba)), proba, color=colors)
    bars_ax.bar_label(bars, fmt="%.2f", padding=2, fontsize=8)
    bars_ax.set_yticks(np.arange(len(proba)))
    bars_ax.invert_yaxis()
    bars_ax.set_xlim(0, 1.1)
    bars_ax.set_xlabel("predicted probability")
    bars_ax.set_ylabel("class")
    truth = "" if label is None else f"true label {label}, "
    image_ax.set_title(f"{truth}predicted {predicted}", color="black" if right else "tab:red")
    return image_ax.figure
