"""fastnn: small neural networks trained one record at a time, at compiled speed.

The training core is a set of Numba kernels over one flat parameter vector; ``Network`` is
the thin Python class around them.
"""

__version__ = "0.1.0"

from .io import ModelFileError, load  # noqa: E402
from .network import DivergenceError, DivergenceWarning, Network  # noqa: E402
from .parallel import train_many  # noqa: E402

__all__ = ["DivergenceError", "DivergenceWarning", "ModelFileError", "Network", "load",
           "train_many"]
