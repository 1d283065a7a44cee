"""Training several independent networks at once, one per core.

Per-sample SGD is inherently serial within one network, but a grid of settings or seeds is
many independent networks. The compiled kernels release the GIL, so plain threads run them
side by side, each exactly as its own ``fit`` would: same weights, bit for bit.
"""

import concurrent.futures
import os
import threading

import numba

from ._interrupt import DeferredInterrupt, stop_on
from .backends import DEVICES, get_trainer
from .settings import is_integer
from .threads import one_blas_thread, one_core_per_fit


def train_many(networks, X, y, n_jobs=-1, device=None, **fit_params):
    """Fit every network in ``networks`` on ``(X, y)`` concurrently; returns them as a list.

    Each network keeps its own settings, random stream and history, and ends with the weights
    that ``network.fit(X, y, **fit_params)`` alone would give it (``callbacks`` excepted,
    which are refused: they keep one fit's state). Every network and argument
    is checked before any training starts, and a network listed twice is refused. ``n_jobs``
    threads run at once (-1: one per core), each with one BLAS thread, as every fit runs, and
    one Numba thread: a network's own ``n_jobs`` still cuts its batches into the same parts,
    trained one after another.

    ``device=None`` trains each network on its own ``device``. ``device="cuda"`` trains every
    network on the GPU, whatever its own setting: the per-sample networks (``batch_size=1``)
    that share a layout, dtype and loss, and train on the same rows, run together, one GPU
    block each, in one launch per chunk of samples (a grid of settings or seeds fills the GPU
    where one small network cannot); the others run their own GPU fits side by side. Each
    ends with the weights its own ``fit`` on the GPU would give it; ``n_jobs`` does not apply.

    ``train_many`` returns, or raises, only once every worker has stopped. A fit that raises
    (a ``DivergenceError``, say) leaves the others to finish; the first error is raised after
    them, with a note naming each network that failed. Ctrl-C stops every fit at its next
    check, as it would stop one ``fit``, and networks not yet started are left untouched.
    """
    networks = list(networks)
    _refuse_duplicates(networks)
    if fit_params.get("callbacks"):
        raise ValueError("train_many takes no callbacks: a callback keeps one fit's state (an "
                         "EarlyStopping's best weights, a CSVLogger's file), so the networks "
                         "would share it; fit a network on its own to use callbacks.")
    if device not in (None, *DEVICES):
        raise ValueError(f"unknown device {device!r}; choose from None (each network's own), "
                         f"{', '.join(map(repr, DEVICES))}.")
    workers = _workers(n_jobs)
    checked = {}  # X as each dtype needs it, converted once
    plans = []
    for network in networks:
        plan = network._checked_fit(checked.get(network.dtype, X), y, **fit_params)
        checked.setdefault(network.dtype, plan[0])
        if device is not None:
            plan[-1]["device"] = device
        plans.append(plan)
    trainers = [None] * len(networks)
    if device == "cuda":
        get_trainer("cuda")  # refuses here, before any training, if CUDA cannot run
        trainers = _gpu_groups(networks, plans)
        workers = len(networks)  # the members of a group wait for each other
    stop = threading.Event()
    # Ctrl-C is raised at the check, not inside whatever the main thread runs when the signal
    # comes: a finalizer that the wait's allocations started would swallow it (_interrupt).
    with (DeferredInterrupt() as interrupt, one_blas_thread(),
          concurrent.futures.ThreadPoolExecutor(workers) as pool):
        futures = [pool.submit(_fit_on_this_thread, network, plan, trainer, stop)
                   for network, plan, trainer in zip(networks, plans, trainers)]
        try:
            running = True
            while running:
                running = concurrent.futures.wait(futures, timeout=0.1).not_done
                interrupt.check()
        except KeyboardInterrupt as interrupted:
            for future, trainer in zip(futures, trainers):  # first, so that no waiting one starts
                if future.cancel() and trainer is not None:
                    trainer.leave()
            stop.set()
            concurrent.futures.wait(futures)
            started = sum(not future.cancelled() for future in futures)
            interrupted.add_note(f"fastnn: train_many interrupted; {started} of {len(futures)} "
                                 f"networks had started, each keeping the weights of its last "
                                 f"complete step; the others are untouched.")
            raise
    failures = [(index, future.exception()) for index, future in enumerate(futures)
                if future.exception() is not None]
    if failures:
        error = failures[0][1]
        error.add_note(f"fastnn: train_many: {len(failures)} of {len(networks)} fits failed "
                       f"(networks {', '.join(str(index) for index, _ in failures)}); every "
                       f"other network finished training.")
        raise error
    return networks


def _gpu_groups(networks, plans):
    """For each network, the trainer of its group of per-sample networks trained together on
    the GPU (``fastnn.cuda.many``), or None for a network that trains on its own."""
    from .cuda.many import Group, group_key

    keys = [(network.layout.tobytes(), network.dtype, network.loss, *group_key(plan))
            if plan[-1]["batch_size"] == 1 else None for network, plan in zip(networks, plans)]
    members = {}
    for index, key in enumerate(keys):
        if key is not None:
            members.setdefault(key, []).append(index)
    trainers = [None] * len(networks)
    for indices in members.values():
        group = Group(len(indices))
        for position, index in enumerate(indices):
            trainers[index] = group.member(position)
    return trainers


def _refuse_duplicates(networks):
    seen = {}
    for index, network in enumerate(networks):
        if id(network) in seen:
            raise ValueError(f"train_many got the same network twice (positions "
                             f"{seen[id(network)]} and {index}); a network trains one fit at a "
                             f"time, so pass copies (copy.deepcopy) to train several alike.")
        seen[id(network)] = index


def _workers(n_jobs):
    """``n_jobs`` as a number of threads: -1 is one per core."""
    if n_jobs == -1:
        return os.cpu_count() or 1
    if is_integer(n_jobs) and n_jobs >= 1:
        return int(n_jobs)
    raise ValueError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}.")


def _fit_on_this_thread(network, plan, trainer, stop):
    """``network._fit(*plan)``, by ``trainer`` (a ``Group``'s member, or None for the device's
    own), with Numba held to the calling thread (a thread-local setting) and ``stop`` standing
    in for Ctrl-C."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with stop_on(stop), one_core_per_fit(), network._exclusively("fit"):
            return network._fit(*plan, trainer_class=trainer)
    finally:
        numba.set_num_threads(threads)
        if trainer is not None:
            trainer.leave()  # however the fit ended, the group no longer waits for it
