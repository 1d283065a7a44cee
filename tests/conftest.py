"""Shared fixtures."""

import os

import numpy as np
import pytest
from hypothesis import settings


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# CI replays the same examples on every run, so a red build is reproducible; developers'
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
