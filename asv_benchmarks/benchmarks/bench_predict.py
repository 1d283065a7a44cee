"""Prediction speed: class probabilities for 5,000 digits from the 784-128-64-10 network."""

from .common import Benchmark, make_network


class PredictProba(Benchmark):
    """``predict_proba`` over 5,000 rows; ``setup`` predicts a few rows first to compile."""

    params = ["float32", "float64"]
    param_names = ["dtype"]

    def setup(self, datasets, dtype):
        self.network, self.X, _ = make_network(datasets, "784-128-64-10", dtype)
        self.network.predict_proba(self.X[:10])

    def time_predict_proba(self, datasets, dtype):
        self.network.predict_proba(self.X)
