"""Training several independent networks at once, one per core.

Per-sample SGD is inherently serial within one network, but a grid of settings or seeds is
many independent networks. The compiled kernels release the GIL, so plain threads (through
joblib) run them side by side, each exactly as its own ``fit`` would: same weights, bit for bit.
"""

import numba
from joblib import Parallel, delayed

from .threads import one_blas_thread


def train_many(networks, X, y, n_jobs=-1, **fit_params):
    """Fit every network in ``networks`` on ``(X, y)`` concurrently; returns them as a list.

    Each network keeps its own settings, random stream and history, and ends with the weights
    that ``network.fit(X, y, **fit_params)`` alone would give it. ``n_jobs`` threads run at
    once (-1: one per core), each with one BLAS thread, as every fit runs, and one Numba
    thread: a network's own ``n_jobs`` still cuts its batches into the same parts, trained
    one after another.
    """
    networks = list(networks)
    with one_blas_thread():
        Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_fit_on_this_thread)(network, X, y, fit_params) for network in networks
        )
    return networks


def _fit_on_this_thread(network, X, y, fit_params):
    """``network.fit`` with Numba held to the calling thread (a thread-local setting)."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return network.fit(X, y, **fit_params)
    finally:
        numba.set_num_threads(threads)
