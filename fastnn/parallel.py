"""Training several independent networks at once, one per core.

Per-sample SGD is inherently serial within one network, but a grid of settings or seeds is
many independent networks. The compiled kernels release the GIL, so plain threads run them
side by side, each exactly as its own ``fit`` would: same weights, bit for bit.
"""

import concurrent.futures
import os
import threading

import numba

from ._interrupt import stop_on
from .settings import is_integer
from .threads import one_blas_thread


def train_many(networks, X, y, n_jobs=-1, **fit_params):
    """Fit every network in ``networks`` on ``(X, y)`` concurrently; returns them as a list.

    Each network keeps its own settings, random stream and history, and ends with the weights
    that ``network.fit(X, y, **fit_params)`` alone would give it (``callbacks`` excepted,
    which are refused: they keep one fit's state). Every network and argument
    is checked before any training starts, and a network listed twice is refused. ``n_jobs``
    threads run at once (-1: one per core), each with one BLAS thread, as every fit runs, and
    one Numba thread: a network's own ``n_jobs`` still cuts its batches into the same parts,
    trained one after another.

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
    workers = _workers(n_jobs)
    checked = {}  # X as each dtype needs it, converted once
    plans = []
    for network in networks:
        plan = network._checked_fit(checked.get(network.dtype, X), y, **fit_params)
        checked.setdefault(network.dtype, plan[0])
        plans.append(plan)
    stop = threading.Event()
    with one_blas_thread(), concurrent.futures.ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_fit_on_this_thread, network, plan, stop)
                   for network, plan in zip(networks, plans)]
        try:
            while concurrent.futures.wait(futures, timeout=0.1).not_done:
                pass  # waking up now and then lets a pending Ctrl-C be raised here
        except KeyboardInterrupt as interrupted:
            for future in futures:  # first, so that no waiting network starts
                future.cancel()
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


def _fit_on_this_thread(network, plan, stop):
    """``network._fit(*plan)`` with Numba held to the calling thread (a thread-local setting)
    and ``stop`` standing in for Ctrl-C."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with stop_on(stop), network._exclusively("fit"):
            return network._fit(*plan)
    finally:
        numba.set_num_threads(threads)
