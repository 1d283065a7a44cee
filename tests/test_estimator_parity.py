"""fastnn's MLPClassifier and MLPRegressor against scikit-learn's own, fitted side by side.

With the same ``random_state`` the two must draw the same initial weights, splits and orders
and take the same steps, so the fitted coefficients, loss curves, stopping epochs and
validation scores agree to 1e-10 in float64 (L-BFGS to 1e-6). Each case prints one line of
the parity table (``pytest -s -k parity`` shows it).
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning

from fastnn import estimators


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


def fit_both(name, X, y, **settings):
    """The scikit-learn and the fastnn estimator ``name``, each fitted to ``X`` and ``y``; a
    ConvergenceWarning (fixed epoch counts end before ``tol`` is met) must come from both."""
    fitted = []
    for module in (neural_network, estimators):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fitted.append(getattr(module, name)(random_state=0, **settings).fit(X, y))
        fitted.append(sorted(str(w.message) for w in caught))
    reference, reference_warnings, fast, fast_warnings = fitted
    assert fast_warnings == reference_warnings
    return reference, fast


def largest_difference(reference, fast):
    """The largest difference between the two models' coefficients and intercepts."""
    pairs = zip(reference.coefs_ + reference.intercepts_, fast.coefs_ + fast.intercepts_)
    return max(np.abs(a - b).max() for a, b in pairs)


def assert_same_fit(reference, fast, tolerance, case):
    difference = largest_difference(reference, fast)
    print(f"PARITY | {case} | {difference:.2e} | {reference.n_iter_} | {fast.n_iter_} |")
    assert fast.n_iter_ == reference.n_iter_
    assert difference <= tolerance
    for a, b in zip(reference.coefs_, fast.coefs_):
        assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_allclose(fast.loss_, reference.loss_, rtol=0, atol=tolerance)
    if reference.solver != "lbfgs":
        assert fast.t_ == reference.t_
        np.testing.assert_allclose(fast.loss_curve_, reference.loss_curve_, rtol=0,
                                   atol=tolerance)
        if reference.early_stopping:
            np.testing.assert_allclose(fast.validation_scores_, reference.validation_scores_,
                                       rtol=0, atol=tolerance)
            assert fast.best_validation_score_ == pytest.approx(
                reference.best_validation_score_, abs=tolerance)
        else:
            assert fast.best_loss_ == pytest.approx(reference.best_loss_, abs=tolerance)


