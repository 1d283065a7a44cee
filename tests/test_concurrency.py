"""One fit at a time: a network refuses a second concurrent fit, ``train_many`` checks every
network before any starts and stops only when every worker has, and overlapping fits leave
BLAS's thread count as they found it."""

import concurrent.futures
import copy
import os
import signal
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_info

import fastnn
from fastnn import DivergenceError, Network

from .helpers import press_ctrl_c_in_a_finalizer


@pytest.fixture(scope="module")
def data():
    return make_blobs(3000, centers=4, n_features=40, random_state=0)


def busy(net):
    """Whether some thread is fitting or saving ``net`` right now."""
    if net._busy.acquire(blocking=False):
        net._busy.release()
        return False
    return True


def fitting_in_another_thread(net, X, y):
    """A started thread that fits ``net``, returned once the fit holds the network."""
    thread = threading.Thread(target=net.fit, args=(X, y))
    thread.start()
    while not busy(net):
        time.sleep(0.001)
    return thread


def test_a_second_fit_from_another_thread_is_refused_and_the_first_is_untouched(data, tmp_path):
    X, y = data
    net = Network([40, 64, 4], epochs=40, seed=0)
    first = fitting_in_another_thread(net, X, y)
    with pytest.raises(RuntimeError, match="another thread is fitting or saving it"):
        net.fit(X, y)
    with pytest.raises(RuntimeError, match="cannot save this network"):
        net.save(tmp_path / "model.npz")
    with pytest.raises(RuntimeError, match="cannot copy this network"):
        copy.deepcopy(net)
    first.join()
    alone = Network([40, 64, 4], epochs=40, seed=0).fit(X, y)
    np.testing.assert_array_equal(net.params, alone.params)
    assert len(net.history["loss"]) == 40 and not (tmp_path / "model.npz").exists()


def test_train_many_refuses_a_network_listed_twice(data):
    X, y = data
    net = Network([40, 8, 4], epochs=1, seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"same network twice \(positions 0 and 2\)"):
        fastnn.train_many([net, Network([40, 8, 4]), net], X, y)
    np.testing.assert_array_equal(net.params, before)


def test_train_many_checks_every_network_before_any_trains(data):
    X, y = data
    good = [Network([40, 8, 4], epochs=1, seed=seed) for seed in range(3)]
    before = [net.params.copy() for net in good]
    with pytest.raises(ValueError, match="X has 40 features, but the network's input layer"):
        fastnn.train_many(good + [Network([30, 8, 4])], X, y)
    with pytest.raises(ValueError, match="target must be"):
        fastnn.train_many(good, X, y, target="0.9")
    with pytest.raises(ValueError, match="train_many takes no callbacks"):
        fastnn.train_many(good, X, y, callbacks=[fastnn.callbacks.EarlyStopping("loss")])
    for net, params in zip(good, before):
        np.testing.assert_array_equal(net.params, params)
        assert net.history["loss"] == []


def test_train_many_raises_only_after_every_worker_has_stopped(data):
    X, y = data
    diverging = Network([40, 16, 4], activation="relu", lr=1e4, epochs=1, seed=0, init="normal")
    others = [Network([40, 16, 4], epochs=8, seed=seed) for seed in range(3)]
    with pytest.raises(DivergenceError) as raised:
        fastnn.train_many([diverging] + others, X * 100, y, n_jobs=2)
    assert "1 of 4 fits failed (networks 0)" in " ".join(raised.value.__notes__)
    for net in others:  # each finished exactly as its own fit would
        assert not busy(net) and len(net.history["loss"]) == 8
    alone = Network([40, 16, 4], epochs=8, seed=2).fit(X * 100, y)
    np.testing.assert_array_equal(others[2].params, alone.params)


def training_started(networks):
    """Whether one of ``networks`` has finished an epoch."""
    return any(net.history["loss"] for net in networks)


def ctrl_c_once_training(networks, done):
    """A started thread that sends this process SIGINT, as Ctrl-C does, once one of
    ``networks`` has finished an epoch (so during training, whatever compiling or setting up
    took), unless ``done`` is set first."""
    def press():
        while not training_started(networks):
            if done.wait(0.005):
                return
        os.kill(os.getpid(), signal.SIGINT)
    thread = threading.Thread(target=press)
    thread.start()
    return thread


