"""Predictions and training metrics from a network's output activations.

Every function takes the output activation's name (``"softmax"``, ``"sigmoid"`` or
``"identity"``) and the activations ``out``, shape ``(n_samples, n_outputs)``.
"""

import numpy as np
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.preprocessing import label_binarize

from .settings import choose


def is_classifier(output):
    """True for softmax and sigmoid outputs, which are trained on class labels."""
    return output != "identity"


def score_name(output):
    """The metric ``score`` reports: accuracy for classifiers, R² otherwise."""
    return "accuracy" if is_classifier(output) else "r2"


def predictions(output, out):
    """Class labels (the most probable class; 0/1 for one sigmoid unit) or, for an identity
    output, the predicted values (1-D for a single output)."""
    if output == "identity":
        return out[:, 0] if out.shape[1] == 1 else out
    if out.shape[1] == 1:
        return (out[:, 0] >= 0.5).astype(np.int64)
    return out.argmax(axis=1)


def check_metric(metric, output, y):
    """Refuse a metric the output cannot be scored by, or the labels ``y`` cannot give."""
    allowed = ("accuracy", "roc_auc") if is_classifier(output) else ("r2",)
    choose(f"metric for a {output} output", metric, allowed)
    if metric == "roc_auc" and np.unique(y).size < 2:
        raise ValueError("roc_auc needs at least two classes in y.")


def metric(name, output, out, y):
    """Metric ``name`` of the output activations ``out`` against checked labels or values ``y``."""
    if name == "accuracy":
        return float(accuracy_score(y, predictions(output, out)))
    if name == "r2":
        return float(r2_score(y, predictions(output, out)))
    if out.shape[1] == 1:
        return float(roc_auc_score(y, out[:, 0]))
    present = np.unique(y)
    if present.size == 2:  # binary: the second class present is the positive one
        return float(roc_auc_score(y == present[1], out[:, present[1]]))
    # One-vs-rest, macro-averaged over the classes present.
    return float(roc_auc_score(label_binarize(y, classes=present), out[:, present]))
