"""What every trainer offers the network, whatever its device (``fastnn.backends``)."""

from typing import NamedTuple, Protocol

import numpy as np

from .kernels.optimizers import rates_for


class Chunk(NamedTuple):
    """What one compiled training call did: ``samples`` trained (up to a divergence, if any),
    their summed ``loss``, the ``seconds`` it took, and ``diverged_at``: None, or the position
    in the epoch's order of the sample (or the first sample of the batch) whose loss or
    pre-activations were not finite, whose step was not taken."""

    samples: int
    loss: float
    seconds: float
    diverged_at: int | None


class Trainer(Protocol):
    """One ``fit`` call's training on one device, built from plain values.

    A trainer is made from the flat parameter vector, the layout table, the checked inputs
    ``X``, their encoded targets, each sample's weight factor, the optimizer's settings and
    state (an ``optimizers.OptimizerState``) and the other training settings, never from the
    ``Network``. It is a context manager: entering takes what the device needs (thread limits,
    device memory), leaving gives it back with ``params`` holding the trained weights and the
    state its velocity or moments and counts.
    """

    batch_size: int  # the batch size in effect: the number of samples for a full batch

    def __enter__(self) -> "Trainer": ...

    def __exit__(self, *exc_info) -> bool: ...

    def epoch(self, order: np.ndarray, lr: float):
        """Train one epoch over ``X[order]`` at the learning rate ``lr``, yielding a ``Chunk``
        after each compiled call and keeping the optimizer state's counts up to date; the
        epoch ends early at the first chunk that diverged."""

    def snapshot(self) -> object:
        """The current weights and optimizer state, to ``restore`` later."""

    def restore(self, snapshot: object) -> None:
        """Put the weights and optimizer state of a ``snapshot`` back."""

    def all_finite(self) -> bool:
        """Whether every weight and bias is finite."""

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Output-layer activations for the checked inputs ``X`` with the current weights."""

    def loss_and_outputs(self, X: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean loss over ``X`` and its encoded ``targets``, and the outputs for ``X``."""

    @classmethod
    def predict(cls, params: np.ndarray, layout: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Output-layer activations for ``X``, outside any fit."""


class HostTrainer:
    """What every trainer keeps of its arguments (see ``backends.cpu.CPUTrainer``), and
    ``snapshot``, ``restore`` and ``all_finite`` over its host arrays ``params`` and ``state``,
    which hold the weights and optimizer state between epochs."""

    def __init__(self, params, layout, X, targets, loss_code, factors, optimizer, state,
                 batch_size):
        self.params, self.layout, self.X, self.targets = params, layout, X, targets
        self.loss_code, self.factors, self.state = loss_code, factors, state
        self.batch_size = len(X) if batch_size is None else min(batch_size, len(X))
        self.code = optimizer["code"]
        self.rates = rates_for(optimizer, params.dtype)

    def snapshot(self):
        return self.params.copy(), self.state.copy()

    def restore(self, snapshot):
        params, state = snapshot
        self.params[...] = params
        self.state.restore(state)

    def all_finite(self):
        return bool(np.isfinite(self.params).all())
