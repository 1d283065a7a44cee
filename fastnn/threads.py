"""The BLAS thread count that training runs with, shared by fits that overlap in time, and
whether a fit may take a second core of its own."""

import contextlib
import functools
import threading

import threadpoolctl

_lock = threading.Lock()
_holders = 0  # fits (in any thread) inside one_blas_thread now
_limiter = None  # threadpoolctl's limiter, which remembers the counts to restore
_this_thread = threading.local()


@functools.cache
def _blas_libraries():
    return threadpoolctl.ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread():
    """Context holding BLAS to one thread, as every training step runs.

    A step's matrix products are small (a mini-batch): a second BLAS thread costs about as much
    to synchronise as it saves, and far more when the other cores are busy, so
    ``fastnn.train_many`` uses the cores for whole networks instead. Prediction outside ``fit``,
    over blocks of ``config.BLOCK_ROWS`` rows, keeps BLAS's own thread count.

    BLAS's thread count belongs to the process, so fits that overlap (in threads) share one
    limit: the first to enter sets it, the last to leave restores the count from before.
    """
    global _holders, _limiter
    with _lock:
        if _holders == 0:
            with _controlling_blas():
                _limiter = _blas_libraries().limit(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                with _controlling_blas():
                    _limiter.restore_original_limits()
                _limiter = None


@contextlib.contextmanager
def _controlling_blas():
    """Let this thread change OpenBLAS's thread count, and give that right up after.

    threadpoolctl (3.6 and newer) lets one thread at a time change the count of an OpenBLAS
    built on pthreads, whose pool the whole process shares: the first thread to try keeps the
    right until it gives it up, and any other thread's change does nothing. Here the thread
    that sets the shared limit may not be the one that restores it.
    """
    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None),
                    "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
    try:
        yield
    finally:
        if clear is not None:
            clear(force=True)


@contextlib.contextmanager
def one_core_per_fit():
    """Context in which this thread's fits keep to one core: ``fastnn.train_many`` runs whole
    networks side by side, so a fit's own second thread (per-sample ``n_jobs``) would only
    take a core from another network."""
    _this_thread.one_core = True
    try:
        yield
    finally:
        _this_thread.one_core = False


def fits_keep_to_one_core():
    """Whether this thread is inside ``one_core_per_fit``."""
    return getattr(_this_thread, "one_core", False)
