"""Several independent networks: ``fastnn.train_many`` against fitting them one by one.

Four per-sample copies of the digits network, one epoch each. ``train_many``
runs them on all cores; the ratio of the two timings is its speed-up on this machine.
Commits from before ``train_many`` existed are skipped (asv shows n/a), not failed.
"""

import fastnn

from .bench_epoch import DIGITS_NETWORK
from .common import Benchmark, make_network

N_NETWORKS = 4


class TrainMany(Benchmark):
    params = ["float32", "float64"]
    param_names = ["dtype"]

    def setup(self, datasets, dtype):
        if not hasattr(fastnn, "train_many"):
            raise NotImplementedError("fastnn.train_many is newer than this commit")
        prepared = [make_network(datasets, DIGITS_NETWORK, dtype) for _ in range(N_NETWORKS)]
        self.networks = [network for network, _, _ in prepared]
        _, self.X, self.y = prepared[0]
        fastnn.train_many(self.networks, self.X[:10], self.y[:10])

    def time_one_after_another(self, datasets, dtype):
        for network in self.networks:
            network.fit(self.X, self.y)

    def time_train_many(self, datasets, dtype):
        fastnn.train_many(self.networks, self.X, self.y)
