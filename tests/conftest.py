"""Shared fixtures; helpers shared by several modules live in tests/helpers.py."""

import os

import numpy as np
import pytest
from hypothesis import settings

# The devices whose trainer the shared tests run on (fastnn.backends.DEVICES).
BACKENDS = ["cpu"]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The ``device`` a test trains on; tests that take it run once per backend."""
    return request.param


# CI replays the same examples on every run, so a red build is reproducible; developers'
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
