"""Callbacks for ``Network.fit``, with Keras's names and meanings.

A callback is called at the start and end of training and of every epoch. It sees the network
and, at an epoch's end, that epoch's record (the values appended to ``network.history``);
setting ``network.stop_training = True`` ends training after the current epoch. Epochs are
numbered from 0 over the network's whole history, so a second ``fit`` goes on counting.
Callbacks that read a ``monitor`` value have it checked against the record's names before
training starts.
"""

import csv
import math
import os

from .settings import check_rate, is_integer, is_real

# History names whose larger values are better; "auto" mode minimises every other one.
MAXIMISED = ("accuracy", "roc_auc", "r2")


class Callback:
    """The hooks ``Network.fit`` calls; each does nothing unless a subclass overrides it."""

    monitor = None  # the history name the callback reads, if any

    def on_train_begin(self, network):
        """Before the first epoch of a ``fit``."""

    def on_epoch_begin(self, epoch, network):
        """Before epoch ``epoch`` trains."""

    def on_epoch_end(self, epoch, logs, network):
        """After epoch ``epoch``, whose record ``logs`` is in the history already."""

    def on_train_end(self, network):
        """When ``fit`` ends, however it ends: epochs done, stopped, diverged or interrupted."""


class _Monitor(Callback):
    """A callback that follows one history value and notices when it improves."""

    def __init__(self, monitor, mode, min_delta):
        if not isinstance(monitor, str):
            raise ValueError(f"monitor must be a history name, got {monitor!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if not (is_real(min_delta) and math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta must be a non-negative finite number, got "
                             f"{min_delta!r}.")
        self.monitor, self.min_delta = monitor, float(min_delta)
        if mode == "auto":
            mode = "max" if monitor.removeprefix("val_") in MAXIMISED else "min"
        self.mode = mode
        self.best = None

    def improved(self, value):
        """Whether ``value`` beats the best so far by more than ``min_delta`` (NaN never does);
        if so, it becomes the best."""
        if not math.isfinite(value):
            return False
        better = (self.best is None or
                  (value - self.min_delta > self.best if self.mode == "max"
                   else value + self.min_delta < self.best))
        if better:
            self.best = value
        return better


