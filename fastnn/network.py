"""``Network``: a small fully-connected network trained by compiled per-sample or mini-batch steps.

The class decides and never computes. It owns the settings, the flat parameter vector (with
``weights`` and ``biases`` as views into it), the optimizer's state, the random stream and the
history, and checks every argument of ``fit``; ``training.EpochLoop`` runs the epochs and the
callbacks, and a trainer from ``fastnn.backends`` does each epoch's work on the chosen device.
"""

import contextlib
import inspect
import threading

import numpy as np

from . import io, memory, metrics, optimizers, settings
from . import layout as lay
from ._data import (
    check_dataset,
    check_inputs,
    check_sample_weight,
    encode_targets,
    hold_out,
    sample_factors,
)
from .backends import get_trainer
from .callbacks import fit_callbacks
from .initializers import INITIALIZERS
from .kernels.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .kernels.losses import LOSSES
from .training import EpochLoop, score_names

# Constructor settings fixed for the network's life, and those that may change between fits.
FIXED = ("sizes", "activation", "output", "loss", "dtype", "init", "seed")
TRAINING = ("lr", "epochs", "batch_size", "shuffle", "optimizer", "momentum", "nesterov",
            "beta_1", "beta_2", "epsilon", "lr_schedule", "power_t", "l1", "l2", "on_divergence",
            "n_jobs", "device", "sparse_inputs", "verbose")


