"""``MLPClassifier`` and ``MLPRegressor``: scikit-learn's estimators, trained by fastnn.

Changing ``from sklearn.neural_network import MLPClassifier`` to ``from fastnn import
MLPClassifier`` is the whole migration: the parameters, defaults, validation, methods and fitted
attributes are scikit-learn 1.9's, and with the same ``random_state`` the fitted model is
scikit-learn's to rounding (``fastnn.mlp_solvers`` says how). What fastnn adds is documented
where it differs: ``class_weight``, sample weights that count at ``batch_size=1``,
``validation_loss_curve_``, ``callbacks``, ``n_jobs``, ``warm_start`` that continues the
optimizer, and ``to_sklearn``.
"""

import functools
from numbers import Integral, Real

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import optimizers
from ._data import class_weights
from .backends.cpu import CPUTrainer
from .kernels.losses import CLIPPED_BINARY_CROSS_ENTROPY, CLIPPED_CROSS_ENTROPY, SQUARED_ERROR
from .mlp_solvers import (
    FullBatchObjective,
    Progress,
    StochasticFit,
    draw_initial_weights,
    fit_lbfgs,
)
from .network import Network

_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_OUTPUT = {"softmax": "softmax", "logistic": "sigmoid", "identity": "identity"}
_SKLEARN_OUTPUT = {fastnn: sklearn for sklearn, fastnn in _OUTPUT.items()}
_LOSS = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy",
         "identity": "squared_error"}
# The kernels' losses as scikit-learn computes them (its log losses clip the probabilities).
_LOSS_CODE = {"softmax": CLIPPED_CROSS_ENTROPY, "logistic": CLIPPED_BINARY_CROSS_ENTROPY,
              "identity": SQUARED_ERROR}

# The fitted attributes ``to_sklearn`` hands over, where this fit has them.
_FITTED = ("n_features_in_", "feature_names_in_", "n_layers_", "n_outputs_", "out_activation_",
           "loss_", "best_loss_", "loss_curve_", "validation_scores_", "best_validation_score_",
           "n_iter_", "t_", "classes_", "_label_binarizer")


