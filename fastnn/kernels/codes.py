"""Integer codes shared by the kernels and the Python layer.

Numba treats module-level integers as compile-time constants, so dispatching on these codes
inside a kernel costs nothing per element.
"""

# Activations.
IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
SOFTMAX = 4

# Losses.
CROSS_ENTROPY = 0
BINARY_CROSS_ENTROPY = 1
SQUARED_ERROR = 2

# Columns of the layout table (one row per layer, see fastnn/layout.py).
W_START = 0  # offset of the layer's weight matrix, shape (n_out, n_in), in the flat vector
B_START = 1  # offset of the layer's bias vector, shape (n_out,)
N_IN = 2
N_OUT = 3
ACTIVATION = 4
UNIT_START = 5  # offset of the layer's units in the flat activation and delta buffers
N_COLUMNS = 6