class Network:
    """A fully-connected network trained one sample (or mini-batch) at a time, by SGD (with
    momentum or Nesterov momentum) or Adam.

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
        Learning rate. A mini-batch step uses the batch's mean gradient. Callbacks such as
        ``ReduceLROnPlateau`` change it, as they change a Keras optimizer's.
    epochs : int
        Passes over the data per ``fit`` call.
    batch_size : int or None
        1 is per-sample SGD, as in the articles; ``None`` (or any size at least the number of
        samples) is full-batch gradient descent.
    shuffle : bool
        Visit the samples in a new random order each epoch, else in the given order.
    optimizer : {"sgd", "adam"}
        The step, as ``torch.optim.SGD`` (``momentum``, ``nesterov``; zero dampening) or
        ``torch.optim.Adam`` (``beta_1``, ``beta_2``, ``epsilon``, with its bias correction)
        take it, per sample and per batch alike. Its state (velocity, moments, step count)
        carries over from one ``fit`` to the next, through copies and files, and starts anew
        when ``optimizer`` changes. Settings of the other optimizer are ignored.
    momentum : float in [0, 1)
    nesterov : bool
    beta_1, beta_2 : float in [0, 1)
    epsilon : float
    lr_schedule : {"constant", "invscaling"} or callable
        Each epoch's rate: ``lr``; scikit-learn's ``lr / (t + 1) ** power_t`` with ``t`` the
        samples trained on before the epoch; or ``schedule(epoch, lr) -> lr``, set before each
        epoch as Keras's ``LearningRateScheduler`` does (``history["lr"]`` records each rate).
    power_t : float
        The invscaling exponent.
    seed : int, None, numpy.random.Generator or numpy.random.SeedSequence
        Seeds the network's own NumPy Generator, which draws the initial weights and every
        shuffle: the same seed and data give bit-identical weights. A Generator or
        SeedSequence is copied, never shared or advanced, so networks built from one train
        alike.
    dtype : {"float64", "float32"}
    init : {"glorot", "he", "normal", "scaled_normal", "uniform"}
        Initial weights, drawn in the constructor (see ``fastnn.initializers``).
    l1, l2 : float
        Penalties ``l1 * ||W||₁ + l2 / 2 * ||W||²`` on the weights (not the biases), their
        gradients added to every step's gradient, whatever the optimizer (as PyTorch's
        ``weight_decay`` does for ``l2``). The reported ``loss`` is the data loss alone.
    on_divergence : {"raise", "warn"}
        When a loss or weight becomes infinite or NaN (noticed at the sample where it appears),
        ``fit`` restores the weights of the last good epoch, records the failed epoch's loss as
        NaN, then raises ``DivergenceError`` or stops with a ``DivergenceWarning``.
    n_jobs : int or None
        Threads for a mini-batch step (``None``: 1; -1: Numba's ``NUMBA_NUM_THREADS``): each
        batch is cut into up to ``n_jobs`` parts of at least ``config.MIN_PART_ROWS`` rows,
        trained side by side and added in a fixed order, so the weights depend on ``n_jobs``
        (by rounding) but never on the threads free at the time. Per-sample plain SGD over
        every input (not skipping zero inputs, no penalty) with ``n_jobs`` of 2 or more splits
        the first layer's rows between two threads that meet twice per sample, spinning,
        when each half keeps ``config.MIN_SPLIT_ROWS`` rows (else it trains on one): the
        weights are those of one thread, bit for bit. That second thread is a Python thread,
        safe to fork; but under Numba's GNU OpenMP layer (Linux's default) a process that
        trained mini-batches with ``n_jobs > 1`` must not ``fork`` a child that does so again
        (see the README). Spinning threads need a core each: on a machine whose cores are
        busy, per-sample ``n_jobs=2`` is slower than one thread.
    device : {"cpu", "cuda"}
        Where training and prediction run (see ``fastnn.backends``): the CPU, or an NVIDIA GPU
        through the ``cuda`` extra (numba-cuda), with the same semantics and the same numbers
        to rounding. A fit copies the data and weights to the GPU once and brings the weights
        back after each epoch; ``n_jobs`` and ``sparse_inputs`` choose CPU paths and do not
        apply there. ``DeviceUnavailableError`` says how to install the extra where it cannot
        run, and ``DeviceMemoryError`` is raised, the network unchanged, when the GPU has too
        little free memory.
    sparse_inputs : {"auto", True, False}
        Whether per-sample SGD leaves zero inputs out of the first layer's work (the same SGD,
        to rounding); ``"auto"``: when at most ``config.SPARSE_INPUTS_MAX_DENSITY`` of ``X`` is
        nonzero, as in images of digits or one-hot features.
    verbose : bool
        Show a progress bar with the running loss while fitting.

    Attributes
    ----------
    params : ndarray
        The flat parameter vector: each layer's weights (row-major) then its biases.
    weights, biases : LayerViews
        Read-only sequences of writable views into ``params``, shapes ``(n_out, n_in)`` and
        ``(n_out,)``; rebuilt as views after pickling or copying.
    history : dict of lists
        Per epoch: ``loss`` (mean training loss over the epoch, each sample's loss taken just
        before its update and weighted by its sample weight), ``seconds`` (training time),
        ``lr`` (the epoch's learning rate), the ``metric`` when one is asked for, and
        ``val_loss`` plus ``val_accuracy`` or ``val_r2`` when validation data is given.
    stop_training : bool
        Set by a callback to end ``fit`` after the current epoch (reset when a fit starts).
    """

    def __init__(self, sizes, activation="sigmoid", output=None, loss=None, lr=0.1, epochs=10,
                 batch_size=1, shuffle=True, seed=None, dtype="float64", init="glorot",
                 optimizer="sgd", momentum=0.0, nesterov=False, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, lr_schedule="constant", power_t=0.5, l1=0.0, l2=0.0,
                 on_divergence="raise", n_jobs=None, device="cpu", sparse_inputs="auto",
                 verbose=False):
        self._set_fixed(sizes, activation, output, loss, dtype, init, seed)
        self.lr, self.epochs, self.batch_size = lr, epochs, batch_size
        self.optimizer, self.momentum, self.nesterov = optimizer, momentum, nesterov
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.lr_schedule, self.power_t = lr_schedule, power_t
        self.l1, self.l2 = l1, l2
        self.on_divergence, self.n_jobs, self.device = on_divergence, n_jobs, device
        self.sparse_inputs, self.shuffle, self.verbose = sparse_inputs, shuffle, verbose
        self._check_settings()
        self._attach(memory.aligned_empty(lay.n_params(self._layout), self._dtype))
        self._rng = settings.generator(self._seed)
        for weights, biases in zip(self.weights, self.biases):
            weights[...], biases[...] = INITIALIZERS[init](self._rng, *weights.shape[::-1])
        self._optimizer_state = None
        self.history = {"loss": [], "seconds": []}
        self.stop_training = False

    def _set_fixed(self, sizes, activation, output, loss, dtype, init, seed):
        """Check and keep (as copies) the settings fixed for the network's life; build its
        layout."""
        self._sizes = settings.check_sizes(sizes)
        self._activation, hidden = settings.check_activation(activation, len(self._sizes) - 2)
        self._output, self._loss = settings.output_and_loss(output, loss, self._sizes[-1])
        self._dtype = settings.check_dtype(dtype)
        self._init = settings.check_init(init)
        self._seed = settings.check_seed(seed)
        codes = [HIDDEN_ACTIVATIONS[name] for name in hidden] + [OUTPUT_ACTIVATIONS[self._output]]
        self._layout = lay.layer_table(self._sizes, codes)
        self._busy = threading.RLock()  # held by the thread that fits or saves the network

    def _attach(self, params):
        """Make ``params`` the network's flat vector, with ``weights`` and ``biases`` its views;
        a vector that does not start on a cache line is copied to one that does (see
        ``fastnn.memory``)."""
        self._params = params = memory.aligned(params)
        self._weights = lay.weight_views(params, self._layout)
        self._biases = lay.bias_views(params, self._layout)

    def _check_settings(self):
        """The training settings (which may change between fits) as plain Python values;
        refuses any that cannot work."""
        return settings.check_training(self._dtype,
                                       **{name: getattr(self, name) for name in TRAINING})

    sizes = property(lambda self: list(self._sizes), doc="Layer widths, input to output.")
    activation = property(lambda self: self._activation, doc="Hidden-layer activation(s).")
    output = property(lambda self: self._output, doc="Output-layer activation.")
    loss = property(lambda self: self._loss, doc="Training loss.")
    dtype = property(lambda self: np.dtype(self._dtype), doc="Parameter and compute dtype.")
    init = property(lambda self: self._init, doc="Initialisation scheme used.")
    seed = property(lambda self: self._seed, doc="What the network's generator was seeded with.")
    params = property(lambda self: self._params, doc="The flat parameter vector (writable).")
    weights = property(lambda self: self._weights, doc="Each layer's weights, views into params.")
    biases = property(lambda self: self._biases, doc="Each layer's biases, views into params.")
    layout = property(lambda self: self._layout, doc="The int64 layout table the kernels read.")
    is_classifier = property(lambda self: metrics.is_classifier(self._output),
                             doc="True for softmax and sigmoid outputs, trained on class labels.")
    _score_name = property(lambda self: metrics.score_name(self._output))

    def __repr__(self):
        return (f"Network({self._sizes}, activation={self._activation!r}, "
                f"output={self._output!r}, loss={self._loss!r}, lr={self.lr}, "
                f"epochs={self.epochs}, batch_size={self.batch_size}, "
                f"optimizer={self.optimizer!r}, l1={self.l1}, l2={self.l2}, "
                f"n_jobs={self.n_jobs}, dtype={self.dtype.name!r})")

    # ------------------------------------------------------------------ state

    def get_state(self):
        """Everything the network is: ``{"settings", "params", "optimizer_state", "rng_state",
        "history"}``.

        ``settings`` holds the constructor's arguments, ``params`` the flat vector itself (not
        a copy), ``optimizer_state`` None before the first fit, else the optimizer's counts
        and arrays (``OptimizerState.as_dict``, not copies), ``rng_state`` the state of the
        generator that draws every shuffle. ``Network.from_state`` rebuilds the network;
        pickling, copying and ``save`` use the same pair.
        """
        given = {name: getattr(self, name) for name in FIXED + TRAINING}
        given["dtype"] = self.dtype.name
        optimizer_state = self._optimizer_state
        return {"settings": given, "params": self._params,
                "optimizer_state": None if optimizer_state is None else optimizer_state.as_dict(),
                "rng_state": self._rng.bit_generator.state,
                "history": {key: list(values) for key, values in self.history.items()}}

    @classmethod
    def from_state(cls, state):
        """The network whose ``get_state()`` is ``state``, with its own copy of the arrays; it
        trains on exactly as the original would. Settings left out take their defaults, and a
        state without ``optimizer_state`` starts its optimizer anew."""
        network = cls.__new__(cls)
        network.__setstate__(_copy_arrays(state))
        return network

    def __getstate__(self):
        with self._exclusively("copy"):  # pickled after the lock is released: copy arrays
            return _copy_arrays(self.get_state())

    def __setstate__(self, state):
        # Takes the arrays of ``state`` as the network's own: unpickling hands over fresh
        # arrays, and from_state passes copies.
        arguments = inspect.signature(Network).bind(**state["settings"])
        arguments.apply_defaults()
        given = arguments.arguments
        self._set_fixed(*(given[name] for name in FIXED))
        for name in TRAINING:
            setattr(self, name, given[name])
        self._check_settings()
        params, size = np.asarray(state["params"]), lay.n_params(self._layout)
        if params.shape != (size,) or params.dtype != self._dtype:
            raise ValueError(f"params is {params.dtype}{list(params.shape)}; this network needs "
                             f"{self.dtype.name}[{size}].")
        self._attach(params)
        optimizer_state = state.get("optimizer_state")
        self._optimizer_state = None if optimizer_state is None else (
            optimizers.OptimizerState.from_dict(optimizer_state, size, self._dtype))
        self._rng = settings.generator_from_state(state["rng_state"])
        self.history = {key: list(values) for key, values in state["history"].items()}
        self.stop_training = False

    def save(self, path):
        """Write the network, its settings, history and random state to ``path`` (``.npz``).

        Plain arrays and JSON, never pickle; ``fastnn.load`` reads it back bit for bit. What
        ``load`` would refuse is refused before the destination is touched.
        """
        with self._exclusively("save"):
            self._check_settings()
            io.save(self.get_state(), path, Network.from_state)

    @contextlib.contextmanager
    def _exclusively(self, doing):
        """Hold the network while this thread fits or saves it; refuse if another thread does."""
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(f"cannot {doing} this network: another thread is fitting or "
                               f"saving it. A network takes one fit at a time; "
                               f"fastnn.train_many trains several networks side by side.")
        try:
            yield
        finally:
            self._busy.release()

    # ------------------------------------------------------------------ training

    def fit(self, X, y, validation_data=None, target=None, metric=None, *, sample_weight=None,
            class_weight=None, validation_split=0.0, callbacks=None):
        """Train for ``epochs`` passes over ``(X, y)``, starting from the current weights and
        optimizer state.

        ``y`` holds class labels ``0 .. n_classes - 1`` for softmax and sigmoid outputs (one
        sigmoid unit: labels 0 and 1) and values for an identity output.

        ``sample_weight`` (one per sample) and ``class_weight`` (a dict of label to weight, or
        ``"balanced"``), multiplied together, scale each sample's loss and gradient by its
        weight over the training set's mean weight: a full-batch step follows the weighted
        mean gradient, weight 0 removes a sample's gradient and an integer weight repeats it,
        and weights matter at batch size 1 too (unlike scikit-learn's, which are normalised
        per batch).

        ``validation_data`` is a pair ``(X_val, y_val)``; or ``validation_split`` holds out
        that fraction of ``(X, y)`` (stratified by class for classifiers), drawn from the
        network's seed, so the same seed holds out the same samples at every fit. Either adds
        ``val_loss`` and ``val_accuracy`` (or ``val_r2``) to each epoch's record.

        ``callbacks`` are ``fastnn.callbacks.Callback`` objects (``EarlyStopping``,
        ``ReduceLROnPlateau``, ``ModelCheckpoint``, ``CSVLogger``, ``LearningRateScheduler``).
        With ``target``, training stops after the first epoch whose training ``metric``
        (``"accuracy"``, ``"roc_auc"`` or ``"r2"``; by default accuracy for classifiers, r2
        otherwise) reaches it.

        Every argument is checked before any weight changes, and a network refuses a second
        ``fit`` while one runs in another thread. Returns ``self``.
        """
        with self._exclusively("fit"):
            return self._fit(*self._checked_fit(X, y, validation_data, target, metric,
                                                sample_weight, class_weight, validation_split,
                                                callbacks))

    def _checked_fit(self, X, y, validation_data=None, target=None, metric=None,
                     sample_weight=None, class_weight=None, validation_split=0.0, callbacks=None):
        """``fit``'s arguments and the training settings, every one checked and converted:
        ``(X, y, factors, validation, callbacks, metric, run)``; nothing changes yet."""
        run = self._check_settings()
        settings.check_target(target)
        X, y = self._dataset(X, y)
        weights = check_sample_weight(sample_weight, class_weight, y, self.is_classifier)
        validation = None
        if validation_data is not None:
            if validation_split:
                raise ValueError("give validation_data or validation_split, not both.")
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise ValueError(f"validation_data must be a pair (X_val, y_val), got "
                                 f"{type(validation_data).__name__}.")
            validation = self._dataset(*validation_data)
        elif validation_split:
            X, y, weights, validation = hold_out(validation_split, X, y, weights,
                                                 self.is_classifier,
                                                 settings.generator(self._seed).spawn(1)[0])
        if validation is not None:
            validation = (*validation, self._targets(validation[1]))
        if metric is None and target is not None:
            metric = self._score_name
        if metric is not None:
            metrics.check_metric(metric, self._output, y)
        names = ["loss", "seconds", "lr", *score_names(validation, metric, self._score_name)]
        callbacks = fit_callbacks(callbacks, names, run["lr_schedule"], metric, target)
        factors = sample_factors(weights, len(X), self._dtype)
        return X, y, factors, validation, callbacks, metric, run

    def _fit(self, X, y, factors, validation, callbacks, metric, run, trainer_class=None):
        """Train on arguments and settings ``_checked_fit`` has checked: the optimizer's state
        made ready, a trainer built (of ``trainer_class``, by default the one of the device),
        and the epochs run by ``training.EpochLoop``."""
        trainer_class = trainer_class or get_trainer(run["device"])
        state = optimizers.state_for(self._optimizer_state, run["optimizer"], run["momentum"],
                                     run["nesterov"], self._params.size, self._dtype)
        self._optimizer_state = state
        trainer = trainer_class(
            self._params, self._layout, X, self._targets(y), loss_code=LOSSES[self._loss],
            factors=factors, state=state, optimizer=optimizers.kernel_settings(
                *(run[name] for name in ("optimizer", "momentum", "nesterov", "beta_1",
                                         "beta_2", "epsilon"))),
            **{name: run[name] for name in ("l1", "l2", "batch_size", "n_jobs", "sparse_inputs")})
        EpochLoop(self, trainer, X, y, validation, callbacks, metric, run, self._rng,
                  self._output, self._score_name).fit()
        return self

    def _dataset(self, X, y):
        return check_dataset(X, y, self._sizes[0], self._output, self._sizes[-1], self._dtype)

    def _targets(self, y):
        return encode_targets(y, self._output, self._sizes[-1], self._dtype)

    # ---------------------------------------------------------------- prediction

    def predict_proba(self, X):
        """Output-layer activations, shape ``(n_samples, n_outputs)``: class probabilities
        for a softmax output, per-unit probabilities for sigmoid outputs."""
        return self._outputs(check_inputs(X, self._sizes[0], self._dtype))

    def _outputs(self, X):
        return get_trainer(self.device).predict(self._params, self._layout, X)

    def predict(self, X):
        """Class labels (the most probable class; 0/1 for one sigmoid unit) or, for an
        identity output, the predicted values (1-D for a single output)."""
        return metrics.predictions(self._output, self.predict_proba(X))

    def score(self, X, y):
        """Accuracy for classifiers, the coefficient of determination R² otherwise."""
        X, y = self._dataset(X, y)
        return metrics.metric(self._score_name, self._output, self._outputs(X), y)


def _copy_arrays(state):
    """``state`` (of ``get_state``) with its own C-ordered copies of the arrays."""
    copied = {**state, "params": np.array(state["params"], order="C")}
    if state.get("optimizer_state") is not None:
        arrays = state["optimizer_state"]["arrays"]
        copied["optimizer_state"] = {**state["optimizer_state"], "arrays": {
            name: np.array(array, order="C") for name, array in arrays.items()}}
    return copied


def load(path):
    """The network saved at ``path`` by ``Network.save``; ``ModelFileError`` if the file holds
    none this version can read."""
    return io.load(path, Network.from_state)
