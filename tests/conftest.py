"""Shared fixtures."""

import os

import numpy as np
import pytest
from hypothesis import settings


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def mostly_zero(X, seed=0, density=0.15):
    """``X`` with all but about ``density`` of its entries set to zero, as in images of digits:
    per-sample training then takes the first-layer path that skips zero inputs."""
    keep = np.random.default_rng(seed).random(X.shape) < density
    return np.where(keep, X, 0.0)


# CI replays the same examples on every run, so a red build is reproducible; developers'
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
