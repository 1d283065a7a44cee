"""The layout table's columns, and views of one layer inside fastnn's flat arrays.

``fastnn.layout`` builds the table, one int64 row per layer; the kernels read it only through
these functions. Numba treats module-level integers as compile-time constants, so reading a
column costs nothing.
"""

from ..config import kernel

W_START = 0  # offset of the layer's weight matrix, shape (n_out, n_in), in the flat vector
B_START = 1  # offset of the layer's bias vector, shape (n_out,)
N_IN = 2
N_OUT = 3
ACTIVATION = 4  # the layer's activation code (see activations.py)
UNIT_START = 5  # offset of the layer's units in the flat activation and delta buffers
N_COLUMNS = 6


@kernel
def layer_params(params, row):
    """Views ``(W, b)`` of one layer inside a flat parameter (or gradient) vector."""
    w_start, b_start = row[W_START], row[B_START]
    weights = params[w_start:b_start].reshape((row[N_OUT], row[N_IN]))
    return weights, params[b_start : b_start + row[N_OUT]]


@kernel
def layer_units(buffer, row):
    """View of one layer's units in a one-sample buffer (activations or deltas)."""
    return buffer[row[UNIT_START] : row[UNIT_START] + row[N_OUT]]


@kernel
def layer_block(buffer, row, n_rows):
    """View ``(n_rows, n_out)`` of one layer's units in a batch buffer.

    A batch buffer stores each layer's block for ``n_rows`` samples contiguously, so the block
    of layer ``l`` starts at ``n_rows * UNIT_START[l]``.
    """
    start = n_rows * row[UNIT_START]
    return buffer[start : start + n_rows * row[N_OUT]].reshape((n_rows, row[N_OUT]))


@kernel
def units_per_sample(layout):
    """Number of non-input units: one sample's share of a work buffer."""
    last = layout[layout.shape[0] - 1]
    return last[UNIT_START] + last[N_OUT]


@kernel
def buffer_rows(buffer, layout):
    """How many samples' units a batch buffer holds."""
    return buffer.size // units_per_sample(layout)
