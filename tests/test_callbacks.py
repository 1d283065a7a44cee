"""Callbacks (fastnn/callbacks.py) as Keras defines them, and validation_split, through fit."""

import _thread
import csv
import threading

import numpy as np
import pytest

from fastnn import DivergenceWarning, Network, load
from fastnn._data import split_validation
from fastnn.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
)

from .helpers import make_data, press_ctrl_c_in_a_finalizer

SIZES = [6, 8, 3]


@pytest.fixture
def data():
    X, y, _ = make_data(np.random.default_rng(0), SIZES, "softmax", n=120)
    return X, y


def network(epochs=6, lr=0.05, **settings):
    return Network(SIZES, seed=1, epochs=epochs, lr=lr, **settings)


def weights_after(epochs, X, y, **settings):
    """The weights the same network has after ``epochs`` epochs, trained without callbacks."""
    return network(epochs=epochs, **settings).fit(X, y).params


class Record(Callback):
    """Notes every hook call, and does what a test asks at a given epoch's end."""

    def __init__(self, at_epoch_end=None):
        self.calls, self.at_epoch_end = [], at_epoch_end or {}

    def on_train_begin(self, network):
        self.calls.append("begin")

    def on_epoch_begin(self, epoch, network):
        self.calls.append(("epoch", epoch))

    def on_epoch_end(self, epoch, logs, network):
        self.calls.append(("end", epoch, sorted(logs)))
        if epoch in self.at_epoch_end:
            self.at_epoch_end[epoch](network)

    def on_train_end(self, network):
        self.calls.append("train_end")


def stop(network):
    network.stop_training = True


def raise_interrupt(network):
    raise KeyboardInterrupt


def test_a_ctrl_c_during_a_callback_stops_fit_before_the_next_epoch(data):
    """Even pressed inside a finalizer, where the default handler's KeyboardInterrupt would be
    swallowed (``press_ctrl_c_in_a_finalizer``)."""
    net = network(epochs=50)
    with pytest.raises(KeyboardInterrupt) as raised:
        net.fit(*data, callbacks=[Record({2: lambda network: press_ctrl_c_in_a_finalizer()})])
    assert "fit interrupted after epoch 3" in " ".join(raised.value.__notes__)
    assert len(net.history["loss"]) == 3
    np.testing.assert_array_equal(net.params, weights_after(3, *data))  # no fourth epoch's step


def test_hooks_are_called_in_order_and_a_callback_can_stop_training(data):
    record = Record({1: stop})
    net = network().fit(*data, callbacks=[record])
    names = ["loss", "lr", "seconds"]
    assert record.calls == ["begin", ("epoch", 0), ("end", 0, names), ("epoch", 1),
                            ("end", 1, names), "train_end"]
    assert len(net.history["loss"]) == 2
    np.testing.assert_array_equal(net.params, weights_after(2, *data))
    net.epochs = 1
    net.fit(*data, callbacks=[record])  # a second fit numbers on, and starts unstopped
    assert record.calls[-3:] == [("epoch", 2), ("end", 2, names), "train_end"]


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(data):
    # Monitoring the training loss with an unreachable min_delta: epoch 0 is the best, and the
    # next `patience` epochs fail to improve on it.
    early = EarlyStopping(monitor="loss", min_delta=1e9, patience=2)
    net = network().fit(*data, callbacks=[early])
    assert len(net.history["loss"]) == 3
    assert (early.best_epoch, early.stopped_epoch) == (0, 2)
    np.testing.assert_array_equal(net.params, weights_after(1, *data))


def test_early_stopping_with_validation_loss_keeps_the_lowest(data):
    X, y = data
    early = EarlyStopping(patience=100)  # never stops: restores at the end of all epochs
    net = network(epochs=8, lr=2.0).fit(X, y, validation_split=0.25, callbacks=[early])
    losses = net.history["val_loss"]
    assert early.best_epoch == int(np.argmin(losses)) and early.stopped_epoch is None
    np.testing.assert_array_equal(net.params, network(epochs=early.best_epoch + 1, lr=2.0).fit(
        X, y, validation_split=0.25).params)


