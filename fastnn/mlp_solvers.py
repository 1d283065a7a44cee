"""scikit-learn's MLP training, step for step, on fastnn's compiled kernels.

``fastnn.estimators`` checks the arguments and keeps the fitted state; this module trains, as
scikit-learn 1.9's ``BaseMultilayerPerceptron`` does:

- ``draw_initial_weights``: its Glorot-uniform draws (``_init_coef``), in its order;
- ``StochasticFit``: the ``sgd`` and ``adam`` solvers (``_fit_stochastic``): the early-stopping
  split, each epoch's shuffle, ``alpha`` over each batch's rows, the loss as it adds it up,
  the learning-rate schedules, its Adam and momentum forms and its stopping rule;
- ``fit_lbfgs``: scipy's L-BFGS-B on the compiled full-batch loss and gradient.

Every random draw goes through the same scikit-learn function with the same ``RandomState``,
so the same ``random_state`` gives the same initial weights, splits and orders.
"""

import copy
import dataclasses
import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import shuffle as shuffled

from . import config, optimizers
from ._data import sample_factors
from .callbacks import check_callbacks
from .settings import check_rate
from .backends.cpu import (
    CPUTrainer,
    block_buffers,
    gradient_buffers,
    kernel_errors,
    runs_threaded,
    threads_for,
)
from .kernels import loss_and_gradient, loss_and_gradient_threaded
from .kernels.optimizers import KINGMA_ADAM, MOMENTUM, NESTEROV, squared_weights
from .kernels.views import B_START, W_START
from .threads import one_blas_thread
from .training import score_names

NON_FINITE_MESSAGE = ("Solver produced non-finite parameter weights. The input data may contain "
                      "large values and need to be preprocessed.")


def draw_initial_weights(network, activation, random_state):
    """Draw ``network``'s weights and biases from ``random_state`` as scikit-learn's
    ``_init_coef`` does: per layer, the ``(fan_in, fan_out)`` coefficients, then the
    intercepts, uniform within ``sqrt(factor / (fan_in + fan_out))``, with ``factor`` 2 for
    the logistic activation and 6 otherwise; drawn in float64, then cast."""
    factor = 2.0 if activation == "logistic" else 6.0
    for weights, biases in zip(network.weights, network.biases):
        fan_out, fan_in = weights.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        weights[...] = random_state.uniform(-bound, bound, (fan_in, fan_out)).T
        biases[...] = random_state.uniform(-bound, bound, fan_out)


@dataclasses.dataclass
class Progress:
    """What a stochastic solver carries from one ``fit`` or ``partial_fit`` call to the next.

    ``learning_rate`` is the current rate (scikit-learn's ``optimizer.learning_rate``);
    ``velocity_rate`` the rate momentum's velocity in ``state.m`` is scaled for; the rest are
    the estimator's fitted attributes of the same names (``validation_losses`` is fastnn's
    ``validation_loss_curve_``).
    """

    network: object
    state: optimizers.OptimizerState
    learning_rate: float
    velocity_rate: float
    t: int = 0
    n_iter: int = 0
    loss: float | None = None
    loss_curve: list = dataclasses.field(default_factory=list)
    best_loss: float | None = None
    validation_scores: list | None = None
    validation_losses: list | None = None
    best_validation_score: float | None = None
    no_improvement_count: int = 0

    def copy(self):
        """An independent copy, to train on and keep only if the fit succeeds."""
        return copy.deepcopy(self)

    def restart_stopping(self, early_stopping):
        """The stopping rule's bookkeeping as a new fit begins (``_initialize``'s)."""
        self.no_improvement_count = 0
        self.best_loss = None if early_stopping else np.inf
        self.validation_scores = [] if early_stopping else None
        self.validation_losses = [] if early_stopping else None
        self.best_validation_score = -np.inf if early_stopping else None


