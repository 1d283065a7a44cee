"""``Network``: a small fully-connected network trained by compiled per-sample or mini-batch SGD.

The class is thin on purpose. It validates input, owns the flat parameter vector (with
``weights`` and ``biases`` as views into it) and the training history, and loops over epochs
in Python; each epoch runs as a few calls of one compiled kernel (see ``fastnn.kernels``).
"""

import functools
import time
import warnings

import numba
import numpy as np
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
from sklearn.preprocessing import label_binarize
from threadpoolctl import ThreadpoolController
from tqdm.auto import tqdm

from . import layout as lay
from ._data import check_dataset, check_inputs, encode_targets
from ._interrupt import DeferredInterrupt
from .initializers import INITIALIZERS
from .kernels import codes
from .kernels.epochs import loss_rows, predict_rows, train_minibatch, train_per_sample

HIDDEN_ACTIVATIONS = {
    "identity": codes.IDENTITY,
    "sigmoid": codes.SIGMOID,
    "tanh": codes.TANH,
    "relu": codes.RELU,
}
OUTPUT_ACTIVATIONS = {
    "sigmoid": codes.SIGMOID,
    "softmax": codes.SOFTMAX,
    "identity": codes.IDENTITY,
}
LOSSES = {
    "cross_entropy": codes.CROSS_ENTROPY,
    "binary_cross_entropy": codes.BINARY_CROSS_ENTROPY,
    "squared_error": codes.SQUARED_ERROR,
}
# Each output's natural loss, and each loss's natural output, for filling in the one not given.
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy",
                "identity": "squared_error"}
DEFAULT_OUTPUT = {loss: output for output, loss in DEFAULT_LOSS.items()}
DTYPES = {"float64": np.float64, "float32": np.float32}

# Work per compiled call, in multiply-adds: about ten milliseconds, so progress bars move and
# Ctrl-C is answered promptly, while the cost of each call (argument dispatch, the progress
# bar, the per-sample kernel's final flush, and on the sparse-input path its two transposes of
# the first layer) stays small: 0-4% of a digits epoch, within this machine's noise; at 2**25
# it was measured at 5-7%.
CHUNK_MULTIPLY_ADDS = 2**28
# Rows forwarded together in prediction and in batches too big for one pass: large enough
# for efficient matrix products, small enough that the work buffers stay a few megabytes.
BLOCK_ROWS = 1024
# Per-sample training skips zero inputs in the first layer (kernels/sparse_inputs.py) when at
# most this share of X is nonzero. With zeros scattered at random the two paths broke even at
# 25% on this project's machine; zeros in runs, as in images, favour skipping further (MNIST's
# digits are 19% nonzero, and the skipping path trains them 1.2-2.0x faster).
SPARSE_INPUTS_MAX_DENSITY = 0.25


class DivergenceError(FloatingPointError):
    """Training met an infinite or NaN loss or weight; the weights were restored."""


class DivergenceWarning(RuntimeWarning):
    """Training stopped at an infinite or NaN loss or weight (``on_divergence="warn"``)."""


@functools.cache
def _blas_libraries():
    return ThreadpoolController()


def one_blas_thread():
    """Context holding BLAS to one thread, as every training step runs.

    A step's matrix products are small (a mini-batch): measured on a 2-core machine, a second
    OpenBLAS thread rarely paid for its synchronisation and, when the other core was busy,
    made steps tens of times slower; ``train_many`` uses the cores instead. Prediction, with
    products of 1,024 rows, keeps BLAS's own thread count: there a second thread was 1.2-1.5x
    faster on an idle machine and at most 1.25x slower on a busy one.
    """
    return _blas_libraries().limit(limits=1, user_api="blas")


def _choose(kind, name, options):
    if name not in options:
        raise ValueError(f"unknown {kind} {name!r}; choose from {', '.join(map(repr, options))}.")
    return name