def test_early_stopping_restores_the_best_weights_after_a_real_ctrl_c():
    """Ctrl-C between epochs (the main thread interrupted, as a terminal does) still ends with
    the best epoch's weights."""
    X, y, _ = make_data(np.random.default_rng(0), SIZES, "softmax", n=2000)
    early = EarlyStopping(monitor="loss", patience=10**6, min_delta=1e9)
    net = network(epochs=10**6)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, callbacks=[early])
    timer.cancel()
    assert early.best_epoch == 0 and len(net.history["loss"]) >= 1
    np.testing.assert_array_equal(net.params, weights_after(1, X, y))


@pytest.mark.parametrize("how", ["divergence", "interrupt"])
def test_early_stopping_restores_the_best_weights_however_training_ends(how):
    # Regression with a squared error: at a rate of 1e3 every step multiplies the error by
    # about the rate, so the third epoch overflows.
    X, y, _ = make_data(np.random.default_rng(0), SIZES, "identity", n=120)
    settings = dict(output="identity", on_divergence="warn")
    early = EarlyStopping(monitor="loss", patience=100, min_delta=1e9)
    net = network(**settings)
    if how == "divergence":
        blow_up = LearningRateScheduler(lambda epoch, lr: 1e3 if epoch == 2 else lr)
        with pytest.warns(DivergenceWarning):
            net.fit(X, y, callbacks=[early, blow_up])
        assert np.isnan(net.history["loss"][2])
    else:
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, y, callbacks=[early, Record({2: raise_interrupt})])
    np.testing.assert_array_equal(net.params, weights_after(1, X, y, **settings))


def test_reduce_lr_on_plateau_divides_the_rate_and_keeps_it(data):
    plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1e9,
                                min_lr=0.01)
    net = network().fit(*data, callbacks=[plateau])
    assert net.history["lr"] == [0.05, 0.05, 0.025, 0.0125, 0.01, 0.01]
    assert net.lr == 0.01


def test_learning_rate_scheduler_sets_each_epochs_rate(data):
    schedule = LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    net = network(epochs=3).fit(*data, callbacks=[schedule])
    assert net.history["lr"] == [0.1, 0.05, 0.1 / 3]
    callable_setting = network(epochs=3, lr_schedule=lambda epoch, lr: 0.1 / (epoch + 1))
    np.testing.assert_array_equal(callable_setting.fit(*data).params, net.params)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, "fast", 1e-60])
def test_a_schedule_that_gives_a_bad_rate_is_refused_at_that_epoch(data, bad):
    net = network(dtype="float32")
    schedule = LearningRateScheduler(lambda epoch, lr: bad if epoch == 2 else lr)
    with pytest.raises(ValueError, match="epoch 2"):
        net.fit(*data, callbacks=[schedule])
    assert len(net.history["loss"]) == 2 and net.lr == 0.05
    np.testing.assert_array_equal(net.params, weights_after(2, *data, dtype="float32"))


def test_model_checkpoint_saves_the_best_epochs(data, tmp_path):
    X, y = data
    every = ModelCheckpoint(tmp_path / "net-{epoch:02d}-{val_loss:.3f}.npz")
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    net = network(epochs=3, lr=2.0).fit(X, y, validation_split=0.25, callbacks=[every, best])
    names = sorted(path.name for path in tmp_path.glob("net-*.npz"))
    assert names == [f"net-{epoch + 1:02d}-{loss:.3f}.npz"
                     for epoch, loss in enumerate(net.history["val_loss"])]
    np.testing.assert_array_equal(load(tmp_path / names[-1]).params, net.params)
    best_epoch = int(np.argmin(net.history["val_loss"]))
    saved = load(tmp_path / "best.npz")
    assert len(saved.history["loss"]) == best_epoch + 1
    np.testing.assert_array_equal(saved.params, network(epochs=best_epoch + 1, lr=2.0).fit(
        X, y, validation_split=0.25).params)


