"""Checking and converting user data into the arrays the kernels train on.

scikit-learn's ``check_array`` does the generic work (lists, DataFrames, NaN and infinity,
empty input, C order and dtype); what is left here is what only the network knows: its input
width and the labels or values its output layer can represent.
"""

import numpy as np
from sklearn.utils import check_array, check_consistent_length

from .kernels.checks import all_finite


def check_inputs(X, n_features, dtype):
    """``X`` as a finite, C-ordered ``(n_samples, n_features)`` array of ``dtype``.

    The caller's array is returned as it is when it already qualifies, and never modified.
    NaN and infinity are looked for by a compiled loop, in three quarters of the time
    scikit-learn's NumPy sum takes on float32 (where a one-epoch ``fit`` over MNIST spends
    about 5% of its time), and only an ``X`` that has some goes back to ``check_array`` for
    its message.
    """
    X = check_array(X, dtype=dtype, order="C", ensure_all_finite=False, input_name="X")
    if not all_finite(X.ravel()):
        check_array(X, ensure_all_finite=True, input_name="X")  # raises "X contains NaN", ...
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the network's input layer takes {n_features}."
        )
    return X


def check_labels(y, output, n_outputs):
    """Integer class labels ``0 .. n_classes - 1`` that a classifier output can represent."""
    y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name="y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"y must be a 1-D array of class labels for a {output} output, got shape {y.shape}."
        )
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}.")
    n_classes = 2 if n_outputs == 1 else n_outputs
    values = y.astype(np.float64)
    bad = (values != np.round(values)) | (values < 0) | (values >= n_classes)
    if bad.any():
        raise ValueError(
            f"y contains the label {y[bad][0]}, but a {output} output of {n_outputs} "
            f"unit(s) represents the integer labels 0 .. {n_classes - 1} only."
        )
    return values.astype(np.int64)


def check_values(y, n_outputs):
    """Regression targets as a finite ``(n_samples, n_outputs)`` float64 array."""
    y = check_array(y, ensure_2d=False, dtype=np.float64, ensure_all_finite=True, input_name="y")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != n_outputs:
        raise ValueError(
            f"y must have {n_outputs} value(s) per sample for this network's identity output, "
            f"got shape {y.shape}."
        )
    return y


def encode_targets(y, output, n_outputs, dtype):
    """Target rows for the output layer: one-hot labels, 0/1 for one sigmoid, or values."""
    if output == "identity":
        return np.ascontiguousarray(y, dtype=dtype)
    targets = np.zeros((y.shape[0], n_outputs), dtype=dtype)
    if n_outputs == 1:
        targets[:, 0] = y
    else:
        targets[np.arange(y.shape[0]), y] = 1
    return targets


def check_dataset(X, y, n_features, output, n_outputs, dtype):
    """Validated ``(X, y)``: inputs as in ``check_inputs``, ``y`` as labels or values."""
    X = check_inputs(X, n_features, dtype)
    if output == "identity":
        y = check_values(y, n_outputs)
    else:
        y = check_labels(y, output, n_outputs)
    check_consistent_length(X, y)
    return X, y


def check_sample_weight(sample_weight, class_weight, y, is_classifier):
    """Each sample's weight: ``sample_weight`` (default 1) times its class's ``class_weight``
    (a dict of label to weight, labels left out weighing 1, or ``"balanced"``:
    ``n_samples / (n_classes * count)`` as in scikit-learn); None when neither is given.
    Refuses weights of the wrong length, negative or non-finite ones, and all zeros."""
    if sample_weight is None and class_weight is None:
        return None
    weights = np.ones(len(y))
    if sample_weight is not None:
        try:
            weights = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                                  ensure_all_finite=True, input_name="sample_weight")
        except ValueError as exc:
            raise ValueError(f"sample_weight must hold one finite number per sample: {exc}"
                             ) from None
        if weights.shape != (len(y),):
            raise ValueError(f"sample_weight must hold one weight per sample ({len(y)}), got "
                             f"shape {weights.shape}.")
    if class_weight is not None:
        if not is_classifier:
            raise ValueError("class_weight needs class labels; this network's output is "
                             "identity (regression).")
        weights = weights * class_weights(class_weight, y)
    if (weights < 0).any():
        raise ValueError(f"sample weights must not be negative, got {weights.min()}.")
    if not weights.any():
        raise ValueError("every sample weight is zero: there is nothing to train on.")
    return weights


def class_weights(class_weight, y):
    """The weight of each sample's class, from ``class_weight`` (see ``check_sample_weight``)."""
    labels, counts = np.unique(y, return_counts=True)
    if isinstance(class_weight, str) and class_weight == "balanced":
        by_label = dict(zip(labels.tolist(), (len(y) / (len(labels) * counts)).tolist()))
    elif isinstance(class_weight, dict):
        by_label = {}
        for label, weight in class_weight.items():
            if not (np.isscalar(weight) and np.isreal(weight) and np.isfinite(weight)):
                raise ValueError(f"class_weight[{label!r}] must be a finite number, got "
                                 f"{weight!r}.")
            by_label[label] = float(weight)
    else:
        raise ValueError(f"class_weight must be a dict of label to weight or 'balanced', got "
                         f"{class_weight!r}.")
    return np.array([by_label.get(label, 1.0) for label in y.tolist()])


def split_validation(fraction, n_samples, y, stratified, rng):
    """Row indices ``(train, validation)`` that hold out ``fraction`` of the samples, in random
    order from ``rng``; for classifiers stratified: each class gives about ``fraction`` of its
    samples (at least one sample in each part overall)."""
    if not (isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
            and 0 < fraction < 1):
        raise ValueError(f"validation_split must be a number between 0 and 1, got "
                         f"{fraction!r}.")
    if n_samples < 2:
        raise ValueError(f"validation_split needs at least 2 samples, got {n_samples}.")
    n_val = min(max(round(fraction * n_samples), 1), n_samples - 1)
    if not stratified:
        order = rng.permutation(n_samples)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        held.append(members[:round(fraction * len(members))])
    held = np.concatenate(held)
    if len(held) == 0 or len(held) == n_samples:
        held = rng.permutation(n_samples)[:n_val]
    train = np.setdiff1d(np.arange(n_samples), held)
    return train, np.sort(held)


def hold_out(fraction, X, y, weights, stratified, rng):
    """``(X, y, weights)`` left for training and ``(X_val, y_val)``: ``fraction`` of the
    samples held out by ``split_validation``."""
    train, held = split_validation(fraction, len(X), y, stratified, rng)
    weights = None if weights is None else weights[train]
    if weights is not None and not weights.any():
        raise ValueError("every sample weight left for training is zero.")
    return X[train], y[train], weights, (X[held], y[held])


def sample_factors(weights, n_samples, dtype):
    """Each sample's weight over the mean weight, as the kernels take them (1 without
    weights)."""
    if weights is None:
        return np.ones(n_samples, dtype)
    return (weights / weights.mean()).astype(dtype)
