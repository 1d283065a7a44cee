"""Ctrl-C during training, taken only between compiled calls.

A compiled call cannot be stopped half-way, but Python's default handler raises
``KeyboardInterrupt`` at whatever bytecode comes next, which may fall between a kernel's
return and the bookkeeping of what it did, or inside a finalizer that garbage collection
happened to start, where the exception is swallowed and the Ctrl-C lost. ``DeferredInterrupt``
records the request instead and raises it at a point the caller chooses, where the model and
its accounts agree.

Python delivers signals to the main thread only. A fit in another thread (a ``train_many``
worker) instead watches a stop event that the thread running ``train_many`` sets when it is
interrupted (see ``stop_on``).
"""

import contextlib
import signal
import threading

_worker = threading.local()  # .stop: the stop event bound to this thread, if any


@contextlib.contextmanager
def stop_on(event):
    """Within this context, fits in the calling thread stop at their next check once
    ``event`` is set, as if Ctrl-C had been pressed."""
    _worker.stop = event
    try:
        yield
    finally:
        _worker.stop = None


class DeferredInterrupt:
    """Context manager: SIGINT (or the thread's stop event) makes ``check()`` raise
    ``KeyboardInterrupt``; nothing is raised anywhere else."""

    def __init__(self):
        self.requested = False
        self._previous = None
        self._stop = getattr(_worker, "stop", None)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc_info):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False

    def _request(self, signum, frame):
        self.requested = True

    def check(self):
        """Raise the KeyboardInterrupt that arrived since entering, if any."""
        if self.requested or (self._stop is not None and self._stop.is_set()):
            self.requested = False
            raise KeyboardInterrupt