def _keep_parameters(estimator, arguments):
    """Store an ``__init__``'s ``arguments`` (its ``locals()``) unchanged, as scikit-learn's
    estimators do: checking them is ``fit``'s job."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _loss_code(network):
    """The kernels' loss for ``network``'s output, as scikit-learn computes it."""
    return _LOSS_CODE[_SKLEARN_OUTPUT[network.output]]


class _FastMLP(BaseEstimator):
    """What the classifier and the regressor share: scikit-learn's
    ``BaseMultilayerPerceptron``, its training done by ``fastnn.mlp_solvers``."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Options(Integral, {-1}),
                   Interval(Integral, 1, None, closed="left")],
    }

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y, sample_weight=None, callbacks=None):
        """Fit the model to ``X`` and ``y``, as scikit-learn's ``fit`` does.

        ``sample_weight`` (and the classifier's ``class_weight``) scale each sample's loss and
        gradient by its weight over the training rows' mean weight, in every batch, so they
        count at ``batch_size=1`` too; ``alpha`` is divided by a batch's rows times that mean.
        scikit-learn instead divides each batch's gradient, and ``alpha``, by the batch's
        summed weight, which at ``batch_size=1`` undoes any weight. The two agree for a full
        batch (and ``lbfgs``); for smaller weighted batches fastnn's fit is not
        scikit-learn's.

        ``callbacks`` are ``fastnn.callbacks`` objects, called with ``network_`` around each
        epoch of the stochastic solvers; an epoch's record holds ``loss``, ``lr`` and, under
        early stopping, ``val_loss`` and ``val_accuracy`` or ``val_r2``.
        """
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=False, callbacks=callbacks)

    def _check_solver(self):
        """``partial_fit`` exists for the stochastic solvers only (as ``available_if`` asks)."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _fit(self, X, y, sample_weight, incremental, callbacks, encoder=None):
        """scikit-learn's ``_fit``, training a copy and keeping it only if it succeeds
        (``encoder``: a first ``partial_fit``'s label binarizer, fitted on its classes)."""
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, Y, encoder = self._validate_input(X, y, incremental, first_pass, encoder)
        weights = self._sample_weights(sample_weight, X, Y, encoder)
        layer_units = [X.shape[1], *sizes, Y.shape[1]]
        random_state = check_random_state(self.random_state)
        if first_pass:
            progress = self._initial_progress(layer_units, X.dtype, encoder, random_state)
        else:
            progress = self._progress.copy()
            if progress.network.sizes != layer_units:
                raise ValueError(f"warm_start and partial_fit need the fitted layer sizes "
                                 f"{progress.network.sizes}; these data and hidden_layer_sizes "
                                 f"give {layer_units}.")
        network = progress.network
        X = X.astype(network.dtype, copy=False)
        if self.solver == "lbfgs":
            if callbacks:
                raise ValueError("callbacks run after each epoch of the stochastic solvers; "
                                 "solver='lbfgs' has no epochs.")
            self._fit_lbfgs(progress, X, Y, weights)
        else:
            if first_pass or not incremental:
                progress.restart_stopping(self.early_stopping)
                progress.learning_rate = float(self.learning_rate_init)
            progress.state = optimizers.state_for(progress.state, self.solver, self.momentum,
                                                  self.nesterovs_momentum, network.params.size,
                                                  network.dtype)
            StochasticFit(
                self.get_params(), progress, X, Y, weights, random_state,
                incremental=incremental, score=functools.partial(self._validation_score, encoder),
                score_name="accuracy" if is_classifier(self) else "r2",
                loss_code=_loss_code(network), loss_scale=self._loss_scale(Y),
                is_classifier=is_classifier(self), callbacks=callbacks).run()
        self._commit(progress, encoder)
        return self

    def _initial_progress(self, layer_units, dtype, encoder, random_state):
        """A new network drawn as scikit-learn draws its first weights, and what goes with it."""
        output = self._output_activation(encoder)
        network = Network(layer_units, activation=_HIDDEN[self.activation],
                          output=_OUTPUT[output], loss=_LOSS[output], dtype=dtype.name)
        draw_initial_weights(network, self.activation, random_state)
        state = optimizers.OptimizerState.fresh(self.solver, network.dtype)
        rate = float(self.learning_rate_init)
        return Progress(network, state, learning_rate=rate, velocity_rate=rate)

    def _fit_lbfgs(self, progress, X, Y, weights):
        network = progress.network
        objective = FullBatchObjective(network, X, Y.astype(network.dtype), weights,
                                       loss_code=_loss_code(network),
                                       loss_scale=self._loss_scale(Y), alpha=self.alpha,
                                       n_jobs=self.n_jobs)
        progress.n_iter, progress.loss = fit_lbfgs(objective, self.max_iter, self.max_fun,
                                                   self.tol)

    def _commit(self, progress, encoder):
        """Make a successful fit's ``progress`` the estimator's fitted state."""
        self._progress, self.network_ = progress, progress.network
        if encoder is not None:
            self._label_binarizer, self.classes_ = encoder, encoder.classes_
        network = progress.network
        self.n_layers_ = len(network.sizes)
        self.n_outputs_ = network.sizes[-1]
        self.out_activation_ = _SKLEARN_OUTPUT[network.output]
        self.n_iter_, self.t_, self.loss_ = progress.n_iter, progress.t, progress.loss
        if self.solver != "lbfgs":
            self.loss_curve_ = progress.loss_curve
            self.best_loss_ = progress.best_loss
            self.validation_scores_ = progress.validation_scores
            self.validation_loss_curve_ = progress.validation_losses
            self.best_validation_score_ = progress.best_validation_score

    def _sample_weights(self, sample_weight, X, Y, encoder):
        """Each sample's weight (``sample_weight`` times its class's ``class_weight``, the
        labels decoded from ``Y`` by the classifier's ``encoder``), or None when neither is
        given."""
        class_weight = getattr(self, "class_weight", None)
        if sample_weight is None and class_weight is None:
            return None
        weights = (np.ones(len(X)) if sample_weight is None
                   else _check_sample_weight(sample_weight, X, dtype=np.float64))
        if class_weight is not None:
            labels = encoder.inverse_transform(Y)
            if np.ndim(labels) > 1:
                raise ValueError("class_weight is not supported for multilabel targets.")
            weights = weights * class_weights(class_weight, labels)
        if not weights.sum() > 0:
            raise ValueError("the sample weights must not all be zero.")
        return weights

    @staticmethod
    def _dense(X):
        return np.ascontiguousarray(X.toarray() if scipy.sparse.issparse(X) else X)

    # --------------------------------------------------------------- prediction

    def _forward(self, X):
        """Output activations for ``X`` (checked), as ``_forward_pass_fast`` gives them."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        network = self.network_
        X = self._dense(X).astype(network.dtype, copy=False)
        return CPUTrainer.predict(network.params, network.layout, X)

    @property
    def coefs_(self):
        """Each layer's ``(n_in, n_out)`` weights: views of ``network_``'s parameters."""
        check_is_fitted(self)
        return [weights.T for weights in self.network_.weights]

    @property
    def intercepts_(self):
        """Each layer's biases: views of ``network_``'s parameters."""
        check_is_fitted(self)
        return list(self.network_.biases)

    def to_sklearn(self):
        """An equivalent fitted scikit-learn estimator (the weights copied), for tools built
        for scikit-learn's class, such as skl2onnx."""
        check_is_fitted(self)
        params = {name: value for name, value in self.get_params().items()
                  if name not in ("class_weight", "n_jobs")}
        estimator = self._sklearn_class(**params)
        for name in _FITTED:
            if hasattr(self, name):
                setattr(estimator, name, getattr(self, name))
        estimator.coefs_ = [coef.copy() for coef in self.coefs_]
        estimator.intercepts_ = [intercept.copy() for intercept in self.intercepts_]
        return estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _FastMLP):
    """scikit-learn's ``MLPClassifier``, trained by fastnn's compiled kernels.

    The parameters are scikit-learn 1.9's, with the same defaults and checks; see its
    documentation. fastnn adds, after them:

    class_weight : dict or "balanced", optional
        Multiplies each sample's weight by its class's (see ``fit`` for how weights count).
    n_jobs : int, optional
        Threads for each batch's gradient (-1: all Numba's), with the same result as one.

    ``warm_start`` continues the fitted network, and its optimizer's velocity or moments and
    step count (scikit-learn starts a new optimizer); the stopping rule's bookkeeping starts
    afresh with each ``fit`` (scikit-learn's carries stale values over). Fitted attributes are
    scikit-learn's, plus ``network_`` (the fastnn ``Network`` holding the weights; ``coefs_`` and
    ``intercepts_`` are views of it) and ``validation_loss_curve_`` (under early stopping, the
    validation loss after each epoch).
    """

    _parameter_constraints: dict = {
        **_FastMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    _sklearn_class = SklearnMLPClassifier

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None, n_jobs=None):
        _keep_parameters(self, locals())

    def _validate_input(self, X, y, incremental, reset, encoder):
        """scikit-learn's checks, its label binarizer fitted on a first pass (unless one is
        given); the inputs dense, the targets as its boolean indicator matrix."""
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if encoder is None and (not hasattr(self, "classes_")
                                or (not self.warm_start and not incremental)):
            encoder = LabelBinarizer().fit(y)
        else:
            encoder = self._label_binarizer if encoder is None else encoder
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same "
                                     f"classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, encoder.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{encoder.classes_}. 'y' has {classes}.")
        Y = encoder.transform(y).astype(bool)
        return self._dense(X), Y, encoder

    def _output_activation(self, encoder):
        return "softmax" if encoder.y_type_ == "multiclass" else "logistic"

    @staticmethod
    def _loss_scale(Y):
        return 1.0

    @staticmethod
    def _validation_score(encoder, outputs, Y, weights):
        """scikit-learn's ``_score``: the accuracy of the labels ``encoder`` decodes (NaN if an
        output is not finite)."""
        if not np.isfinite(outputs).all():
            return np.nan
        predicted = encoder.inverse_transform(outputs.ravel() if outputs.shape[1] == 1
                                              else outputs)
        return accuracy_score(encoder.inverse_transform(Y), predicted, sample_weight=weights)

    @available_if(_FastMLP._check_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``X`` and ``y``, continuing the fitted model and its optimizer.
        ``classes`` (every label ``y`` may hold) is needed on the first call."""
        self._validate_params()
        encoder = None
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            encoder = LabelBinarizer().fit(y if type_of_target(y).startswith("multilabel")
                                           else classes)
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(f"`classes={list(classes)!r}` is not the same as on the first call "
                             f"to partial_fit, was: {list(self.classes_)!r}")
        return self._fit(X, y, sample_weight, incremental=True, callbacks=None, encoder=encoder)

    def predict(self, X):
        """The predicted class labels."""
        outputs = self._forward(X)
        return self._label_binarizer.inverse_transform(
            outputs.ravel() if self.n_outputs_ == 1 else outputs)

    def predict_proba(self, X):
        """The probability of each class (for one logistic output, of both)."""
        outputs = self._forward(X)
        if self.n_outputs_ == 1:
            return np.vstack([1 - outputs.ravel(), outputs.ravel()]).T
        return outputs

    def predict_log_proba(self, X):
        """The logarithm of ``predict_proba``."""
        probabilities = self.predict_proba(X)
        return np.log(probabilities, out=probabilities)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _FastMLP):
    """scikit-learn's ``MLPRegressor``, trained by fastnn's compiled kernels.

    The parameters are scikit-learn 1.9's, with the same defaults and checks (``loss="poisson"``
    is not built yet: fit refuses it); ``n_jobs``, ``warm_start``, ``network_`` and
    ``validation_loss_curve_`` are as ``MLPClassifier``'s.
    """

    _parameter_constraints: dict = {
        **_FastMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }
    _sklearn_class = SklearnMLPRegressor

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 n_jobs=None):
        _keep_parameters(self, locals())

    def _validate_input(self, X, y, incremental, reset, encoder):
        if self.loss == "poisson":
            raise ValueError("loss='poisson' is not built in fastnn yet (it needs an exponential "
                             "output in the kernels); use loss='squared_error'.")
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return self._dense(X), y.reshape(len(y), -1), None

    def _output_activation(self, encoder):
        return "identity"

    @staticmethod
    def _loss_scale(Y):
        """fastnn's squared error sums over the outputs; scikit-learn's loss averages them."""
        return 1.0 / Y.shape[1]

    @staticmethod
    def _validation_score(encoder, outputs, Y, weights):
        """scikit-learn's ``_score``: R² of the predictions (NaN if one is not finite)."""
        if not np.isfinite(outputs).all():
            return np.nan
        return r2_score(Y, outputs, sample_weight=weights)

    @available_if(_FastMLP._check_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``X`` and ``y``, continuing the fitted model and its optimizer."""
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=True, callbacks=None)

    def predict(self, X):
        """The predicted values (1-D for one output)."""
        outputs = self._forward(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs
