"""One trainer per device behind one interface (``fastnn.protocol.Trainer``), picked by name.

``device="cpu"`` trains with the Numba kernels of ``fastnn.kernels``; ``device="cuda"`` with
the ``numba.cuda`` twins of ``fastnn.cuda``, which are imported only when that device is asked
for, so that the default never loads CUDA.
"""

import importlib.util

from ..errors import DeviceUnavailableError
from .cpu import CPUTrainer

DEVICES = ("cpu", "cuda")

CUDA_INSTALL = (
    "pip install 'fastnn-numba[cuda]' installs numba-cuda, which runs on an NVIDIA GPU whose "
    "driver and CUDA toolkit are present; 'numba-cuda[cu12]' or 'numba-cuda[cu13]' brings the "
    "toolkit for a CUDA 12 or 13 driver. Without a GPU, NUMBA_ENABLE_CUDASIM=1 (set before "
    "numba is imported) runs the CUDA backend in Numba's simulator, slowly, for testing.")


def cuda_status():
    """None if the CUDA backend can run here (a GPU, or Numba's simulator), else why not."""
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed"
    from numba import cuda

    if not cuda.is_available():
        return "no CUDA GPU or driver was found, and NUMBA_ENABLE_CUDASIM is not set"
    return None


def get_trainer(device):
    """The trainer class for ``device``, one of ``DEVICES``; ``DeviceUnavailableError`` if it
    cannot run here."""
    if device == "cpu":
        return CPUTrainer
    if device == "cuda":
        problem = cuda_status()
        if problem is not None:
            raise DeviceUnavailableError(f"device='cuda' cannot run: {problem}. {CUDA_INSTALL}")
        from ..cuda.trainer import CUDATrainer

        return CUDATrainer
    raise ValueError(f"unknown device {device!r}; choose from {', '.join(map(repr, DEVICES))}.")
