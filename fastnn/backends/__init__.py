"""One trainer per device behind one interface (``protocol.Trainer``), picked by name.

``device="cpu"`` trains with the Numba kernels of ``fastnn.kernels``; the trainer of any other
device is imported only when that device is asked for.
"""

from .cpu import CPUTrainer

DEVICES = ("cpu",)


def get_trainer(device):
    """The trainer class for ``device``, one of ``DEVICES``."""
    if device == "cpu":
        return CPUTrainer
    raise ValueError(f"unknown device {device!r}; choose from {', '.join(map(repr, DEVICES))}.")
