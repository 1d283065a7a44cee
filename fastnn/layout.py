"""Where each layer's weights, biases and units live in fastnn's flat arrays.

Layer ``l`` maps ``sizes[l]`` inputs to ``sizes[l + 1]`` outputs. Its weight matrix
``W[l]`` (shape ``(n_out, n_in)``, row-major) is followed by its bias ``b[l]`` in one
contiguous parameter vector, so optimiser steps, saving and copying are single flat operations.
The kernels receive the same information as an int64 table, one row per layer, whose columns
``fastnn.kernels.views`` names.
"""

import numpy as np

from .kernels.views import ACTIVATION, B_START, N_COLUMNS, N_IN, N_OUT, UNIT_START, W_START


def layer_table(sizes, activation_codes=None):
    """The int64 layout table for layer ``sizes`` and one activation code per layer (without
    them, a table that only places the arrays)."""
    n_layers = len(sizes) - 1
    if activation_codes is None:
        activation_codes = [0] * n_layers
    table = np.zeros((n_layers, N_COLUMNS), dtype=np.int64)
    offset = 0
    units = 0
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        row = table[layer]
        row[W_START] = offset
        row[B_START] = offset + n_out * n_in
        row[N_IN] = n_in
        row[N_OUT] = n_out
        row[ACTIVATION] = activation_codes[layer]
        row[UNIT_START] = units
        offset += n_out * (n_in + 1)
        units += n_out
    return table


def n_params(table):
    """Length of the flat parameter vector described by ``table``."""
    last = table[-1]
    return int(last[B_START] + last[N_OUT])


def n_units(table):
    """Number of non-input units, the length of one sample's activation buffer."""
    last = table[-1]
    return int(last[UNIT_START] + last[N_OUT])


class LayerViews(tuple):
    """One array per layer (``weights`` or ``biases``), each a writable view into ``params``.

    Write into an item (``net.weights[0][...] = W``); rebinding one would leave ``fit``
    training the old array, so it raises instead.
    """

    def __new__(cls, name, views):
        views_tuple = super().__new__(cls, views)
        views_tuple.name = name
        return views_tuple

    def __getnewargs__(self):
        return self.name, tuple(self)

    def __setitem__(self, index, value):
        raise TypeError(f"{self.name}[{index}] is a view into the network's params and cannot "
                        f"be replaced; write into it instead: net.{self.name}[{index}][...] = "
                        f"new_values.")


def weight_views(params, table):
    """Writable ``(n_out, n_in)`` views of every layer's weights inside ``params``."""
    return LayerViews("weights", [params[row[W_START] : row[B_START]].reshape(row[N_OUT], row[N_IN])
                                  for row in table])


def bias_views(params, table):
    """Writable ``(n_out,)`` views of every layer's biases inside ``params``."""
    return LayerViews("biases", [params[row[B_START] : row[B_START] + row[N_OUT]] for row in table])