def _output_and_loss(output, loss, n_outputs):
    """Resolve ``output`` and ``loss`` from each other, and refuse pairs with no gradient here."""
    if output is None and loss is None:
        output = "sigmoid" if n_outputs == 1 else "softmax"
    if output is None:
        output = DEFAULT_OUTPUT[_choose("loss", loss, LOSSES)]
    _choose("output activation", output, OUTPUT_ACTIVATIONS)
    loss = DEFAULT_LOSS[output] if loss is None else _choose("loss", loss, LOSSES)
    if loss != "squared_error" and DEFAULT_OUTPUT[loss] != output:
        raise ValueError(f"loss {loss!r} needs a {DEFAULT_OUTPUT[loss]!r} output, not {output!r}.")
    if output == "softmax" and n_outputs < 2:
        raise ValueError("a softmax output needs at least 2 units; use 'sigmoid' for one.")
    return output, loss


def _check_dtype(dtype):
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = dtype
    return DTYPES[_choose("dtype", name, DTYPES)]


def _check_sizes(sizes):
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n > 0 for n in sizes):
        raise ValueError(f"sizes must list at least 2 positive layer widths, got {sizes!r}.")
    return [int(n) for n in sizes]


class Network:
    """A fully-connected network trained by SGD, one sample (or mini-batch) at a time.

    Parameters
    ----------
    sizes : list of int
        Layer widths from input to output, e.g. ``[784, 128, 64, 10]``.
    activation : str or list of str
        Hidden-layer activation (``"identity"``, ``"sigmoid"``, ``"tanh"``, ``"relu"``), one
        name for every hidden layer or a list with one per hidden layer.
    output : {"softmax", "sigmoid", "identity"}, optional
        Output activation; by default the one that suits ``loss``, else softmax for several
        outputs and sigmoid for one.
    loss : {"cross_entropy", "binary_cross_entropy", "squared_error"}, optional
        By default the one that suits ``output``. Squared error is ``0.5 * (a - y) ** 2``
        summed over outputs.
    lr : float
        Learning rate. A mini-batch step uses the batch's mean gradient.
    l1, l2 : float
        Penalties ``l1 * ||W||₁ + l2 / 2 * ||W||²`` on the weights (not the biases), their
        gradients added to every step's (as PyTorch's ``weight_decay`` does for ``l2``). The
        reported ``loss`` is the data loss alone.
    epochs : int
        Passes over the data per ``fit`` call.
    batch_size : int or None
        1 is per-sample SGD, as in the articles; ``None`` (or any size at least the number of
        samples) is full-batch gradient descent.
    shuffle : bool
        Visit the samples in a new random order each epoch, else in the given order.
    seed : int or None
        Seeds one NumPy Generator for the initial weights and every shuffle: the same seed and
        data give bit-identical weights.
    dtype : {"float64", "float32"}
    init : {"glorot", "he", "normal", "scaled_normal", "uniform"}
        Initial weights, drawn in the constructor (see ``fastnn.initializers``).
    on_divergence : {"raise", "warn"}
        What ``fit`` does when a loss or weight becomes infinite or NaN, which the kernels
        notice at the sample where it appears: restore the weights of the last good epoch,
        record the failed epoch's loss as NaN, then raise ``DivergenceError`` or stop with a
        ``DivergenceWarning``.
    n_jobs : int or None
        Threads for a mini-batch step (``None``: 1; -1: one per core, Numba's
        ``NUMBA_NUM_THREADS``). Each batch is cut into up to ``n_jobs`` parts of at least 64
        rows whose gradients are computed side by side and added in a fixed order, so the
        weights depend on ``n_jobs`` (by rounding) but not on the threads free at the time.
        Each part has its own work buffers and gradient, as large as the parameters. Per-sample
        SGD is serial and ignores it; ``fastnn.train_many`` uses cores for whole networks
        instead. Threads are Numba's (``numba.prange``): with its GNU OpenMP layer, the
        default on Linux, a process that has trained with ``n_jobs > 1`` must not ``fork``
        (``multiprocessing``'s default start method there) a child that trains with it again.
        Where Numba has neither OpenMP nor TBB, its workqueue layer starts threads too slowly
        to gain (about 0.1 ms a time here) and aborts when two threads use it at once.
    verbose : bool
        Show a progress bar with the running loss while fitting.

    Attributes
    ----------
    params : ndarray
        The flat parameter vector: each layer's weights (row-major) then its biases.
    weights, biases : list of ndarray
        Writable views into ``params``, shapes ``(n_out, n_in)`` and ``(n_out,)``.
    history : dict of lists
        Per epoch: ``loss`` (mean training loss over the epoch, each sample's loss taken just
        before its update), ``seconds`` (training time), the ``metric`` when one is asked for,
        and ``val_loss`` plus ``val_accuracy`` or ``val_r2`` when validation data is given.
    """

    def __init__(self, sizes, activation="sigmoid", output=None, loss=None, lr=0.1, epochs=10,
                 batch_size=1, shuffle=True, seed=None, dtype="float64", init="glorot",
                 l1=0.0, l2=0.0, on_divergence="raise", n_jobs=None, verbose=False):
        self._sizes = _check_sizes(sizes)
        n_hidden = len(self._sizes) - 2
        hidden = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(hidden) != n_hidden:
            raise ValueError(f"activation lists {len(hidden)} names for {n_hidden} hidden layers.")
        for name in hidden:
            _choose("activation", name, HIDDEN_ACTIVATIONS)
        self._activation = activation
        self._output, self._loss = _output_and_loss(output, loss, self._sizes[-1])
        self._dtype = _check_dtype(dtype)
        self._init = _choose("init", init, INITIALIZERS)
        self.lr, self.epochs, self.batch_size = lr, epochs, batch_size
        self.l1, self.l2 = l1, l2
        self.on_divergence, self.n_jobs = on_divergence, n_jobs
        self.shuffle, self.verbose, self.seed = shuffle, verbose, seed
        self._check_settings()

        activation_codes = [HIDDEN_ACTIVATIONS[name] for name in hidden]
        activation_codes.append(OUTPUT_ACTIVATIONS[self._output])
        self._layout = lay.layer_table(self._sizes, activation_codes)
        self._params = np.empty(lay.n_params(self._layout), dtype=self._dtype)
        self.weights = lay.weight_views(self._params, self._layout)
        self.biases = lay.bias_views(self._params, self._layout)
        self._rng = np.random.default_rng(seed)
        for weights, biases in zip(self.weights, self.biases):
            weights[...], biases[...] = INITIALIZERS[init](self._rng, *weights.shape[::-1])
        self.history = {"loss": [], "seconds": []}

    sizes = property(lambda self: list(self._sizes), doc="Layer widths, input to output.")
    activation = property(lambda self: self._activation, doc="Hidden-layer activation(s).")
    output = property(lambda self: self._output, doc="Output-layer activation.")
    loss = property(lambda self: self._loss, doc="Training loss.")
    dtype = property(lambda self: np.dtype(self._dtype), doc="Parameter and compute dtype.")
    init = property(lambda self: self._init, doc="Initialisation scheme used.")
    params = property(lambda self: self._params, doc="The flat parameter vector (writable).")

    def __repr__(self):
        return (f"Network({self._sizes}, activation={self._activation!r}, "
                f"output={self._output!r}, loss={self._loss!r}, lr={self.lr}, "
                f"epochs={self.epochs}, batch_size={self.batch_size}, l1={self.l1}, l2={self.l2}, "
                f"n_jobs={self.n_jobs}, "
                f"dtype={self.dtype.name!r})")

    @property
    def is_classifier(self):
        """True for softmax and sigmoid outputs, which are trained on class labels."""
        return self._output != "identity"

    def _check_settings(self):
        """Refuse training settings that cannot work, before anything is changed."""
        if not (isinstance(self.lr, (int, float, np.number)) and np.isfinite(self.lr)
                and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}.")
        _choose("on_divergence", self.on_divergence, ("raise", "warn"))
        for name in ("l1", "l2"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.number)) and np.isfinite(value)
                    and value >= 0):
                raise ValueError(f"{name} must be a non-negative finite number, got {value!r}.")
        if not isinstance(self.epochs, (int, np.integer)) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}.")
        if self.batch_size is not None and not (
                isinstance(self.batch_size, (int, np.integer)) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer or None, "
                             f"got {self.batch_size!r}.")
        if self.n_jobs is not None and not (
                isinstance(self.n_jobs, (int, np.integer)) and not isinstance(self.n_jobs, bool)
                and (self.n_jobs >= 1 or self.n_jobs == -1)):
            raise ValueError(f"n_jobs must be a positive integer, -1 or None, "
                             f"got {self.n_jobs!r}.")

    @property
    def _threads(self):
        """``n_jobs`` as a number of threads."""
        if self.n_jobs is None:
            return 1
        return numba.config.NUMBA_NUM_THREADS if self.n_jobs == -1 else int(self.n_jobs)

    # ------------------------------------------------------------------ training

    def fit(self, X, y, validation_data=None, target=None, metric=None):
        """Train for ``epochs`` passes over ``(X, y)``, starting from the current weights.

        ``y`` holds class labels ``0 .. n_classes - 1`` for softmax and sigmoid outputs (one
        sigmoid unit: labels 0 and 1) and values for an identity output. With ``target``,
        training stops after the first epoch whose training ``metric`` (``"accuracy"``,
        ``"roc_auc"`` or ``"r2"``; by default accuracy for classifiers, r2 otherwise) reaches
        it. Every argument is checked before any weight changes. Returns ``self``.
        """
        self._check_settings()
        X, y = self._dataset(X, y)
        if validation_data is not None:
            X_val, y_val = self._dataset(*validation_data)
            val_targets = encode_targets(y_val, self._output, self._sizes[-1], self._dtype)
        if metric is None and target is not None:
            metric = "accuracy" if self.is_classifier else "r2"
        if metric is not None:
            self._check_metric(metric, y)
        targets = encode_targets(y, self._output, self._sizes[-1], self._dtype)
        epoch_runner = _EpochRunner(self, X, targets)
        scores = [] if validation_data is None else ["val_loss", "val_" + self._score_name]
        scores += [] if metric is None else [metric]
        with (tqdm(total=self.epochs * len(X), unit="sample", disable=not self.verbose) as bar,
              DeferredInterrupt() as interrupt, one_blas_thread()):
            try:
                for _ in range(self.epochs):
                    order = self._rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
                    last_good = self._params.copy()
                    loss, seconds, diverged_at = epoch_runner.run(order, bar, interrupt)
                    if diverged_at is None and not np.isfinite(self._params).all():
                        diverged_at = len(order)  # in the updates of the epoch's last samples
                    if diverged_at is not None:
                        self._params[...] = last_good
                        self._append_history(dict(loss=np.nan, seconds=seconds,
                                                  **dict.fromkeys(scores, np.nan)))
                        self._diverged(diverged_at, order, epoch_runner.batch_size)
                        break
                    record = {"loss": loss, "seconds": seconds}
                    if validation_data is not None:
                        record["val_loss"], val_out = self._loss_and_outputs(X_val, val_targets)
                        record["val_" + self._score_name] = self._metric(self._score_name,
                                                                         val_out, y_val)
                    if metric is not None:
                        record[metric] = self._metric(metric, self._outputs(X), y)
                    self._append_history(record)
                    if target is not None and record[metric] >= target:
                        break
                interrupt.check()
            except KeyboardInterrupt as stop:
                stop.add_note(
                    f"fastnn: fit interrupted in epoch {len(self.history['loss']) + 1} after "
                    f"{epoch_runner.done:,} of {len(X):,} samples. The network keeps the "
                    f"weights of that moment (every step taken is complete); its history lists "
                    f"the {len(self.history['loss'])} finished epochs.")
                raise
        return self

    @property
    def _score_name(self):
        return "accuracy" if self.is_classifier else "r2"

    def _append_history(self, record):
        for key, value in record.items():
            self.history.setdefault(key, []).append(value)

    def _diverged(self, position, order, batch_size):
        """Raise (or warn, per ``on_divergence``) about a non-finite loss or weight."""
        epoch, n = len(self.history["loss"]), len(order)
        if position == n:
            where = "in the updates of its last samples"
        elif batch_size == n:
            where = "in its full-batch step"
        elif batch_size > 1:
            last = min(position + batch_size, n) - 1
            where = f"in the batch of samples {position:,} to {last:,} of {n:,}"
        else:
            where = f"at sample {position:,} of {n:,} (row {order[position]} of X)"
        message = (f"training diverged in epoch {epoch} {where}: a loss or weight became "
                   f"infinite or NaN. The weights are restored to the end of "
                   f"{'epoch ' + str(epoch - 1) if epoch > 1 else 'the previous fit'}; "
                   f"try a smaller lr or scaled inputs.")
        if self.on_divergence == "raise":
            raise DivergenceError(message)
        warnings.warn(message, DivergenceWarning, stacklevel=3)

    def _dataset(self, X, y):
        return check_dataset(X, y, self._sizes[0], self._output, self._sizes[-1], self._dtype)

    def _check_metric(self, metric, y):
        allowed = ("accuracy", "roc_auc") if self.is_classifier else ("r2",)
        _choose(f"metric for a {self._output} output", metric, allowed)
        if metric == "roc_auc" and np.unique(y).size < 2:
            raise ValueError("roc_auc needs at least two classes in y.")

    def _metric(self, name, out, y):
        """Metric ``name`` of the output activations ``out`` against checked labels ``y``."""
        if name == "accuracy":
            return float(accuracy_score(y, self._predictions(out)))
        if name == "r2":
            return float(r2_score(y, self._predictions(out)))
        if out.shape[1] == 1:
            return float(roc_auc_score(y, out[:, 0]))
        present = np.unique(y)  # one-vs-rest, macro-averaged over the classes present
        return float(roc_auc_score(label_binarize(y, classes=present), out[:, present]))

    def _block_buffers(self, count, rows=BLOCK_ROWS, sets=None):
        """``count`` work buffers, each holding every layer's units for ``rows`` samples
        (``sets`` such buffers, one per row, when given)."""
        size = rows * lay.n_units(self._layout)
        shape = size if sets is None else (sets, size)
        return [np.empty(shape, self._dtype) for _ in range(count)]

    def _loss_and_outputs(self, X, targets):
        """Mean loss over checked ``X`` and its encoded ``targets``, and the outputs for ``X``."""
        out = np.empty((len(X), self._sizes[-1]), dtype=self._dtype)
        total = loss_rows(self._params, self._layout, X, targets, LOSSES[self._loss],
                          *self._block_buffers(3), out)
        return total / len(X), out

    def save(self, path):
        """Write the network, its settings, history and random state to ``path`` (``.npz``).

        Plain arrays and JSON, never pickle; ``fastnn.load`` reads it back bit for bit.
        """
        from .io import save

        save(self, path)

    # ---------------------------------------------------------------- prediction

    def predict_proba(self, X):
        """Output-layer activations, shape ``(n_samples, n_outputs)``: class probabilities
        for a softmax output, per-unit probabilities for sigmoid outputs."""
        return self._outputs(check_inputs(X, self._sizes[0], self._dtype))

    def predict(self, X):
        """Class labels (the most probable class; 0/1 for one sigmoid unit) or, for an
        identity output, the predicted values (1-D for a single output)."""
        return self._predictions(self.predict_proba(X))

    def _outputs(self, X):
        """Output-layer activations for an ``X`` already checked and converted."""
        out = np.empty((len(X), self._sizes[-1]), dtype=self._dtype)
        predict_rows(self._params, self._layout, X, *self._block_buffers(2), out)
        return out

    def _predictions(self, out):
        """What ``predict`` returns, from the output activations ``out``."""
        if self._output == "identity":
            return out[:, 0] if out.shape[1] == 1 else out
        if out.shape[1] == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return out.argmax(axis=1)

    def score(self, X, y):
        """Accuracy for classifiers, the coefficient of determination R² otherwise."""
        X, y = self._dataset(X, y)
        return self._metric(self._score_name, self._outputs(X), y)


