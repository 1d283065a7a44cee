"""Where each layer's weights, biases and units live in fastnn's flat arrays.

Layer ``l`` maps ``sizes[l]`` inputs to ``sizes[l + 1]`` outputs. Its weight matrix
``W[l]`` (shape ``(n_out, n_in)``, row-major) is followed by its bias ``b[l]`` in one
contiguous parameter vector, so optimiser steps, saving and copying are single flat operations.
The kernels receive the same information as an int64 table, one row per layer.
"""

import numpy as np

from .kernels import codes


def layer_table(sizes, activation_codes):
    """The int64 layout table for layer ``sizes`` and one activation code per layer."""
    n_layers = len(sizes) - 1
    table = np.zeros((n_layers, codes.N_COLUMNS), dtype=np.int64)
    offset = 0
    units = 0
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        row = table[layer]
        row[codes.W_START] = offset
        row[codes.B_START] = offset + n_out * n_in
        row[codes.N_IN] = n_in
        row[codes.N_OUT] = n_out
        row[codes.ACTIVATION] = activation_codes[layer]
        row[codes.UNIT_START] = units
        offset += n_out * (n_in + 1)
        units += n_out
    return table


def n_params(table):
    """Length of the flat parameter vector described by ``table``."""
    last = table[-1]
    return int(last[codes.B_START] + last[codes.N_OUT])


def n_units(table):
    """Number of non-input units, the length of one sample's activation buffer."""
    last = table[-1]
    return int(last[codes.UNIT_START] + last[codes.N_OUT])


def weight_views(params, table):
    """Writable ``(n_out, n_in)`` views of every layer's weights inside ``params``."""
    return [
        params[row[codes.W_START] : row[codes.B_START]].reshape(row[codes.N_OUT], row[codes.N_IN])
        for row in table
    ]


def bias_views(params, table):
    """Writable ``(n_out,)`` views of every layer's biases inside ``params``."""
    return [params[row[codes.B_START] : row[codes.B_START] + row[codes.N_OUT]] for row in table]
