"""fastnn: small neural networks trained one record at a time, at compiled speed.

The training core is a set of Numba kernels over one flat parameter vector; ``Network`` is
the thin Python class around them.
"""

from .network import DivergenceError, DivergenceWarning, Network
from .parallel import train_many

__all__ = ["DivergenceError", "DivergenceWarning", "Network", "train_many"]
__version__ = "0.1.0"
