"""The epoch loop of one ``fit``: each epoch's rate, order, training, scores and callbacks, with
divergence, the progress bar and Ctrl-C.

``Network.fit`` checks its arguments and builds a trainer (``fastnn.backends``); ``EpochLoop``
then runs the epochs and records each one in the network's history. It touches the network
only where a user or a callback may too (``lr``, ``history``, ``stop_training``); the
generator it draws orders from and what the outputs are scored by are handed to it.
"""

import warnings

import numpy as np
from tqdm.auto import tqdm

from . import metrics, optimizers, settings
from ._interrupt import DeferredInterrupt
from .errors import DivergenceError, DivergenceWarning, divergence_message

# Frames between warnings.warn in EpochLoop._diverged and the user's call of Network.fit.
_FRAMES_TO_FIT_CALLER = 6


def score_names(validation, metric, score_name):
    """The names of the scores an epoch's record holds beside its loss, seconds and rate: the
    validation loss and ``score_name`` when there is ``validation``, and the ``metric``."""
    names = [] if validation is None else ["val_loss", "val_" + score_name]
    return names + ([] if metric is None else [metric])


class EpochLoop:
    """The epochs of one ``fit`` of ``network`` by ``trainer``, on checked arguments.

    ``X`` and ``y`` are the training data, ``validation`` None or ``(X_val, y_val, targets)``,
    ``callbacks`` the fit's ``Callback`` objects, ``metric`` None or a training metric's name,
    ``run`` the checked training settings, ``rng`` the network's generator (each epoch's order
    is drawn from it), and ``output`` and ``score_name`` the output activation and the score
    (``"accuracy"`` or ``"r2"``) its validation is measured by.
    """

    def __init__(self, network, trainer, X, y, validation, callbacks, metric, run, rng, output,
                 score_name):
        self.network, self.trainer, self.X, self.y = network, trainer, X, y
        self.validation, self.callbacks, self.metric, self.run = validation, callbacks, metric, run
        self.rng, self.output, self.score_name = rng, output, score_name

    def fit(self):
        """Every epoch, until ``epochs`` are done, a callback stops training or an epoch
        diverges; the callbacks' ``on_train_end`` runs however it ends."""
        network, run = self.network, self.run
        network.stop_training = False
        try:
            for callback in self.callbacks:
                callback.on_train_begin(network)
            with (tqdm(total=run["epochs"] * len(self.X), unit="sample",
                       disable=not run["verbose"]) as bar,
                  DeferredInterrupt() as interrupt, self.trainer):
                for _ in range(run["epochs"]):
                    if not self._epoch(bar, interrupt):
                        break
                self._check_interrupt(interrupt, 0, len(self.X))
        finally:
            for callback in self.callbacks:
                callback.on_train_end(network)

    def _epoch(self, bar, interrupt):
        """One epoch and its callbacks; whether training goes on. A Ctrl-C that came since
        the last epoch's last step (during its callbacks, say) stops training before it."""
        network, trainer, n_samples = self.network, self.trainer, len(self.X)
        self._check_interrupt(interrupt, 0, n_samples)
        epoch = len(network.history["loss"])
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, network)
        lr = self._rate(epoch)
        order = self.rng.permutation(n_samples) if self.run["shuffle"] else np.arange(n_samples)
        last_good = trainer.snapshot()
        loss, seconds, diverged_at = self._train(order, lr, bar, interrupt)
        if diverged_at is None and not trainer.all_finite():
            diverged_at = len(order)  # in the updates of the epoch's last samples
        if diverged_at is not None:
            trainer.restore(last_good)
            names = score_names(self.validation, self.metric, self.score_name)
            scores = dict.fromkeys(names, np.nan)
            self._record(dict(loss=np.nan, seconds=seconds, lr=lr, **scores))
            self._diverged(diverged_at, order)
            return False
        record = {"loss": loss, "seconds": seconds, "lr": lr, **self._scores()}
        self._record(record)
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, dict(record), network)
        return not network.stop_training

    def _rate(self, epoch):
        """The learning rate of epoch ``epoch``, from the network's ``lr`` (as the callbacks
        left it) and the schedule; refused, before the epoch trains, if it cannot train."""
        run = self.run
        rate = optimizers.scheduled_rate(self.network.lr, run["lr_schedule"], run["power_t"],
                                         self.trainer.state.samples)
        try:
            settings.check_rate("lr", rate, self.network.dtype.type, allow_zero=False)
        except ValueError as exc:
            raise ValueError(f"epoch {epoch} cannot train: {exc}") from None
        return float(rate)

    def _train(self, order, lr, bar, interrupt):
        """One epoch over ``X[order]`` at rate ``lr``: its mean loss, its seconds and None, or
        NaN, its seconds and the position in ``order`` where it diverged. Ctrl-C is taken
        between chunks."""
        total_loss, seconds, done = 0.0, 0.0, 0
        for chunk in self.trainer.epoch(order, lr):
            seconds += chunk.seconds
            if chunk.diverged_at is not None:
                return np.nan, seconds, chunk.diverged_at
            total_loss, done = total_loss + chunk.loss, done + chunk.samples
            bar.update(chunk.samples)
            bar.set_postfix(loss=f"{total_loss / done:.4g}", refresh=False)
            self._check_interrupt(interrupt, done, len(order))
        return total_loss / len(order), seconds, None

    def _check_interrupt(self, interrupt, done, n_samples):
        """Raise a pending Ctrl-C, noting where training stands: ``done`` samples into the
        epoch after those in the history."""
        try:
            interrupt.check()
        except KeyboardInterrupt as stop:
            finished = len(self.network.history["loss"])
            where = (f"in epoch {finished + 1} after {done:,} of {n_samples:,} samples" if done
                     else f"after epoch {finished}")
            stop.add_note(f"fastnn: fit interrupted {where}. The network keeps the weights of "
                          f"that moment (every step taken is complete); its history lists the "
                          f"{finished} finished epochs.")
            raise

    def _scores(self):
        """The epoch's validation loss and score, and its training ``metric``, as asked."""
        scores, trainer = {}, self.trainer
        if self.validation is not None:
            X_val, y_val, val_targets = self.validation
            scores["val_loss"], val_out = trainer.loss_and_outputs(X_val, val_targets)
            scores["val_" + self.score_name] = metrics.metric(self.score_name, self.output,
                                                              val_out, y_val)
        if self.metric is not None:
            scores[self.metric] = metrics.metric(self.metric, self.output,
                                                 trainer.outputs(self.X), self.y)
        return scores

    def _record(self, record):
        for key, value in record.items():
            self.network.history.setdefault(key, []).append(value)

    def _diverged(self, position, order):
        """Raise (or warn, per ``on_divergence``) about a non-finite loss or weight."""
        message = divergence_message(len(self.network.history["loss"]), position, order,
                                     self.trainer.batch_size)
        if self.run["on_divergence"] == "raise":
            raise DivergenceError(message)
        warnings.warn(message, DivergenceWarning, stacklevel=_FRAMES_TO_FIT_CALLER)
