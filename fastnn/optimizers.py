"""The optimizer and learning-rate settings, and the state an optimizer keeps between steps.

The steps themselves are kernels (``fastnn.kernels.optimizers``); this module checks the
settings that choose one, holds its state (``OptimizerState``) across epochs, fits, copies and
files, and computes each epoch's learning rate from the schedule.
"""

import dataclasses

import numpy as np

from . import memory
from .kernels.optimizers import optimizer_code, uses_slots

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "invscaling")


@dataclasses.dataclass
class OptimizerState:
    """What an optimizer carries from one step to the next.

    ``optimizer`` is the name it belongs to, ``steps`` the number of steps taken (Adam's ``t``),
    ``samples`` the number of samples trained on (the ``t`` of the invscaling schedule), and
    ``m`` and ``v`` the flat state arrays of ``kernels.optimizers`` (empty when unused).
    """

    optimizer: str
    steps: int
    samples: int
    m: np.ndarray
    v: np.ndarray

    @classmethod
    def fresh(cls, optimizer, dtype):
        """The state of an ``optimizer`` that has taken no step yet."""
        empty = np.empty(0, dtype)
        return cls(optimizer, 0, 0, empty, empty.copy())

    def copy(self):
        return dataclasses.replace(self, m=self.m.copy(), v=self.v.copy())

    def restore(self, saved):
        """Put the counts and state of ``saved`` (a copy of this state) back in place."""
        self.steps, self.samples = saved.steps, saved.samples
        self.m[...], self.v[...] = saved.m, saved.v

    def as_dict(self):
        """The state as plain values: ``{"optimizer", "steps", "samples", "arrays"}``, the
        arrays in use by name (not copies)."""
        arrays = {name: array for name, array in (("m", self.m), ("v", self.v)) if array.size}
        return {"optimizer": self.optimizer, "steps": self.steps, "samples": self.samples,
                "arrays": arrays}

    @classmethod
    def from_dict(cls, state, n_params, dtype):
        """The state ``as_dict`` gave, checked against a network of ``n_params`` parameters of
        ``dtype``; the arrays are taken as they are, or copied where they do not start on a
        cache line (see ``fastnn.memory``)."""
        optimizer, steps, samples = state["optimizer"], state["steps"], state["samples"]
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"the optimizer state is for {optimizer!r}, not one of "
                             f"{OPTIMIZERS}.")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                   for n in (steps, samples)):
            raise ValueError(f"the optimizer's step and sample counts must be non-negative "
                             f"integers, got {steps!r} and {samples!r}.")
        arrays = state["arrays"]
        if not set(arrays) <= {"m", "v"}:
            raise ValueError(f"unknown optimizer state arrays {sorted(set(arrays) - {'m', 'v'})}.")
        for name, array in arrays.items():
            if array.shape != (n_params,) or array.dtype != dtype:
                raise ValueError(f"optimizer state {name} is {array.dtype}{list(array.shape)}; "
                                 f"this network needs {np.dtype(dtype).name}[{n_params}].")
        empty = np.empty(0, dtype)
        m, v = (memory.aligned(arrays[name]) if name in arrays else empty for name in "mv")
        return cls(optimizer, steps, samples, m, v)


def state_for(state, optimizer, momentum, nesterov, n_params, dtype):
    """``state`` made ready for a fit with these settings: the same state, continued, if it
    belongs to ``optimizer``, else a fresh one; with zeroed state arrays for any the optimizer
    now needs and has not had (as ``torch.optim`` creates momentum buffers at the first step
    that uses them)."""
    if state is None or state.optimizer != optimizer:
        state = OptimizerState.fresh(optimizer, dtype)
    n_slots = uses_slots(optimizer_code(optimizer, momentum, nesterov))
    if n_slots >= 1 and state.m.size == 0:
        state.m = memory.aligned_zeros(n_params, dtype)
    if n_slots >= 2 and state.v.size == 0:
        state.v = memory.aligned_zeros(n_params, dtype)
    return state


def kernel_settings(optimizer, momentum, nesterov, beta_1, beta_2, epsilon):
    """The trainer's ``optimizer`` argument: the kernels' code and the step constants."""
    return {"code": optimizer_code(optimizer, momentum, nesterov), "momentum": momentum,
            "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon}


def scheduled_rate(lr, lr_schedule, power_t, samples_seen):
    """The learning rate of an epoch that starts after ``samples_seen`` samples: ``lr`` for the
    constant schedule, scikit-learn's ``lr / (samples_seen + 1) ** power_t`` for invscaling.
    (A callable schedule is a ``callbacks.LearningRateScheduler``, applied before this.)"""
    if lr_schedule == "invscaling":
        return lr / (samples_seen + 1) ** power_t
    return lr
