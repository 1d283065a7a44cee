"""What every trainer offers the network, whatever its device (``fastnn.backends``)."""

from typing import NamedTuple, Protocol

import numpy as np


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


class HostSnapshots:
    """``snapshot``, ``restore`` and ``all_finite`` for a trainer whose host arrays ``params``
    and ``state`` hold the weights and optimizer state between epochs."""

    def snapshot(self):
        return self.params.copy(), self.state.copy()

    def restore(self, snapshot):
        params, state = snapshot
        self.params[...] = params
        self.state.restore(state)

    def all_finite(self):
        return bool(np.isfinite(self.params).all())
