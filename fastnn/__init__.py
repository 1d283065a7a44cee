"""fastnn: small neural networks trained one record at a time, at compiled speed.

The training core is a set of Numba kernels over one flat parameter vector; ``Network`` is
the thin Python class around them, and ``MLPClassifier`` and ``MLPRegressor`` are
scikit-learn's estimators trained by them.
"""

from . import callbacks
from ._version import __version__
from .errors import (
    DeviceMemoryError,
    DeviceUnavailableError,
    DivergenceError,
    DivergenceWarning,
    ModelFileError,
)
from .estimators import MLPClassifier, MLPRegressor
from .network import Network, load
from .parallel import train_many

__all__ = ["DeviceMemoryError", "DeviceUnavailableError", "DivergenceError", "DivergenceWarning", "MLPClassifier", "MLPRegressor",
           "ModelFileError", "Network", "__version__", "callbacks", "load", "train_many"]
