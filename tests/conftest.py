"""Shared fixtures; helpers shared by several modules live in tests/helpers.py."""

import os
import sys

import numpy as np
import pytest
from hypothesis import settings

from fastnn import config
from fastnn.backends import DEVICES, cuda_status

# The devices whose trainer the shared tests run on: every one of fastnn.backends.DEVICES.
BACKENDS = list(DEVICES)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The ``device`` a test trains on; tests that take it run once per backend."""
    if request.param == "cuda":
        request.getfixturevalue("cuda_device")
    return request.param


@pytest.fixture
def cuda_device(monkeypatch):
    """The CUDA backend, on a GPU or under Numba's simulator (``NUMBA_ENABLE_CUDASIM=1``, which
    ``make test`` sets), sized down: blocks of 4 threads and tiles of 4 leave units, tiles and
    row blocks ragged on tiny networks. The simulator runs a block's threads as Python threads,
    which meet at each barrier sooner with a short switch interval."""
    problem = cuda_status()
    if problem is not None:
        pytest.skip(f"the CUDA backend cannot run here ({problem}); make test runs it under "
                    f"Numba's simulator")
    monkeypatch.setattr(config, "CUDA_THREADS_PER_BLOCK", 4)
    monkeypatch.setattr(config, "CUDA_TILE", 4)
    monkeypatch.setattr(config, "CUDA_BLOCK_ROWS", 20)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


# CI replays the same examples on every run, so a red build is reproducible; developers'
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
