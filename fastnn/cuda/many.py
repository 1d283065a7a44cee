"""Many networks trained per sample on the GPU at once: one launch per chunk, one block each.

``train_many(..., device="cuda")`` (``fastnn.parallel``) runs each network's own ``fit`` in a
thread of its own, as on the CPU, but gives the networks that share a layout, a training set
and a loss one ``Group``: each network's trainer (a ``Member``) hands its next chunk of samples
to the group and waits, and the thread that hands in the last one launches the per-sample
kernel for all of them (``trainer.DeviceNetworks``), so one GPU block trains each network.
Everything else of a fit (its order, rate, history, validation, divergence, Ctrl-C) stays the
network's own, so each ends with the weights its own ``fit`` on the GPU would give it.
"""

import threading

import numpy as np
from numba import cuda

from ..kernels.optimizers import LR
from .trainer import CUDATrainer, DeviceNetworks, check_free_memory, launches


def group_key(plan):
    """What networks must share to train in one launch: the checked training arrays of their
    ``Network._checked_fit`` plan (``X`` itself, ``y`` and the sample factors by value)."""
    X, y, factors = plan[0], plan[1], plan[2]
    return id(X), y.tobytes(), factors.tobytes()


class Group:
    """The per-sample networks of one layout, training set and loss, trained together.

    ``size`` members are expected; each enters with its trainer's arrays, and a member that
    leaves (its fit ended, failed or was interrupted) no longer holds the others back.
    """

    def __init__(self, size):
        self.size = size
        self.members = {}  # index -> Member, once entered
        self.left = set()
        self.pending = {}  # index -> (rows, lr) of the next launch
        self.results = {}
        self.launches = 0
        self.error = None
        self.device = None  # the members' stacked arrays, from the first launch
        self.condition = threading.Condition()

    def member(self, index):
        """Member ``index``'s trainer class, as ``Network._fit`` takes it: called with
        ``CUDATrainer``'s arguments, it builds the member's trainer; ``leave()`` on it ends the
        member's part however its fit ended."""
        return _MemberClass(self, index)

    def enter(self, member):
        with self.condition:
            self.members[member.index] = member

    def leave(self, index):
        """Member ``index`` trains no more (idempotent); the others may launch without it."""
        with self.condition:
            if index in self.left:
                return
            self.left.add(index)
            self.pending.pop(index, None)
            self._launch_if_ready()
            self.condition.notify_all()

    def train(self, index, rows, lr):
        """Member ``index``'s next chunk ``rows`` at rate ``lr``, in the group's next launch:
        its ``(loss, stop position or -1, steps)``."""
        with self.condition:
            self.pending[index] = (rows, lr)
            launch = self.launches
            self._launch_if_ready()
            while self.launches == launch and self.error is None:
                self.condition.wait()
            if self.error is not None:
                raise RuntimeError("the group's launch on the GPU failed") from self.error
            return self.results.pop(index)

    def _launch_if_ready(self):
        """Launch, in the calling thread, once every member still training has handed in its
        chunk (the caller holds the condition)."""
        waiting = set(range(self.size)) - self.left
        if not self.pending or set(self.pending) != waiting or not waiting <= set(self.members):
            return
        try:
            self._launch()
        except BaseException as error:  # every waiting member must hear of it
            self.error = error
            raise
        finally:
            self.pending.clear()
            self.launches += 1
            self.condition.notify_all()

    def _launch(self):
        with launches:
            self._launch_now()

    def _launch_now(self):
        if self.device is None:
            self._place_on_device()
        indices = sorted(self.members)
        members = [self.members[i] for i in indices]
        counts = [len(self.pending[i][0]) if i in self.pending else 0 for i in indices]
        orders = np.zeros((len(indices), max(counts)), np.int64)
        for row, index in enumerate(indices):
            if index in self.pending:
                orders[row, :counts[row]] = self.pending[index][0]
                members[row].rates[LR] = self.pending[index][1]
        self.device.d_rates.copy_to_device(np.stack([member.rates for member in members]))
        results = self.device.train(cuda.to_device(orders), 0, counts,
                                    [member.state.steps for member in members])
        for row, index in enumerate(indices):
            if index in self.pending:
                self.results[index] = results[row]

    def _place_on_device(self):
        """Every entered member's arrays, stacked on the device in member order; each member
        then trains its row."""
        members = [self.members[i] for i in sorted(self.members)]
        first = members[0]
        width_m, width_v = (max(getattr(member.state, name).size for member in members)
                            for name in ("m", "v"))
        check_free_memory(DeviceNetworks.bytes_needed(
            first.layout, len(first.X), first.X.shape[1], first.targets.shape[1], len(members),
            first.params.dtype, (width_m > 0) + (width_v > 0)),
            f"training {len(members)} networks side by side on the GPU")

        def stacked(name, width):
            return np.stack([getattr(member.state, name) if getattr(member.state, name).size
                             else np.zeros(width, first.params.dtype) for member in members])

        self.device = DeviceNetworks(first.layout, first.X, first.targets, first.factors,
                                     np.stack([member.params for member in members]),
                                     stacked("m", width_m), stacked("v", width_v),
                                     [member.code for member in members],
                                     np.stack([member.rates for member in members]),
                                     np.stack([member.penalties for member in members]),
                                     first.loss_code)
        for row, member in enumerate(members):
            member.device, member.row = self.device, row


class Member(CUDATrainer):
    """One network's trainer within a ``Group``: ``CUDATrainer``'s arguments and interface,
    its chunks trained in the group's launches, on its row of the group's device arrays."""

    def __init__(self, group, index, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.group, self.index = group, index

    def __enter__(self):
        self._synced = self.params.copy()
        self.group.enter(self)
        return self

    def __exit__(self, *exc_info):
        if self.device is not None and self._device_ahead:
            self._pull()
        self.group.leave(self.index)
        return False

    def _push(self):
        if self.device is not None:  # else the host's arrays are placed at the first launch
            super()._push()

    def _begin_epoch(self, order, lr):
        pass  # the group sends every member's order and rate with each launch

    def _train_chunk(self, order, start, count, lr):
        return self.group.train(self.index, order[start:start + count], lr)


class _MemberClass:
    """``Group.member``: a trainer class bound to one member of a group."""

    def __init__(self, group, index):
        self.group, self.index = group, index

    def __call__(self, *args, **kwargs):
        return Member(self.group, self.index, *args, **kwargs)

    def leave(self):
        self.group.leave(self.index)
