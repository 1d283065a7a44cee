"""Checks of a network's settings, each refusing what the network cannot honour by name.

The names of activations and losses map to the kernels' codes in ``fastnn.kernels``; this
module resolves the defaults between them, checks every other setting's type, range and
finiteness, and copies what a caller could change afterwards (lists become tuples, a
Generator seed becomes the network's own).
"""

import copy
import numbers

import numpy as np

from .backends import DEVICES
from .initializers import INITIALIZERS
from .optimizers import OPTIMIZERS, SCHEDULES
from .kernels.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .kernels.losses import LOSSES

# Each output's natural loss, and each loss's natural output, for filling in the one not given.
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy",
                "identity": "squared_error"}
DEFAULT_OUTPUT = {loss: output for output, loss in DEFAULT_LOSS.items()}
DTYPES = {"float64": np.float64, "float32": np.float32}
BIT_GENERATORS = {generator.__name__: generator for generator in (
    np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937, np.random.Philox, np.random.SFC64)}


def is_integer(value):
    """A Python or NumPy integer of any width, and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value):
    """A Python or NumPy integer or float, and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_bool(value):
    return isinstance(value, (bool, np.bool_))


def choose(kind, name, options):
    """``name`` if it is one of ``options`` (strings), else a ValueError listing them."""
    if not isinstance(name, str) or name not in options:
        raise ValueError(f"unknown {kind} {name!r}; choose from {', '.join(map(repr, options))}.")
    return name


def check_sizes(sizes):
    """Layer widths as a tuple of Python ints, input to output."""
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = None
    if not sizes or len(sizes) < 2 or not all(is_integer(n) and n > 0 for n in sizes):
        raise ValueError(f"sizes must list at least 2 positive layer widths, got {sizes!r}.")
    return tuple(int(n) for n in sizes)


def check_activation(activation, n_hidden):
    """``activation`` as given (a name, or a tuple of one name per hidden layer) and the
    hidden layers' names. A single name is checked even for a network with no hidden layer."""
    if isinstance(activation, str):
        choose("activation", activation, HIDDEN_ACTIVATIONS)
        return activation, (activation,) * n_hidden
    if not isinstance(activation, (list, tuple)):
        raise ValueError(f"activation must be a name or a list of names, got {activation!r}.")
    activation = tuple(activation)
    if len(activation) != n_hidden:
        raise ValueError(f"activation lists {len(activation)} names for {n_hidden} hidden "
                         f"layers.")
    for name in activation:
        choose("activation", name, HIDDEN_ACTIVATIONS)
    return activation, activation


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


def check_seed(seed):
    """``seed`` as the network keeps it: None, a Python int, or a private copy of a NumPy
    Generator or SeedSequence, so that no caller's object is ever shared or advanced."""
    if seed is None:
        return None
    if is_integer(seed) and seed >= 0:
        return int(seed)
    if isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return copy.deepcopy(seed)
    raise ValueError(f"seed must be a non-negative integer, None, a numpy.random.Generator or "
                     f"a numpy.random.SeedSequence, got {seed!r}.")


def generator(seed):
    """A new NumPy Generator drawn from ``seed`` (see ``check_seed``), sharing nothing with it."""
    return np.random.default_rng(copy.deepcopy(seed))


def generator_from_state(state):
    """A NumPy Generator in ``state``, a ``bit_generator.state`` dictionary."""
    rng = np.random.Generator(BIT_GENERATORS[state["bit_generator"]]())
    rng.bit_generator.state = state
    return rng


def check_rate(name, value, dtype, allow_zero):
    """Refuse a rate that is not a finite real number, is negative (or zero, unless
    ``allow_zero``), or that ``dtype`` cannot hold: it overflows, or rounds to zero."""
    sign = "non-negative" if allow_zero else "positive"
    try:
        finite = is_real(value) and np.isfinite(float(value))
    except OverflowError:  # an int too large for any float
        finite = False
    if not (finite and (value > 0 or allow_zero and value == 0)):
        raise ValueError(f"{name} must be a {sign} finite number, got {value!r}.")
    with np.errstate(over="ignore", under="ignore"):
        held = dtype(value)
    if not np.isfinite(held) or (held == 0) != (value == 0):
        kind = "overflows" if not np.isfinite(held) else "rounds to zero"
        raise ValueError(f"{name}={value!r} {kind} in {np.dtype(dtype).name}.")


