"""Record a fixed set of fits through fastnn's public API, or compare them with a recording.

A refactor that means to change no number runs this at the commit it starts from and again at
its end: 336 three-epoch fits of a 13-10-7-k network, for every hidden activation, every
output and loss pair, float64 and float32, per-sample SGD over dense and mostly-zero inputs,
per-sample with l2, mini-batch 32 with l1 and l2, full batch, batch 128 and a 2,500-row full
batch with n_jobs=2. Each fit's parameters, training and validation losses and predicted
probabilities are kept (1,344 arrays).

    python scripts/record_fits.py before.npz                      # at the starting commit
    python scripts/record_fits.py after.npz --compare before.npz  # at the end
"""

import argparse
import itertools

import numpy as np

from fastnn import Network

HIDDEN = ["identity", "sigmoid", "tanh", "relu"]
HEADS = [("softmax", "cross_entropy", 3), ("sigmoid", "binary_cross_entropy", 1),
         ("sigmoid", "binary_cross_entropy", 3), ("identity", "squared_error", 2),
         ("softmax", "squared_error", 3), ("sigmoid", "squared_error", 3)]
PATHS = {
    "ps_dense": dict(batch_size=1),
    "ps_sparse": dict(batch_size=1, sparse=True),
    "mb32_l1l2": dict(batch_size=32, l1=1e-3, l2=1e-2),
    "ps_l2": dict(batch_size=1, l2=1e-2),
    "full": dict(batch_size=None),
    "mb128_jobs2": dict(batch_size=128, n_jobs=2),
    "full_jobs2_big": dict(batch_size=None, n_jobs=2, n=2500),
}


def data(n, n_out, output, sparse):
    """Inputs (mostly zero when ``sparse``) and labels or values, from a fixed seed."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 13))
    if sparse:
        X = np.where(rng.random(X.shape) < 0.15, X, 0.0)
    if output == "identity":
        return X, rng.normal(size=(n, n_out))
    return X, rng.integers(0, 2 if n_out == 1 else n_out, n)


def fit(activation, output, loss, n_out, dtype, path):
    """One recorded fit: its arrays by name."""
    settings = dict(PATHS[path])
    sparse, n = settings.pop("sparse", False), settings.pop("n", 600)
    X, y = data(n, n_out, output, sparse)
    lr = 0.01 if output == "identity" or activation in ("identity", "relu") else 0.05
    net = Network([13, 10, 7, n_out], activation=activation, output=output, loss=loss, lr=lr,
                  epochs=3, seed=3, dtype=dtype, **settings)
    net.fit(X[:500], y[:500], validation_data=(X[500:], y[500:]))
    return {"params": net.params.astype(np.float64), "loss": np.array(net.history["loss"]),
            "val_loss": np.array(net.history["val_loss"]),
            "proba": net.predict_proba(X[500:]).astype(np.float64)}


def record():
    """Every fit's arrays, keyed ``case/array``."""
    arrays = {}
    for activation, (output, loss, n_out), dtype, path in itertools.product(
            HIDDEN, HEADS, ["float64", "float32"], PATHS):
        case = f"{activation}-{output}-{loss}-{n_out}-{dtype}-{path}"
        for name, array in fit(activation, output, loss, n_out, dtype, path).items():
            arrays[f"{case}/{name}"] = array
    return arrays


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="where to write this commit's recording (.npz)")
    parser.add_argument("--compare", metavar="RECORDING", help="an earlier recording")
    args = parser.parse_args()
    arrays = record()
    np.savez(args.out, **arrays)
    print(f"{len(arrays)} arrays recorded in {args.out}")
    if args.compare:
        with np.load(args.compare) as earlier:
            if set(earlier.files) != set(arrays):
                raise SystemExit("error: the recordings hold different fits")
            same = sum(np.array_equal(earlier[name], arrays[name], equal_nan=True)
                       for name in arrays)
            worst = max(float(np.nanmax(np.abs(earlier[name] - arrays[name])))
                        for name in arrays if "float64" in name)
        print(f"{same} of {len(arrays)} arrays bit-identical to {args.compare}; "
              f"largest float64 difference {worst:.3g}")


if __name__ == "__main__":
    main()
