"""Arrays that start on a cache line, for the kernels' vector loads and stores.

NumPy places large arrays at whatever address ``malloc`` returns, aligned to 16 bytes. When the
first weight matrix starts 16 bytes past a 32-byte boundary, every other 256-bit load and store
of the per-sample step straddles two cache lines, each such access costing two. Its rows (784
inputs of 4 or 8 bytes) are whole cache lines, so aligning the start of the flat vector aligns
every row.
"""

import numpy as np

ALIGNMENT = 64  # bytes: a cache line, and an AVX-512 vector


def aligned_empty(shape, dtype):
    """``np.empty(shape, dtype)`` whose data starts on an ``ALIGNMENT``-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64))
    buffer = np.empty(size * dtype.itemsize + ALIGNMENT, np.uint8)
    start = -buffer.ctypes.data % ALIGNMENT
    return buffer[start : start + size * dtype.itemsize].view(dtype).reshape(shape)


def aligned_zeros(shape, dtype):
    """``np.zeros(shape, dtype)``, aligned as ``aligned_empty``."""
    array = aligned_empty(shape, dtype)
    array[...] = 0
    return array


def is_aligned(array):
    """True when ``array``'s data starts on an ``ALIGNMENT``-byte boundary (or it has none)."""
    return array.size == 0 or array.ctypes.data % ALIGNMENT == 0


def aligned(array):
    """``array`` itself when it is C-contiguous and aligned, else an aligned copy of it."""
    if array.flags.c_contiguous and is_aligned(array):
        return array
    copy = aligned_empty(array.shape, array.dtype)
    copy[...] = array
    return copy