def _nonzero_share(X, rows=256):
    """Share of nonzero entries in about ``rows`` evenly spaced rows of ``X``: counting every
    entry of 10,000 digits took 5% as long as a per-sample epoch over them."""
    sample = X[::max(1, len(X) // rows)]
    return np.count_nonzero(sample) / max(1, sample.size)


class _EpochRunner:
    """Work buffers and chunking for one ``fit`` call's epochs, allocated once."""

    def __init__(self, network, X, targets):
        self.network, self.X, self.targets = network, X, targets
        dtype, n_samples = network._params.dtype, len(X)
        batch = n_samples if network.batch_size is None else min(network.batch_size, n_samples)
        self.batch_size = batch
        self.lr, self.l1, self.l2 = (dtype.type(v) for v in (network.lr, network.l1, network.l2))
        self.loss_code = LOSSES[network.loss]
        # The fused per-sample kernel is plain SGD; penalised steps take the general path.
        self.per_sample = batch == 1 and network.l1 == 0 and network.l2 == 0
        sets = 1 if self.per_sample else network._threads
        self.z, self.a, self.delta = network._block_buffers(3, min(batch, BLOCK_ROWS), sets)
        n_in, n_out = network._sizes[0], network._sizes[1]
        sparse = self.per_sample and _nonzero_share(X) <= SPARSE_INPUTS_MAX_DENSITY
        self.first_t = np.empty((n_in, n_out) if sparse else (0, 0), dtype)
        self.active = np.empty(n_in if sparse else 0, np.int64)
        if not self.per_sample:
            staged = 0 if batch == n_samples else batch  # a whole-data batch is used in place
            self.X_batch = np.empty((staged, X.shape[1]), dtype)
            self.targets_batch = np.empty((staged, targets.shape[1]), dtype)
            self.grad = np.empty_like(network._params)
            self.part_grads = np.empty((sets, network._params.size), dtype)
            self.part_losses = np.empty(sets)
        work_per_sample = 3 * network._params.size
        batches_per_chunk = max(1, CHUNK_MULTIPLY_ADDS // (work_per_sample * batch))
        self.chunk = batches_per_chunk * batch

    def run(self, order, bar, interrupt):
        """One epoch over ``X[order]``.

        Returns the mean sample loss, the seconds spent, and None or, when the epoch
        diverged, the position in ``order`` where the kernels stopped. ``done`` counts the
        samples finished so far; a pending Ctrl-C is raised between chunks, once it is exact.
        """
        net = self.network
        total_loss, seconds, self.done = 0.0, 0.0, 0
        for start in range(0, len(order), self.chunk):
            rows = order[start:start + self.chunk]
            began = time.perf_counter()
            if self.per_sample:
                chunk_loss, stopped_at = train_per_sample(
                    net._params, net._layout, self.X, self.targets, rows, self.lr,
                    self.loss_code, self.z[0], self.a[0], self.delta[0], self.first_t,
                    self.active)
            else:
                chunk_loss, stopped_at = train_minibatch(
                    net._params, net._layout, self.X, self.targets, rows, self.lr, self.l1,
                    self.l2, self.loss_code, self.batch_size, self.X_batch, self.targets_batch,
                    self.z, self.a, self.delta, self.grad, self.part_grads, self.part_losses,
                    numba.get_num_threads() > 1)
            seconds += time.perf_counter() - began
            if stopped_at >= 0:
                return np.nan, seconds, start + stopped_at
            total_loss += chunk_loss
            self.done += len(rows)
            bar.update(len(rows))
            bar.set_postfix(loss=f"{total_loss / self.done:.4g}", refresh=False)
            interrupt.check()
        return total_loss / len(order), seconds, None