def test_ctrl_c_stops_every_worker_before_train_many_returns(data):
    X, y = data
    networks = [Network([40, 64, 4], epochs=2_000, seed=seed) for seed in range(4)]
    done = threading.Event()
    presser = ctrl_c_once_training(networks, done)
    try:
        with pytest.raises(KeyboardInterrupt) as raised:
            fastnn.train_many(networks, X, y, n_jobs=2)
    finally:
        done.set()
        presser.join()
    assert "train_many interrupted; 2 of 4 networks had started" in " ".join(
        raised.value.__notes__)
    assert not any(busy(net) for net in networks)
    started = [net for net in networks if not np.array_equal(
        net.params, Network([40, 64, 4], seed=networks.index(net)).params)]
    assert len(started) == 2
    assert all(len(net.history["loss"]) < 2_000 for net in networks)


def test_a_ctrl_c_handled_inside_a_finalizer_still_stops_train_many(data, monkeypatch):
    """train_many's thread waits in ``concurrent.futures.wait``, whose allocations can start a
    garbage collection, and Python can run the SIGINT handler inside a finalizer it calls."""
    X, y = data
    networks = [Network([40, 64, 4], epochs=2_000, seed=seed) for seed in range(2)]
    wait, pressed = concurrent.futures.wait, threading.Event()

    def wait_collecting_garbage_that_presses_ctrl_c(futures, timeout=None):
        if not pressed.is_set() and training_started(networks):
            pressed.set()
            press_ctrl_c_in_a_finalizer()
        return wait(futures, timeout=timeout)

    monkeypatch.setattr(concurrent.futures, "wait", wait_collecting_garbage_that_presses_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        fastnn.train_many(networks, X, y, n_jobs=2)
    assert pressed.is_set()
    assert all(len(net.history["loss"]) < 2_000 for net in networks)


def _blas_threads():
    return sorted({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})


def test_overlapping_fits_leave_blas_with_the_threads_it_had(data):
    """The first fit to start finishes first: it must not restore BLAS's count while the
    other still runs, nor may the other restore the first one's limit."""
    X, y = data
    before = _blas_threads()
    if before == [1]:
        pytest.skip("BLAS runs one thread already: there is no count to restore")
    short = Network([40, 8, 4], epochs=30, seed=0)
    long = Network([40, 8, 4], epochs=150, seed=1)
    first = fitting_in_another_thread(short, X, y)
    second = threading.Thread(target=long.fit, args=(X, y))
    second.start()
    first.join()
    assert busy(long), "the fits did not overlap; make the second one longer"
    assert _blas_threads() == [1]  # the long fit still runs on one thread
    second.join()
    assert _blas_threads() == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=st.lists(st.lists(st.sampled_from(["fit", "save", "predict"]), min_size=1,
                               max_size=4), min_size=2, max_size=3),
       delays=st.lists(st.floats(0, 0.02), min_size=3, max_size=3))
def test_interleaved_fits_and_saves_from_threads_are_each_whole_or_refused(plans, delays,
                                                                          tmp_path_factory):
    """Threads fit, save and predict one network in any interleaving: every call either runs
    whole or is refused with the one-fit-at-a-time error, and the network ends exactly as the
    fits that ran, one after another, leave it."""
    X, y = make_blobs(400, centers=3, n_features=6, random_state=0)
    net = Network([6, 8, 3], epochs=2, seed=0)
    folder = tmp_path_factory.mktemp("interleaved")
    fits = []  # one entry per fit that ran

    def act(thread, actions, delay):
        time.sleep(delay)
        for step, action in enumerate(actions):
            try:
                if action == "fit":
                    net.fit(X, y)
                    fits.append(thread)
                elif action == "save":
                    net.save(folder / f"{thread}-{step}.npz")
                else:
                    net.predict(X[:5])
            except RuntimeError as refused:
                assert "another thread is fitting or saving it" in str(refused)

    threads = [threading.Thread(target=act, args=(index, actions, delays[index]))
               for index, actions in enumerate(plans)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    replay = Network([6, 8, 3], epochs=2 * len(fits), seed=0).fit(X, y)
    assert len(net.history["loss"]) == 2 * len(fits)
    np.testing.assert_array_equal(net.params, replay.params)
    for path in folder.iterdir():
        assert len(fastnn.load(path).history["loss"]) % 2 == 0  # saved between whole fits

