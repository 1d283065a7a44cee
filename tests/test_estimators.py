"""fastnn's MLPClassifier and MLPRegressor as scikit-learn estimators: its estimator checks, its
tools (clone, pipelines, searches, pickling), what fastnn adds, and bad input.

Agreement with scikit-learn's own fitted models is in ``test_estimator_parity``.
"""

import pickle

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
    parametrize_with_checks,
)

from fastnn import callbacks
from fastnn.estimators import MLPClassifier, MLPRegressor

# max_iter=100 is what scikit-learn's own test suite gives its MLPs for these checks; on the
# checks' small data sets 100 epochs end before tol is met, as they do for scikit-learn's.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [MLPClassifier(solver="lbfgs"), MLPRegressor(
    solver="lbfgs")], ids=["classifier", "regressor"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_lbfgs_weights_are_repeated_rows(estimator):
    """The sample-weight checks again with the full-batch solver (the checks above run
    Adam, whose batches are full ones on the checks' data too)."""
    name = type(estimator).__name__
    check_sample_weight_equivalence_on_dense_data(name, estimator)
    check_sample_weight_equivalence_on_sparse_data(name, estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16, y[:400]


def small(**settings):
    return MLPClassifier(**{"hidden_layer_sizes": (10,), "max_iter": 5, "random_state": 0,
                            "tol": 0.0, "n_iter_no_change": 100, **settings})


def quietly_fit(estimator, X, y, **fit_params):
    with pytest.warns(ConvergenceWarning):
        return estimator.fit(X, y, **fit_params)


# ------------------------------------------------------------------ scikit-learn's tools

@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_clone_pipeline_grid_search_and_cross_validation(digits):
    X, y = digits
    model = small(learning_rate_init=0.01, max_iter=20)
    assert clone(model).get_params() == model.get_params()
    pipeline = make_pipeline(StandardScaler(), model).fit(X, y)
    assert pipeline.score(X, y) > 0.8
    search = GridSearchCV(model, {"alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    assert set(search.best_params_) == {"alpha"}
    assert search.cv_results_["mean_test_score"].min() > 0.5
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.5


def test_pickling_keeps_the_model_and_its_optimizer(digits):
    X, y = digits
    model = small(solver="adam", batch_size=32).partial_fit(X, y, classes=np.unique(y))
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    model.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(copy.coefs_[0], model.coefs_[0])


def test_to_sklearn_predicts_the_same(digits):
    X, y = digits
    for model in (quietly_fit(small(), X, y), quietly_fit(small(), X, y % 2)):
        converted = model.to_sklearn()
        assert type(converted) is neural_network.MLPClassifier
        np.testing.assert_allclose(converted.predict_proba(X), model.predict_proba(X),
                                   rtol=0, atol=1e-13)
        np.testing.assert_array_equal(converted.predict(X), model.predict(X))
        converted.coefs_[0][...] = 0.0  # a copy: the fastnn model is untouched
        assert np.abs(model.coefs_[0]).max() > 0
    X_r, y_r = make_regression(n_samples=60, n_features=4, random_state=0)
    regressor = quietly_fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=3), X_r, y_r)
    np.testing.assert_allclose(regressor.to_sklearn().predict(X_r), regressor.predict(X_r),
                               rtol=1e-13)


# ------------------------------------------------------------------ what fastnn adds

def test_sample_weight_counts_at_batch_size_one(digits):
    """Weights 2 and 0 at batch size 1 train as the kept rows alone at twice the rate; in
    scikit-learn they would change nothing."""
    X, y = digits
    keep = np.arange(len(X)) % 2 == 0
    settings = dict(solver="sgd", momentum=0.0, alpha=0.0, batch_size=1, shuffle=False,
                    learning_rate_init=0.05)
    weighted = quietly_fit(small(**settings), X, y, sample_weight=np.where(keep, 2.0, 0.0))
    kept = quietly_fit(small(**{**settings, "learning_rate_init": 0.1}), X[keep], y[keep])
    np.testing.assert_allclose(weighted.coefs_[0], kept.coefs_[0], rtol=0, atol=1e-12)
    unweighted = quietly_fit(small(**settings), X, y)
    assert np.abs(unweighted.coefs_[0] - weighted.coefs_[0]).max() > 1e-3


def test_class_weight_is_sample_weight_by_class(digits):
    X, y = digits
    weights = {label: 1.0 + label for label in range(10)}
    by_class = quietly_fit(small(class_weight=weights, batch_size=1), X, y)
    by_sample = quietly_fit(small(batch_size=1), X, y, sample_weight=1.0 + y)
    np.testing.assert_array_equal(by_class.coefs_[0], by_sample.coefs_[0])
    balanced = quietly_fit(small(class_weight="balanced", batch_size=1), X, y)
    counts = np.bincount(y)
    by_count = quietly_fit(small(batch_size=1), X, y,
                           sample_weight=len(y) / (10 * counts[y]))
    np.testing.assert_allclose(balanced.coefs_[0], by_count.coefs_[0], rtol=0, atol=1e-12)


def test_validation_loss_curve_is_the_validation_log_loss(digits):
    X, y = digits
    model = quietly_fit(small(early_stopping=True, max_iter=1, validation_fraction=0.25), X, y)
    # The split scikit-learn makes: after the initial weights' draws from the same stream.
    random_state = np.random.RandomState(0)
    for fan_in, fan_out in ((64, 10), (10, 10)):
        random_state.uniform(size=(fan_in, fan_out))
        random_state.uniform(size=fan_out)
    Y = LabelBinarizer().fit_transform(y).astype(bool)
    _, X_val, _, Y_val = train_test_split(X, Y, random_state=random_state, test_size=0.25)
    assert len(model.validation_loss_curve_) == len(model.validation_scores_) == 1
    expected = log_loss(Y_val, model.predict_proba(X_val))
    assert model.validation_loss_curve_[0] == pytest.approx(expected, rel=1e-12)


def test_callbacks_run_each_epoch_and_can_stop_and_set_the_rate(digits):
    X, y = digits

    class Record(callbacks.Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_end(self, epoch, logs, network):
            self.seen.append((epoch, logs["loss"], logs["lr"]))
            network.stop_training = epoch == 2

    record = Record()
    model = small(solver="sgd", max_iter=10).fit(X, y, callbacks=[
        record, callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))])
    assert model.n_iter_ == 3 and [epoch for epoch, _, _ in record.seen] == [0, 1, 2]
    assert [lr for _, _, lr in record.seen] == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert [loss for _, loss, _ in record.seen] == model.loss_curve_
    with pytest.raises(ValueError, match="val_loss"):
        small().fit(X, y, callbacks=[callbacks.EarlyStopping(monitor="val_loss")])


def test_warm_start_continues_the_optimizer(digits):
    """Two warm-started fits of two epochs are one fit of four (scikit-learn restarts Adam)."""
    X, y = digits
    settings = dict(solver="adam", batch_size=32, shuffle=False, learning_rate_init=0.01)
    warm = small(warm_start=True, max_iter=2, **settings)
    quietly_fit(warm, X, y)
    quietly_fit(warm, X, y)
    straight = quietly_fit(small(max_iter=4, **settings), X, y)
    np.testing.assert_array_equal(warm.coefs_[0], straight.coefs_[0])
    assert warm.n_iter_ == 2 and len(warm.loss_curve_) == 4
    np.testing.assert_array_equal(warm.loss_curve_, straight.loss_curve_)


def test_warm_start_under_early_stopping_starts_its_bookkeeping_afresh(digits):
    X, y = digits
    model = small(warm_start=True, early_stopping=True, max_iter=3)
    quietly_fit(model, X, y)
    quietly_fit(model, X, y)
    assert len(model.validation_scores_) == model.n_iter_ == 3
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_threaded_batches_match_one_thread(digits):
    X, y = digits
    one = quietly_fit(small(batch_size=200), X, y)
    threaded = quietly_fit(small(batch_size=200, n_jobs=-1), X, y)
    np.testing.assert_allclose(threaded.coefs_[0], one.coefs_[0], rtol=0, atol=1e-12)


def test_coefs_are_views_of_the_network(digits):
    X, y = digits
    model = quietly_fit(small(), X, y)
    assert model.coefs_[0].shape == (64, 10) and model.intercepts_[1].shape == (10,)
    model.coefs_[0][...] = 0.0
    assert not model.network_.weights[0].any()


# ------------------------------------------------------------------ bad input

def test_refusals_follow_sklearn(digits):
    X, y = digits
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    for bad in (dict(solver="newton"), dict(alpha=-1.0), dict(batch_size=0), dict(n_jobs=0),
                dict(class_weight="even"), dict(momentum=1.5)):
        with pytest.raises(InvalidParameterError):
            small(**bad).fit(X, y)
    X_nan = X.copy()
    X_nan[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small().fit(X_nan, y)
    with pytest.raises(ValueError, match="classes must be passed"):
        small().partial_fit(X, y)
    untouched = small()
    with pytest.raises(ValueError, match="NaN"):
        untouched.partial_fit(X_nan, y, classes=np.arange(10))
    assert not hasattr(untouched, "classes_")  # the first call's classes are kept only on success
    model = small(solver="sgd").partial_fit(X, y % 5, classes=np.arange(5))
    with pytest.raises(ValueError, match="classes not in"):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        small(early_stopping=True).partial_fit(X, y, classes=np.arange(10))
    assert not hasattr(small(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson").fit(X, y)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        small(max_iter=1).fit(X, y)


def test_a_diverging_fit_raises_and_keeps_the_fitted_model(digits):
    X, y = digits
    model = quietly_fit(small(solver="sgd", warm_start=True), X, y)
    before = model.coefs_[0].copy(), list(model.loss_curve_)
    model.set_params(learning_rate_init=1e6, momentum=0.0)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        model.fit(X * 1e200, y)
    np.testing.assert_array_equal(model.coefs_[0], before[0])
    assert model.loss_curve_ == before[1]