@pytest.mark.parametrize("append", [False, True])
def test_csv_logger_writes_one_row_per_epoch(data, tmp_path, append):
    path = tmp_path / "log.csv"
    net = network(epochs=2)
    net.fit(*data, callbacks=[CSVLogger(path)])
    net.fit(*data, callbacks=[CSVLogger(path, append=append)])
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["epoch", "loss", "lr", "seconds"]
    epochs = range(4) if append else range(2, 4)
    assert [int(row["epoch"]) for row in rows] == list(epochs)
    assert [float(row["loss"]) for row in rows] == [net.history["loss"][e] for e in epochs]


def test_a_monitor_the_fit_does_not_record_is_refused_before_training(data):
    net = network()
    before = net.params.copy()
    with pytest.raises(ValueError, match="monitors 'val_loss'.*records loss, seconds, lr"):
        net.fit(*data, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="Callback objects"):
        net.fit(*data, callbacks=[print])
    np.testing.assert_array_equal(net.params, before)
    assert net.history["loss"] == []


def test_a_callback_that_raises_leaves_the_network_consistent(data):
    class Broken(Callback):
        def on_epoch_end(self, epoch, logs, network):
            if epoch == 1:
                raise RuntimeError("broken callback")

    net = network()
    with pytest.raises(RuntimeError, match="broken callback"):
        net.fit(*data, callbacks=[Broken()])
    assert len(net.history["loss"]) == 2 == len(net.history["lr"])
    np.testing.assert_array_equal(net.params, weights_after(2, *data))
    net.fit(*data)  # and it trains on


@pytest.mark.parametrize("settings, message", [
    (dict(monitor=3), "monitor"), (dict(mode="up"), "mode"), (dict(min_delta=-1), "min_delta"),
    (dict(patience=1.5), "patience"),
])
def test_bad_callback_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**settings)


@pytest.mark.parametrize("settings, message", [
    (dict(factor=1.0), "factor"), (dict(min_lr=-1), "min_lr"), (dict(cooldown=-1), "cooldown"),
])
def test_bad_plateau_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        ReduceLROnPlateau(**settings)


def test_validation_split_is_drawn_from_the_seed_and_the_same_at_every_fit(data):
    X, y = data
    net = network(epochs=1).fit(X, y, validation_split=0.25)
    again = network(epochs=1).fit(X, y, validation_split=0.25)
    assert net.history["val_loss"] == again.history["val_loss"]
    train, held = split_validation(0.25, len(X), y, True, np.random.default_rng(1).spawn(1)[0])
    np.testing.assert_array_equal(net.history["val_loss"], network(epochs=1).fit(
        X[train], y[train], validation_data=(X[held], y[held])).history["val_loss"])


@pytest.mark.parametrize("stratified", [True, False])
def test_split_validation_holds_out_the_fraction(stratified):
    y = np.repeat([0, 1, 2], [60, 30, 10])
    train, held = split_validation(0.2, 100, y, stratified, np.random.default_rng(0))
    assert len(held) == 20 and np.union1d(train, held).tolist() == list(range(100))
    assert not np.intersect1d(train, held).size
    if stratified:
        assert np.bincount(y[held]).tolist() == [12, 6, 2]


@pytest.mark.parametrize("split, message", [
    (1.0, "between 0 and 1"), (-0.1, "between 0 and 1"), ("half", "between 0 and 1"),
])
def test_bad_validation_splits_are_refused(data, split, message):
    with pytest.raises(ValueError, match=message):
        network().fit(*data, validation_split=split)


def test_validation_split_and_validation_data_are_not_both_taken(data):
    X, y = data
    with pytest.raises(ValueError, match="not both"):
        network().fit(X, y, validation_data=(X, y), validation_split=0.2)
