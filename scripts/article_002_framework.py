"""Article 002, "Create a deep learning framework using NumPy": circles and moons, 2-5-2-1.

What the article did
  Model().add(Linear(2, 5), ReLU, Linear(5, 2), ReLU, Linear(2, 1), Sigmoid) with weights
  and biases uniform on [0, 1) (np.random.rand), binary cross-entropy and full-batch gradient
  descent at lr 0.05 for 9,000 epochs on make_circles(5000, noise=0.04): scikit-learn's
  default factor 0.8, two close rings. It shows the loss curve and the decision boundary,
  and scores roc_auc_score on the predictions thresholded at 0.5: "on average in 10
  different computations" 0.8061. Its data generator also makes moons
  (make_moons(5000, noise=0.05)); the article shows no result for them.

What this script runs
  The same network in fastnn, Network([2, 5, 2, 1], activation="relu", output="sigmoid",
  lr=0.05, batch_size=None, epochs=9000), starting from the article's [0, 1) weights and
  biases (written into net.weights and net.biases, which are views of the parameters), on
  circles and on moons. It reports the AUC on the probabilities and, as the article did, on
  the thresholded predictions. 9,000 full-batch epochs of 5,000 points take 10-20 s per
  data set here, so one seed is run; --runs 10 averages 10 seeds as the article did.
  Then the same network per sample (batch_size=1, lr 0.05, 100 epochs) from 10 seeds, with
  the mean of their thresholded AUCs: such a small ReLU network sometimes dies (all its
  ReLUs off, AUC 0.5), which is what an average over seeds shows.

The article's bugs, and what we did instead
  * Linear.backward takes the bias gradient as dA.mean(axis=1), where dA is already divided
    by the number of points (BinaryCrossEntropy.backward): the biases learn 5,000 times too
    slowly, hardly at all. This is what holds the article at 0.806: its code transcribed to
    NumPy averages 0.777 (thresholded, 10 seeds); with the bias gradient summed, 0.941.
    fastnn's biases get their true gradient.
  * BinaryCrossEntropy takes log(0) once a prediction saturates (hence its np.nansum); fastnn
    clips the probabilities and uses the stable sigmoid form.
  * MeanSquaredError.backward returns the mean error, a scalar, not a gradient per point
    (unused in the article's runs); generate_data compares strings with "is".
  * An AUC of 0/1 predictions is balanced accuracy, not a ranking score: both are reported.

Run:  python scripts/article_002_framework.py [--runs N] [--quick] [--out FOLDER]
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

import _common
from fastnn import Network
from fastnn.datasets import make_circles, make_moons
from fastnn.plotting import plot_decision_regions, plot_history

NAME = "article_002_framework"
SIZES, LR = [2, 5, 2, 1], 0.05


def add_options(parser):
    parser.add_argument("--runs", type=int, default=1, metavar="N",
                        help="seeds to average the full-batch runs over (the article: 10; "
                             "default: %(default)s)")


def network(seed, batch_size, epochs, verbose=False):
    """The article's 2-5-2-1 from its initial weights: uniform on [0, 1), biases too."""
    net = Network(SIZES, activation="relu", output="sigmoid", lr=LR, epochs=epochs,
                  batch_size=batch_size, shuffle=batch_size == 1, seed=seed, verbose=verbose)
    rng = np.random.default_rng(seed)
    for weights, biases in zip(net.weights, net.biases):
        weights[...] = rng.random(weights.shape)
        biases[...] = rng.random(biases.shape)
    return net


def aucs(net, X, y):
    """ROC AUC on the probabilities, and on the predictions thresholded at 0.5."""
    proba = net.predict_proba(X)[:, 0]
    return float(roc_auc_score(y, proba)), float(roc_auc_score(y, proba >= 0.5))


def train_seeds(X, y, seeds, batch_size, epochs, verbose=False):
    """Networks trained from each seed, with their (AUC, thresholded AUC)."""
    nets = [network(seed, batch_size, epochs, verbose).fit(X, y) for seed in seeds]
    return nets, np.array([aucs(net, X, y) for net in nets])


def main(argv=None, show_table=True):
    args = _common.options(__doc__, NAME, argv, extra=add_options)
    if args.runs < 1:
        _common.fail(f"--runs must be at least 1, got {args.runs}")
    run = _common.Run(args, "002", "Create a deep learning framework using NumPy")
    n = 1000 if args.quick else 5000
    full_epochs, sample_epochs, seeds = (300, 10, 3) if args.quick else (9000, 100, 10)
    data = {"circles": make_circles(n, noise=0.04, factor=0.8, random_state=0),
            "moons": make_moons(n, noise=0.05, random_state=0)}
    results, shown = {}, {}
    for name, (X, y) in data.items():
        article = "thresholded AUC 0.806 (mean of 10)" if name == "circles" else "-"
        runs = "" if args.runs == 1 else f", mean of {args.runs} seeds"
        with run.row(f"{name}: full batch, {full_epochs} epochs{runs}", article) as row:
            nets, scores = train_seeds(X, y, range(args.runs), None, full_epochs,
                                       verbose=not args.quick)
            auc, thresholded = scores.mean(axis=0)
            row.ours = f"AUC {auc:.3f}, thresholded {thresholded:.3f}"
        shown[f"{name}, full batch, seed 0"] = nets[0], X, y
        with run.row(f"{name}: per sample, {sample_epochs} epochs, {seeds} seeds", "-") as row:
            nets, per_sample = train_seeds(X, y, range(seeds), 1, sample_epochs)
            dead = int(np.sum(per_sample[:, 0] == 0.5))
            row.ours = (f"thresholded AUC {per_sample[:, 1].mean():.3f} (mean), "
                        f"{np.median(per_sample[:, 1]):.3f} (median); {dead} dead")
        median = int(np.argsort(per_sample[:, 1])[len(nets) // 2])
        shown[f"{name}, per sample, seed {median} (median)"] = nets[median], X, y
        results.update({f"{name}_auc": auc, f"{name}_auc_thresholded": thresholded,
                        f"{name}_per_sample_auc_thresholded": per_sample[:, 1].tolist(),
                        f"{name}_per_sample_auc": per_sample[:, 0].tolist()})

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for ax, (name, (net, _, _)) in zip(axes, list(shown.items())[::2]):
        plot_history(net.history, keys=["loss"], ax=ax).get_legend().remove()
        ax.set_yscale("log")
        ax.set_title(f"{name}: binary cross-entropy per epoch")
    run.figure("loss", fig)
    fig, axes = plt.subplots(2, 2, figsize=(12, 10), layout="constrained")
    for ax, (name, (net, X, y)) in zip(axes.flat, shown.items()):
        plot_decision_regions(net, X, y, ax=ax, resolution=150)
        ax.set_title(f"{name}: AUC {aucs(net, X, y)[0]:.3f}")
    run.figure("regions", fig)

    return run.finish(show_table, **results, full_batch_epochs=full_epochs, runs=args.runs,
                      per_sample_epochs=sample_epochs, lr=LR,
                      source=f"scikit-learn make_circles({n}, noise=0.04, factor=0.8, "
                             f"random_state=0), make_moons({n}, noise=0.05, random_state=0)")


if __name__ == "__main__":
    main()