STOCHASTIC = [
    dict(solver="sgd", batch_size=1),
    dict(solver="sgd", batch_size=32),
    dict(solver="sgd", batch_size="auto"),
    dict(solver="sgd", batch_size=37),  # 300 rows: eight batches and one of four
    dict(solver="sgd", batch_size=1, momentum=0.0),
    dict(solver="sgd", batch_size=1, momentum=0.0, alpha=0.0),  # fastnn's plain SGD kernels
    dict(solver="sgd", batch_size=37, nesterovs_momentum=False),
    dict(solver="sgd", batch_size=1, learning_rate="invscaling", learning_rate_init=0.5),
    dict(solver="sgd", batch_size=37, learning_rate="invscaling", learning_rate_init=0.5),
    # The stopping rule ends these before max_iter: the adaptive rate falls to 1e-6 and stops
    # (17 epochs either way), Adam stops on the validation score (15 epochs).
    dict(solver="sgd", batch_size=32, learning_rate="adaptive", tol=0.2, n_iter_no_change=1,
         max_iter=30),
    dict(solver="adam", batch_size=1),
    dict(solver="adam", batch_size=32),
    dict(solver="adam", batch_size="auto"),
    dict(solver="adam", batch_size=37, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
    dict(solver="adam", batch_size=32, tol=0.02, n_iter_no_change=2, max_iter=30),
]


def case_name(settings):
    return ",".join(f"{key}={value}" for key, value in settings.items())


@pytest.mark.parametrize("early_stopping", [False, True], ids=["all", "early_stopping"])
@pytest.mark.parametrize("settings", STOCHASTIC, ids=case_name)
def test_stochastic_parity_with_sklearn(digits, settings, early_stopping):
    X, y = digits
    # Adam's steps are normalised, so at a high rate the two sides' rounding differences (BLAS
    # sums against compiled loops) grow each epoch; at 0.005 they stay at rounding.
    rate = 0.05 if settings["solver"] == "sgd" else 0.005
    options = dict(hidden_layer_sizes=(15,), activation="logistic", learning_rate_init=rate,
                   max_iter=8, early_stopping=early_stopping, validation_fraction=0.2)
    reference, fast = fit_both("MLPClassifier", X, y, **{**options, **settings})
    assert_same_fit(reference, fast, 1e-10, f"{case_name(settings)} early_stopping="
                                            f"{early_stopping}")


@pytest.mark.parametrize("activation", ["relu", "tanh", "identity", "logistic"])
def test_lbfgs_parity_with_sklearn(digits, activation):
    X, y = digits
    reference, fast = fit_both("MLPClassifier", X, y, solver="lbfgs", max_iter=40,
                               hidden_layer_sizes=(12,), activation=activation)
    assert_same_fit(reference, fast, 1e-6, f"solver=lbfgs,activation={activation}")


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_two_hidden_layers_parity(digits, activation, solver):
    X, y = digits
    reference, fast = fit_both("MLPClassifier", X, y, solver=solver, activation=activation,
                               hidden_layer_sizes=(20, 10), batch_size=16, max_iter=6,
                               learning_rate_init=0.01)
    assert_same_fit(reference, fast, 1e-10, f"solver={solver},activation={activation},"
                                            f"hidden=(20,10)")


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_binary_and_multilabel_parity(digits, solver):
    X, y = digits
    for target in (y % 2, np.stack([y % 2, y > 4, y % 3 == 0], axis=1).astype(int)):
        reference, fast = fit_both("MLPClassifier", X, target, solver=solver, max_iter=10,
                                   hidden_layer_sizes=(10,), batch_size=20,
                                   early_stopping=solver != "lbfgs")
        assert_same_fit(reference, fast, 1e-6 if solver == "lbfgs" else 1e-10,
                        f"solver={solver},{'binary' if target.ndim == 1 else 'multilabel'}")


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_regressor_parity(solver, n_targets):
    X, y = make_regression(n_samples=200, n_features=8, n_targets=n_targets, noise=1.0,
                           random_state=0)
    y = y / np.abs(y).max()
    reference, fast = fit_both("MLPRegressor", X, y, solver=solver, max_iter=10,
                               hidden_layer_sizes=(10,), batch_size=16, learning_rate_init=0.01,
                               early_stopping=solver == "adam")
    assert_same_fit(reference, fast, 1e-6 if solver == "lbfgs" else 1e-10,
                    f"regressor,solver={solver},n_targets={n_targets}")


def test_partial_fit_parity(digits):
    X, y = digits
    reference = neural_network.MLPClassifier(hidden_layer_sizes=(10,), solver="sgd",
                                             learning_rate="invscaling", random_state=0)
    fast = estimators.MLPClassifier(**reference.get_params())
    for start in range(0, 300, 100):
        for model in (reference, fast):
            model.partial_fit(X[start:start + 100], y[start:start + 100], classes=np.unique(y))
    assert_same_fit(reference, fast, 1e-10, "partial_fit x3,sgd,invscaling")


def test_float32_stays_float32_and_close(digits):
    X, y = digits
    reference, fast = fit_both("MLPClassifier", X.astype(np.float32), y, solver="adam",
                               batch_size=32, max_iter=5, hidden_layer_sizes=(10,))
    assert fast.coefs_[0].dtype == np.float32
    assert fast.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert largest_difference(reference, fast) < 1e-4


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_weighted_full_batch_parity(digits, solver):
    """Sample weights as scikit-learn takes them where a batch is the whole training set (its
    per-batch normalisation and fastnn's agree there)."""
    X, y = digits
    weights = 0.5 + np.arange(len(X)) % 3
    fitted = []
    for module in (neural_network, estimators):
        model = module.MLPClassifier(solver=solver, batch_size=len(X), max_iter=10,
                                     hidden_layer_sizes=(10,), learning_rate_init=0.01,
                                     alpha=0.01, random_state=0)
        with pytest.warns(ConvergenceWarning):
            fitted.append(model.fit(X, y, sample_weight=weights))
    assert_same_fit(*fitted, 1e-6 if solver == "lbfgs" else 1e-10,
                    f"solver={solver},sample_weight,full batch")
