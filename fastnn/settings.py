"""Checks of a network's settings, each refusing what the network cannot honour by name.

The names of activations and losses map to the kernels' codes in ``fastnn.kernels``; this
module resolves the defaults between them and checks every other setting's type and range.
"""

import numpy as np

from .backends import DEVICES
from .initializers import INITIALIZERS
from .kernels.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .kernels.losses import LOSSES

# Each output's natural loss, and each loss's natural output, for filling in the one not given.
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy",
                "identity": "squared_error"}
DEFAULT_OUTPUT = {loss: output for output, loss in DEFAULT_LOSS.items()}
DTYPES = {"float64": np.float64, "float32": np.float32}
BIT_GENERATORS = {generator.__name__: generator for generator in (
    np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox, np.random.SFC64)}


def choose(kind, name, options):
    """``name`` if it is one of ``options``, else a ValueError listing them."""
    if name not in options:
        raise ValueError(f"unknown {kind} {name!r}; choose from {', '.join(map(repr, options))}.")
    return name


def check_sizes(sizes):
    """Layer widths as a list of Python ints, input to output."""
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in sizes):
        raise ValueError(f"sizes must list at least 2 positive layer widths, got {sizes!r}.")
    return [int(n) for n in sizes]


def hidden_activations(activation, n_hidden):
    """The hidden layers' activation names: ``activation`` for each, or its list of one per
    layer."""
    hidden = [activation] * n_hidden if isinstance(activation, str) else list(activation)
    if len(hidden) != n_hidden:
        raise ValueError(f"activation lists {len(hidden)} names for {n_hidden} hidden layers.")
    for name in hidden:
        choose("activation", name, HIDDEN_ACTIVATIONS)
    return hidden


def output_and_loss(output, loss, n_outputs):
    """Resolve ``output`` and ``loss`` from each other, and refuse pairs with no gradient here."""
    if output is None and loss is None:
        output = "sigmoid" if n_outputs == 1 else "softmax"
    if output is None:
        output = DEFAULT_OUTPUT[choose("loss", loss, LOSSES)]
    choose("output activation", output, OUTPUT_ACTIVATIONS)
    loss = DEFAULT_LOSS[output] if loss is None else choose("loss", loss, LOSSES)
    if loss != "squared_error" and DEFAULT_OUTPUT[loss] != output:
        raise ValueError(f"loss {loss!r} needs a {DEFAULT_OUTPUT[loss]!r} output, not {output!r}.")
    if output == "softmax" and n_outputs < 2:
        raise ValueError("a softmax output needs at least 2 units; use 'sigmoid' for one.")
    return output, loss


def check_dtype(dtype):
    """The NumPy scalar type for a dtype given by name or as a NumPy dtype."""
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = dtype
    return DTYPES[choose("dtype", name, DTYPES)]


def check_init(init):
    """The name of an initialisation scheme of ``fastnn.initializers``."""
    return choose("init", init, INITIALIZERS)


def check_training(lr, epochs, batch_size, l1, l2, on_divergence, n_jobs, device,
                   sparse_inputs):
    """Refuse training settings that cannot work, before anything is changed."""
    if not (isinstance(lr, (int, float, np.number)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}.")
    choose("on_divergence", on_divergence, ("raise", "warn"))
    for name, value in (("l1", l1), ("l2", l2)):
        if not (isinstance(value, (int, float, np.number)) and np.isfinite(value)
                and value >= 0):
            raise ValueError(f"{name} must be a non-negative finite number, got {value!r}.")
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}.")
    if batch_size is not None and not (
            isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    if n_jobs is not None and not (
            isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool)
            and (n_jobs >= 1 or n_jobs == -1)):
        raise ValueError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}.")
    choose("device", device, DEVICES)
    if not (sparse_inputs == "auto" if isinstance(sparse_inputs, str)
            else isinstance(sparse_inputs, (bool, np.bool_))):
        raise ValueError(f"sparse_inputs must be 'auto', True or False, got {sparse_inputs!r}.")


def generator_from_state(state):
    """A NumPy Generator in ``state``, a ``bit_generator.state`` dictionary."""
    generator = np.random.Generator(BIT_GENERATORS[state["bit_generator"]]())
    generator.bit_generator.state = state
    return generator
