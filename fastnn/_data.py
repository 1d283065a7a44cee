"""Checking and converting user data into the arrays the kernels train on.

scikit-learn's ``check_array`` does the generic work (lists, DataFrames, NaN and infinity,
empty input, C order and dtype); what is left here is what only the network knows: its input
width and the labels or values its output layer can represent.
"""

import numpy as np
from sklearn.utils import check_array, check_consistent_length


def check_inputs(X, n_features, dtype):
    """``X`` as a finite, C-ordered ``(n_samples, n_features)`` array of ``dtype``.

    The caller's array is returned as it is when it already qualifies, and never modified.
    """
    X = check_array(X, dtype=dtype, order="C", ensure_all_finite=True, input_name="X")
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
