"""Ctrl-C during training, taken only between compiled calls.

A compiled call cannot be stopped half-way, but Python's default handler raises
``KeyboardInterrupt`` at whatever bytecode comes next, which may fall between a kernel's
return and the bookkeeping of what it did. ``DeferredInterrupt`` records the request instead
and raises it at a point the caller chooses, where the model and its accounts agree.
"""

import signal
import threading


class DeferredInterrupt:
    """Context manager: SIGINT sets ``requested``; ``check()`` raises KeyboardInterrupt then.

    Python delivers signals to the main thread only, so in other threads (``train_many``)
    this does nothing and Ctrl-C reaches the main thread as usual.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

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
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt
