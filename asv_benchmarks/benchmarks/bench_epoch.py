"""Training speed and memory: one epoch over 5,000 samples, per-sample and mini-batch, plain SGD
and the other optimizers.

Each ``setup`` fits once on a few rows, so the timed ``fit`` never includes Numba's compile
(or its load from the on-disk cache); ``bench_compile`` times that on its own. ``fit``
continues from the current weights, which changes nothing in the work an epoch does.
"""

from .common import Benchmark, make_network

DIGITS_NETWORK = "784-128-64-10"


class _Fit(Benchmark):
    """Compiles in ``setup``; subclasses choose the network through their ``params``."""

    def _prepare(self, datasets, sizes, dtype, batch_size, n_jobs=None, **settings):
        self.network, self.X, self.y = make_network(datasets, sizes, dtype, batch_size, n_jobs,
                                                    **settings)
        self.network.fit(self.X[:10], self.y[:10])


class _Epoch(_Fit):
    """Times one epoch of the network a subclass's ``setup`` prepares, whatever its params."""

    def time_epoch(self, datasets, *params):
        self.network.fit(self.X, self.y)


class EpochPerSample(_Epoch):
    """Per-sample SGD, the articles' algorithm: one update per sample."""

    params = ([DIGITS_NETWORK, "784-32-10", "2-9-6-1"], ["float32", "float64"])
    param_names = ["sizes", "dtype"]

    def setup(self, datasets, sizes, dtype):
        self._prepare(datasets, sizes, dtype, batch_size=1)

class EpochPerSampleDenseInputs(_Epoch):
    """Per-sample SGD on the digits shifted off zero (``0.98 x + 0.01``): with no zero input,
    the first layer takes the loop over every input, which ``EpochPerSample`` skips on the
    digits (81% of their pixels are zero)."""

    params = ["float32", "float64"]
    param_names = ["dtype"]

    def setup(self, datasets, dtype):
        self._prepare(datasets, DIGITS_NETWORK, dtype, batch_size=1)
        self.X = self.X * self.X.dtype.type(0.98) + self.X.dtype.type(0.01)

class EpochPerSampleTwoCores(EpochPerSampleDenseInputs):
    """``EpochPerSampleDenseInputs`` with ``n_jobs=2``: the first layer's rows split between
    two threads that meet twice per sample, with the weights of one thread."""

    def setup(self, datasets, dtype):
        self._prepare(datasets, DIGITS_NETWORK, dtype, batch_size=1, n_jobs=2,
                      sparse_inputs=False)
        self.X = self.X * self.X.dtype.type(0.98) + self.X.dtype.type(0.01)


class EpochMiniBatch(_Epoch):
    """Mini-batch SGD on the digits network: one mean-gradient step per batch."""

    params = ([32, 128], ["float32", "float64"])
    param_names = ["batch_size", "dtype"]

    def setup(self, datasets, batch_size, dtype):
        self._prepare(datasets, DIGITS_NETWORK, dtype, batch_size)

class EpochMiniBatchThreads(_Epoch):
    """``EpochMiniBatch`` with ``n_jobs=-1``: each batch cut into one part per core, the parts'
    gradients computed side by side, then the step taken a chunk of the vector per core."""

    params = ["float32", "float64"]
    param_names = ["dtype"]

    def setup(self, datasets, dtype):
        self._prepare(datasets, DIGITS_NETWORK, dtype, batch_size=128, n_jobs=-1)

class EpochOptimizer(_Epoch):
    """Momentum, Nesterov momentum and Adam on the digits network in float32, per sample (over
    every input: their state moves even where an input is zero) and in batches of 128."""

    params = (["momentum", "nesterov", "adam"], [1, 128])
    param_names = ["optimizer", "batch_size"]
    SETTINGS = {"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True},
                "adam": {"optimizer": "adam"}}

    def setup(self, datasets, optimizer, batch_size):
        self._prepare(datasets, DIGITS_NETWORK, "float32", batch_size,
                      **self.SETTINGS[optimizer])

class FitMemory(_Fit):
    """Peak memory of the process around one float32 epoch of the digits network.

    asv's figure is the process's peak resident size, so it includes Python, NumPy, Numba
    and the data; it catches a fit that starts allocating per sample or per batch.
    """

    params = [1, 128]
    param_names = ["batch_size"]

    def setup(self, datasets, batch_size):
        self._prepare(datasets, DIGITS_NETWORK, "float32", batch_size)

    def peakmem_fit(self, datasets, batch_size):
        self.network.fit(self.X, self.y)
