"""scikit-learn's interface: ``fastnn.estimators.MLPClassifier(...).fit`` on scikit-learn's
1,797 8 x 8 digits (pixels scaled by 1/16, float64), one hidden layer of 100 ReLU units.

A few epochs of "sgd" per sample and of "adam" in batches of 32 and 200, and a few iterations
of "lbfgs", each to its ``max_iter`` (``tol=0``: none stops early). Each ``setup`` fits once,
so the timed fit never includes Numba's compile (or its load from the on-disk cache); every
timed ``fit`` starts afresh from scikit-learn's initial weights for ``random_state=0``, input
checks included. ``scripts/bench_sklearn.py`` times the same fits against scikit-learn's own.
Commits from before ``fastnn.estimators`` existed are skipped (asv shows n/a), not failed.
"""

import importlib.util
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from .common import Benchmark

EPOCHS = 3
LBFGS_ITERATIONS = 10
SETTINGS = {
    "sgd batch 1": dict(solver="sgd", batch_size=1, max_iter=EPOCHS),
    "adam batch 32": dict(solver="adam", batch_size=32, max_iter=EPOCHS),
    "adam batch 200": dict(solver="adam", batch_size=200, max_iter=EPOCHS),
    "lbfgs": dict(solver="lbfgs", max_iter=LBFGS_ITERATIONS),
}


class EstimatorFit(Benchmark):
    """One ``fit`` of the classifier, for each solver setting."""

    params = list(SETTINGS)
    param_names = ["setting"]

    def setup_cache(self):
        """scikit-learn's digits (loaded in milliseconds), in place of the shared data."""
        X, y = load_digits(return_X_y=True)
        return X / 16.0, y

    def setup(self, digits, setting):
        if importlib.util.find_spec("fastnn.estimators") is None:
            raise NotImplementedError("fastnn.estimators is newer than this commit")
        from fastnn.estimators import MLPClassifier

        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter ends every fit
        self.X, self.y = digits
        self.model = MLPClassifier(hidden_layer_sizes=(100,), activation="relu", tol=0.0,
                                   n_iter_no_change=EPOCHS, random_state=0, **SETTINGS[setting])
        self.model.fit(self.X, self.y)

    def time_fit(self, digits, setting):
        self.model.fit(self.X, self.y)