def _check_count(name, value):
    if not (is_integer(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs in a row.

    With ``restore_best_weights`` (the default here; Keras's is False) the network ends with
    the weights it had at the end of its best epoch, however training ends: stopped, all
    epochs done, diverged or interrupted. Only the weights go back, as in Keras: the optimizer
    state and the history stay as training left them. ``best_epoch`` and ``stopped_epoch``
    tell what happened (None until they happen).
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=True):
        super().__init__(monitor, mode, min_delta)
        self.patience = _check_count("patience", patience)
        self.restore_best_weights = bool(restore_best_weights)

    def on_train_begin(self, network):
        self.best, self.best_epoch, self.stopped_epoch = None, None, None
        self.best_params, self.wait = None, 0

    def on_epoch_end(self, epoch, logs, network):
        if self.improved(logs[self.monitor]):
            self.best_epoch, self.wait = epoch, 0
            if self.restore_best_weights:
                self.best_params = network.params.copy()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            network.stop_training = True

    def on_train_end(self, network):
        if self.best_params is not None:
            network.params[...] = self.best_params


class ReduceLROnPlateau(_Monitor):
    """Multiply the network's ``lr`` by ``factor`` (down to ``min_lr``) when ``monitor`` has
    not improved by more than ``min_delta`` for ``patience`` epochs, then wait ``cooldown``
    epochs before counting again. The new rate is the network's ``lr`` setting from then on,
    as it is the optimizer's in Keras."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta)
        if not (is_real(factor) and 0 < factor < 1):
            raise ValueError(f"factor must be a number between 0 and 1, got {factor!r}.")
        if not (is_real(min_lr) and math.isfinite(min_lr) and min_lr >= 0):
            raise ValueError(f"min_lr must be a non-negative finite number, got {min_lr!r}.")
        self.factor, self.min_lr = float(factor), float(min_lr)
        self.patience = _check_count("patience", patience)
        self.cooldown = _check_count("cooldown", cooldown)

    def on_train_begin(self, network):
        self.best, self.wait, self.cooling = None, 0, 0

    def on_epoch_end(self, epoch, logs, network):
        if self.improved(logs[self.monitor]):
            self.wait = 0
        elif self.cooling:
            self.cooling -= 1
        else:
            self.wait += 1
            if self.wait >= self.patience and network.lr > self.min_lr:
                network.lr = max(network.lr * self.factor, self.min_lr)
                self.cooling, self.wait = self.cooldown, 0


class ModelCheckpoint(_Monitor):
    """Save the network with ``Network.save`` (atomically) after every epoch, or with
    ``save_best_only`` after each epoch that improves ``monitor``. ``path`` may name the epoch
    (counted from 1) and any history value, as in ``"net-{epoch:02d}-{val_loss:.3f}.npz"``."""

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(monitor, mode, 0.0)
        self.path, self.save_best_only = os.fspath(path), bool(save_best_only)

    def on_train_begin(self, network):
        self.best = None

    def on_epoch_end(self, epoch, logs, network):
        if self.improved(logs[self.monitor]) or not self.save_best_only:
            network.save(self.path.format(epoch=epoch + 1, **logs))


class CSVLogger(Callback):
    """Write each epoch's record as a row of a CSV file: ``epoch`` then the history's names
    in alphabetical order. With ``append`` the rows go after those already there (the header
    only if the file is empty), else the file is started anew."""

    def __init__(self, path, separator=",", append=False):
        self.path, self.separator, self.append = os.fspath(path), separator, bool(append)
        self._file = self._writer = None

    def on_train_begin(self, network):
        self._file = open(self.path, "a" if self.append else "w", newline="")
        self._writer = None

    def on_epoch_end(self, epoch, logs, network):
        if self._writer is None:
            names = ["epoch", *sorted(logs)]
            self._writer = csv.DictWriter(self._file, names, delimiter=self.separator)
            if self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **logs})
        self._file.flush()

    def on_train_end(self, network):
        if self._file is not None:
            self._file.close()
            self._file = None


class LearningRateScheduler(Callback):
    """Set the network's ``lr`` to ``schedule(epoch, lr)`` before each epoch (Keras's
    signature: the epoch counted from 0, and the rate in effect). A rate that is not a
    positive finite number the network's dtype can hold is refused at that epoch, before it
    trains: the network keeps the weights and rate of the epoch before."""

    def __init__(self, schedule):
        if not callable(schedule):
            raise ValueError(f"schedule must be a function (epoch, lr) -> lr, got {schedule!r}.")
        self.schedule = schedule

    def on_epoch_begin(self, epoch, network):
        rate = self.schedule(epoch, network.lr)
        try:
            check_rate("lr", rate, network.dtype.type, allow_zero=False)
        except ValueError as exc:
            raise ValueError(f"the learning-rate schedule gave epoch {epoch} a rate it cannot "
                             f"train with: {exc}") from None
        network.lr = float(rate)


class StopAtTarget(Callback):
    """Stop after the first epoch whose ``metric`` reaches ``target`` (``fit``'s ``target=``)."""

    def __init__(self, metric, target):
        self.monitor, self.target = metric, target

    def on_epoch_end(self, epoch, logs, network):
        if logs[self.monitor] >= self.target:
            network.stop_training = True


def check_callbacks(callbacks, names):
    """``callbacks`` as a list of ``Callback`` objects, each one's ``monitor`` among the
    record ``names`` training will produce."""
    callbacks = [] if callbacks is None else list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise ValueError(f"callbacks must be fastnn.callbacks.Callback objects, got "
                             f"{callback!r}.")
        if callback.monitor is not None and callback.monitor not in names:
            raise ValueError(f"{type(callback).__name__} monitors {callback.monitor!r}, which "
                             f"this fit does not record; it records {', '.join(names)}.")
    return callbacks


def fit_callbacks(callbacks, names, lr_schedule, metric, target):
    """The callbacks a fit runs: a ``LearningRateScheduler`` for a callable ``lr_schedule``,
    then ``callbacks`` (checked by ``check_callbacks`` against the record ``names``), then a
    ``StopAtTarget`` when ``target`` is given."""
    callbacks = check_callbacks(callbacks, names)
    if callable(lr_schedule):
        callbacks.insert(0, LearningRateScheduler(lr_schedule))
    if target is not None:
        callbacks.append(StopAtTarget(metric, target))
    return callbacks