class StochasticFit:
    """One ``fit`` or ``partial_fit`` call of the ``sgd`` or ``adam`` solver.

    ``settings`` holds the estimator's parameters; ``progress`` (a ``Progress``, trained in
    place) the network and what carries over; ``X`` the inputs in the network's dtype, ``Y``
    the encoded targets (a boolean indicator matrix for classifiers), ``weights`` None or each
    sample's weight; ``random_state`` the ``RandomState`` the fit draws from, after the
    initial weights; ``score`` maps ``(outputs, Y, weights)`` of validation rows to their
    score (accuracy or R², as ``_score`` computes it), named ``score_name``; ``loss_scale``
    converts fastnn's summed loss to scikit-learn's (``1 / n_outputs`` for squared error,
    whose loss it averages over the outputs); ``callbacks`` are ``fastnn.callbacks`` objects.
    """

    def __init__(self, settings, progress, X, Y, weights, random_state, *, incremental, score,
                 score_name, loss_code, loss_scale, is_classifier, callbacks):
        self.settings, self.progress, self.random_state = settings, progress, random_state
        self.incremental, self.score, self.score_name = incremental, score, score_name
        self.loss_code, self.loss_scale = loss_code, loss_scale
        early_stopping = settings["early_stopping"]
        if early_stopping:
            stratify = Y if is_classifier and Y.shape[1] == 1 else None
            parts = train_test_split(X, Y, *([] if weights is None else [weights]),
                                     random_state=random_state,
                                     test_size=settings["validation_fraction"], stratify=stratify)
            X, X_val, Y, Y_val = parts[:4]
            weights, weights_val = (None, None) if weights is None else parts[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            dtype = progress.network.dtype
            self.validation = X_val, Y_val, Y_val.astype(dtype), weights_val
        else:
            self.validation = None
        self.X, self.Y, self.weights = X, Y, weights
        # scikit-learn divides alpha by a batch's summed weight; fastnn by its rows times the
        # training rows' mean weight, which is that sum for a full batch.
        self.alpha = settings["alpha"] / (1.0 if weights is None else float(weights.mean()))
        self.batch_size = self._batch_size(len(X))
        self.callbacks = check_callbacks(callbacks, self.record_names())
        self.optimizer = {**optimizers.kernel_settings(
            settings["solver"], settings["momentum"], settings["nesterovs_momentum"],
            settings["beta_1"], settings["beta_2"], settings["epsilon"]), "adam_form": KINGMA_ADAM}
        self.momentum = self.optimizer["code"] in (MOMENTUM, NESTEROV)

    def _batch_size(self, n_samples):
        """scikit-learn's batch size for ``n_samples`` training rows, clipped with its
        warning."""
        batch_size = self.settings["batch_size"]
        if batch_size == "auto":
            return min(200, n_samples)
        if batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped")
        return int(np.clip(batch_size, 1, n_samples))

    def run(self):
        """The epochs, until ``max_iter``, the stopping rule, a callback or (for
        ``partial_fit``) the first one; then the best weights back under early stopping.
        Raises ``ValueError`` at a non-finite loss, leaving the progress half-trained: the
        caller keeps its own copy."""
        settings, progress, network = self.settings, self.progress, self.progress.network
        dtype, alpha = network.dtype, self.alpha
        trainer = CPUTrainer(
            network.params, network.layout, self.X, self.Y.astype(dtype), loss_code=self.loss_code,
            factors=sample_factors(self.weights, len(self.X), dtype), state=progress.state,
            optimizer=self.optimizer, l1=0.0, l2=alpha / self.batch_size,
            batch_size=self.batch_size, n_jobs=settings["n_jobs"], sparse_inputs="auto",
            sum_squares=alpha > 0)
        best_params = network.params.copy()
        network.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin(network)
        try:
            with trainer:
                self._epochs(trainer, best_params)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        finally:
            for callback in self.callbacks:
                callback.on_train_end(network)
        if settings["early_stopping"]:
            network.params[...] = best_params
        if not np.isfinite(network.params).all():
            raise ValueError(NON_FINITE_MESSAGE)

    def record_names(self):
        """The names of each epoch's record, as callbacks may monitor them."""
        return ["loss", "lr"] + score_names(self.validation, None, self.score_name)

    def _epochs(self, trainer, best_params):
        """``_fit_stochastic``'s loop over epochs, with the callbacks' hooks around each;
        ``best_params`` receives the best epoch's weights under early stopping."""
        settings, progress, network = self.settings, self.progress, self.progress.network
        sample_idx = np.arange(len(self.X), dtype=int)
        progress.n_iter = 0
        for _ in range(settings["max_iter"]):
            epoch = len(progress.loss_curve)
            network.lr = progress.learning_rate
            for callback in self.callbacks:
                callback.on_epoch_begin(epoch, network)
            check_rate("a callback's lr", network.lr, network.dtype.type, allow_zero=False)
            progress.learning_rate = float(network.lr)
            if settings["shuffle"]:
                sample_idx = shuffled(sample_idx, random_state=self.random_state)
            progress.loss = np.float64(self._train_epoch(trainer, sample_idx) / len(self.X))
            progress.n_iter += 1
            progress.t += len(self.X)
            progress.loss_curve.append(progress.loss)
            if settings["verbose"]:
                print(f"Iteration {progress.n_iter}, loss = {progress.loss:.8f}")
            logs = {"loss": progress.loss, "lr": progress.learning_rate}
            logs.update(self._count_no_improvement(trainer, best_params))
            for callback in self.callbacks:
                callback.on_epoch_end(epoch, dict(logs), network)
            progress.learning_rate = float(network.lr)
            self._iteration_ends()
            if progress.no_improvement_count > settings["n_iter_no_change"]:
                if self._stops():
                    break
                progress.no_improvement_count = 0
            if self.incremental or network.stop_training:
                break
            if progress.n_iter == settings["max_iter"]:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({settings['max_iter']}) "
                              f"reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)

    def _train_epoch(self, trainer, order):
        """One epoch over ``X[order]``: its loss as scikit-learn adds it up, each batch's mean
        loss plus its penalty ``alpha / 2 * |W|^2 / rows``, times its rows. The full batches
        and the last, smaller one are trained by two calls, each with its own ``alpha / rows``.
        """
        progress, alpha = self.progress, self.alpha
        lr = progress.learning_rate
        if self.momentum and lr != progress.velocity_rate:
            self._rescale_velocity(lr)
        n_full = len(order) - len(order) % self.batch_size
        if trainer.squares is not None:
            trainer.squares[:] = 0.0
        data_loss = 0.0
        for rows in (order[:n_full], order[n_full:]):
            if len(rows) == 0:
                continue
            trainer.set_penalties(0.0, alpha / min(self.batch_size, len(rows)))
            for chunk in trainer.epoch(rows, lr):
                if chunk.diverged_at is not None:
                    raise ValueError(NON_FINITE_MESSAGE)
                data_loss += chunk.loss
        penalty = 0.0 if trainer.squares is None else 0.5 * alpha * float(trainer.squares[0])
        return data_loss * self.loss_scale + penalty

    def _rescale_velocity(self, lr):
        """Keep momentum's velocity scikit-learn's when the rate changes.

        scikit-learn's velocity is the last step, ``u = momentum * u - lr * g``; the kernels
        keep torch's, ``m = momentum * m + g``, stepping by ``lr * m``. The two agree while the
        rate is constant (``u = -lr * m``); when it changes from ``a`` to ``b``, ``m`` scaled by
        ``a / b`` is the velocity that continues scikit-learn's ``u``.
        """
        progress = self.progress
        if progress.velocity_rate > 0:
            progress.state.m *= progress.velocity_rate / lr
        progress.velocity_rate = lr

    def _count_no_improvement(self, trainer, best_params):
        """scikit-learn's ``_update_no_improvement_count``: the validation score (under early
        stopping) or the training loss against the best so far. Returns the epoch's
        validation record, if any."""
        progress, tol = self.progress, self.settings["tol"]
        if self.validation is None:
            if progress.loss_curve[-1] > progress.best_loss - tol:
                progress.no_improvement_count += 1
            else:
                progress.no_improvement_count = 0
            progress.best_loss = min(progress.best_loss, progress.loss_curve[-1])
            return {}
        X_val, Y_val, targets_val, weights_val = self.validation
        val_loss, outputs = trainer.loss_and_outputs(X_val, targets_val)
        score = self.score(outputs, Y_val, weights_val)
        progress.validation_scores.append(score)
        progress.validation_losses.append(val_loss * self.loss_scale)
        if self.settings["verbose"]:
            print(f"Validation score: {score:f}")
        if score < progress.best_validation_score + tol:
            progress.no_improvement_count += 1
        else:
            progress.no_improvement_count = 0
        if score > progress.best_validation_score:
            progress.best_validation_score = score
            best_params[...] = progress.network.params
        return {"val_loss": val_loss * self.loss_scale, "val_" + self.score_name: score}

    def _iteration_ends(self):
        """The invscaling schedule's rate from the samples seen (``iteration_ends``)."""
        settings, progress = self.settings, self.progress
        if settings["solver"] == "sgd" and settings["learning_rate"] == "invscaling":
            progress.learning_rate = (float(settings["learning_rate_init"])
                                      / (progress.t + 1) ** settings["power_t"])

    def _stops(self):
        """``trigger_stopping``: whether training stops, or (the adaptive schedule) goes on at
        a fifth of the rate."""
        settings, progress = self.settings, self.progress
        what = ("Validation score did not improve" if settings["early_stopping"]
                else "Training loss did not improve")
        message = (f"{what} more than tol={settings['tol']:f} for "
                   f"{settings['n_iter_no_change']} consecutive epochs.")
        adaptive = settings["solver"] == "sgd" and settings["learning_rate"] == "adaptive"
        if not adaptive or progress.learning_rate <= 1e-6:
            if settings["verbose"]:
                print(message + (" Learning rate too small." if adaptive else "") + " Stopping.")
            return True
        progress.learning_rate /= 5.0
        if settings["verbose"]:
            print(f"{message} Setting learning rate to {progress.learning_rate:f}")
        return False


class FullBatchObjective:
    """scikit-learn's L-BFGS objective of a network's flat parameter vector, and its gradient,
    both from one compiled full-batch pass: the weighted mean loss (times ``loss_scale``) plus
    ``alpha / 2 * |W|^2`` over the summed sample ``weights`` (their number when None). A full
    batch is the one case where fastnn's weighting and scikit-learn's per-batch one agree.
    Called by scipy with float64 vectors, as ``_loss_grad_lbfgs``."""

    def __init__(self, network, X, targets, weights, *, loss_code, loss_scale, alpha, n_jobs):
        self.network, self.X, self.targets = network, X, targets
        self.factors = sample_factors(weights, len(X), network.dtype)
        self.weight_sum = len(X) if weights is None else float(weights.sum())
        self.loss_code, self.loss_scale, self.alpha = loss_code, loss_scale, alpha
        params, layout, dtype = network.params, network.layout, network.dtype
        sets = threads_for(n_jobs)
        self.buffers = block_buffers(layout, dtype, 3, min(len(X), config.BLOCK_ROWS), sets)
        self.grad, self.part_grads, self.part_losses = gradient_buffers(params, sets)
        self.kernel = loss_and_gradient_threaded if runs_threaded(sets) else loss_and_gradient
        self.weight_mask = np.zeros(params.size, bool)  # the penalised entries
        for row in layout:
            self.weight_mask[row[W_START]:row[B_START]] = True

    def __call__(self, x):
        params, n_samples = self.network.params, len(self.X)
        params[...] = x
        with kernel_errors():
            total = self.kernel(params, self.network.layout, self.X, self.targets, self.factors,
                                self.loss_code, config.MIN_PART_ROWS, *self.buffers, self.grad,
                                self.part_grads, self.part_losses)
            squares = squared_weights(params, self.network.layout)
        penalty = self.alpha / self.weight_sum
        loss = total / n_samples * self.loss_scale + 0.5 * penalty * squares
        grad = self.grad.astype(np.float64)
        grad[self.weight_mask] += penalty * params[self.weight_mask]
        return np.float64(loss), grad


def fit_lbfgs(objective, max_iter, max_fun, tol):
    """Minimise ``objective`` (a ``FullBatchObjective``) from its network's weights by
    L-BFGS-B with scikit-learn's options; leaves the result in the network and returns
    ``(n_iter, loss)``. Warns ``ConvergenceWarning`` as scikit-learn does when it stops short.
    """
    network = objective.network
    with one_blas_thread():
        result = scipy.optimize.minimize(
            objective, network.params.astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol})
    n_iter = min(result.nit, max_iter)
    if result.status != 0:  # scikit-learn's _check_optimize_result's words
        message = f"lbfgs failed to converge after {n_iter} iteration(s) (status={result.status}):"
        message += f"\n{result.message}\n"
        if n_iter == max_iter:
            message += (f"\nIncrease the number of iterations to improve the convergence "
                        f"(max_iter={max_iter}).")
        message += ("\nYou might also want to scale the data as shown in:\n"
                    "    https://scikit-learn.org/stable/modules/preprocessing.html")
        warnings.warn(message, ConvergenceWarning)
    network.params[...] = result.x
    if not np.isfinite(network.params).all():
        raise ValueError(NON_FINITE_MESSAGE)
    return n_iter, result.fun