def check_fraction(name, value, allow_zero):
    """Refuse a ``value`` outside ``[0, 1)`` (``(0, 1)`` unless ``allow_zero``)."""
    if not (is_real(value) and (0 < value < 1 or allow_zero and value == 0)):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")


def check_optimizer(dtype, optimizer, momentum, nesterov, beta_1, beta_2, epsilon, lr_schedule,
                    power_t):
    """The optimizer and schedule settings as plain values; refuses any that cannot work."""
    choose("optimizer", optimizer, OPTIMIZERS)
    check_fraction("momentum", momentum, allow_zero=True)
    if not is_bool(nesterov):
        raise ValueError(f"nesterov must be True or False, got {nesterov!r}.")
    if nesterov and optimizer == "sgd" and momentum == 0:
        raise ValueError("nesterov=True needs a momentum above 0 (as in torch.optim.SGD).")
    check_fraction("beta_1", beta_1, allow_zero=True)
    check_fraction("beta_2", beta_2, allow_zero=True)
    check_rate("epsilon", epsilon, dtype, allow_zero=False)
    if not callable(lr_schedule):
        choose("lr_schedule", lr_schedule, SCHEDULES)
    if not (is_real(power_t) and np.isfinite(power_t) and power_t >= 0):
        raise ValueError(f"power_t must be a non-negative finite number, got {power_t!r}.")
    return {"optimizer": optimizer, "momentum": float(momentum), "nesterov": bool(nesterov),
            "beta_1": float(beta_1), "beta_2": float(beta_2), "epsilon": float(epsilon),
            "lr_schedule": lr_schedule, "power_t": float(power_t)}


def check_training(dtype, lr, epochs, batch_size, shuffle, l1, l2, on_divergence, n_jobs,
                   device, sparse_inputs, verbose, **optimizer):
    """The training settings as plain Python values; refuses any that cannot work.
    ``optimizer`` holds the settings ``check_optimizer`` takes."""
    check_rate("lr", lr, dtype, allow_zero=False)
    check_rate("l1", l1, dtype, allow_zero=True)
    check_rate("l2", l2, dtype, allow_zero=True)
    if not (is_integer(epochs) and epochs >= 0):
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}.")
    if batch_size is not None and not (is_integer(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    if n_jobs is not None and not (is_integer(n_jobs) and (n_jobs >= 1 or n_jobs == -1)):
        raise ValueError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}.")
    for name, value in (("shuffle", shuffle), ("verbose", verbose)):
        if not is_bool(value):
            raise ValueError(f"{name} must be True or False, got {value!r}.")
    choose("on_divergence", on_divergence, ("raise", "warn"))
    choose("device", device, DEVICES)
    if not (sparse_inputs == "auto" if isinstance(sparse_inputs, str) else is_bool(sparse_inputs)):
        raise ValueError(f"sparse_inputs must be 'auto', True or False, got {sparse_inputs!r}.")
    return {"lr": float(lr), "epochs": int(epochs),
            "batch_size": None if batch_size is None else int(batch_size),
            "shuffle": bool(shuffle), "l1": float(l1), "l2": float(l2),
            "on_divergence": on_divergence, "n_jobs": None if n_jobs is None else int(n_jobs),
            "device": device, "sparse_inputs": sparse_inputs if sparse_inputs == "auto"
            else bool(sparse_inputs), "verbose": bool(verbose),
            **check_optimizer(dtype, **optimizer)}


def check_target(target):
    """A ``fit`` target: None or a finite real number."""
    if target is not None and not (is_real(target) and np.isfinite(target)):
        raise ValueError(f"target must be a finite number, got {target!r}.")
