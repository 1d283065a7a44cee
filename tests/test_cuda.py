"""The CUDA backend (fastnn/cuda/) against the CPU backend and the oracle.

Without a GPU these run under Numba's CUDA simulator, which ``make test`` turns on
(``NUMBA_ENABLE_CUDASIM=1``); the ``cuda_device`` fixture shrinks the blocks and tiles so that
tiny networks still spread over several blocks with ragged edges. The shared tests that take
the ``backend`` fixture run on this backend too.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from numba import cuda

from fastnn import (
    DeviceMemoryError,
    DivergenceError,
    Network,
    callbacks,
    naive,
    train_many,
)
from fastnn.kernels.activations import RELU, SIGMOID, SOFTMAX, TANH
from fastnn.kernels.optimizers import (
    ADAM,
    MOMENTUM,
    NESTEROV,
    SGD,
    new_rates,
    set_step,
)

from .helpers import SIMULATOR_ROWS

pytestmark = pytest.mark.usefixtures("cuda_device")

OPTIMIZERS = {"sgd": {}, "momentum": dict(momentum=0.9), "nesterov": dict(momentum=0.9,
                                                                          nesterov=True),
              "adam": dict(optimizer="adam", lr=0.01)}


def data(rng, n_in=5, n_classes=3):
    X = rng.normal(size=(SIMULATOR_ROWS, n_in))
    return X, rng.integers(0, n_classes, SIMULATOR_ROWS)


def cpu_and_cuda(X, y, fit=None, **settings):
    """The same network fitted on each backend from the same weights and seed."""
    fit = fit or {}
    return [Network(**settings, device=device).fit(X, y, **fit) for device in ("cpu", "cuda")]


def assert_agree(cpu, gpu, label, atol=1e-10):
    difference = np.abs(cpu.params - gpu.params).max()
    print(f"CUDA | {label} | largest weight difference {difference:.2e}")
    assert difference <= atol
    np.testing.assert_allclose(gpu.history["loss"], cpu.history["loss"], rtol=max(atol, 1e-10))
    assert not np.array_equal(gpu.params, Network(**gpu.get_state()["settings"]).params)


@pytest.mark.parametrize("batch_size", [1, 8, None])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_with_penalties_and_weights_matches_the_cpu(rng, optimizer, batch_size):
    X, y = data(rng)
    settings = dict(sizes=[5, 6, 4, 3], activation="tanh", epochs=2, seed=1, l1=1e-3, l2=1e-2,
                    batch_size=batch_size, **OPTIMIZERS[optimizer])
    cpu, gpu = cpu_and_cuda(X, y, fit=dict(sample_weight=rng.uniform(0.5, 2.0, len(X))),
                            **settings)
    assert_agree(cpu, gpu, f"{optimizer}, batch_size={batch_size}, l1, l2, sample weights")


@pytest.mark.parametrize("batch_size", [1, 8])
def test_float32_matches_the_cpu_to_its_precision(rng, batch_size):
    X, y = data(rng)
    cpu, gpu = cpu_and_cuda(X, y, sizes=[5, 6, 3], epochs=2, seed=0, dtype="float32",
                            batch_size=batch_size, optimizer="adam", lr=0.01)
    assert gpu.params.dtype == np.float32
    assert_agree(cpu, gpu, f"float32 adam, batch_size={batch_size}", atol=1e-5)


def test_validation_and_prediction_on_the_device_match_the_cpu(rng):
    """Taken in blocks of ``config.CUDA_BLOCK_ROWS`` rows (20 here): several blocks."""
    X, y = data(rng)
    fit = dict(validation_data=(X[::2], y[::2]), metric="accuracy")
    cpu, gpu = cpu_and_cuda(X, y, fit=fit, sizes=[5, 6, 3], epochs=2, seed=0, batch_size=4)
    for key in ("val_loss", "val_accuracy", "accuracy"):
        np.testing.assert_allclose(gpu.history[key], cpu.history[key], rtol=1e-10)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=0, atol=1e-12)


def test_weights_written_by_a_callback_between_epochs_are_trained_on(rng):
    class ZeroFirstBiases(callbacks.Callback):
        def on_epoch_end(self, epoch, logs, network):
            network.biases[0][...] = 0.0

    X, y = data(rng)
    cpu, gpu = cpu_and_cuda(X, y, fit=dict(callbacks=[ZeroFirstBiases()]), sizes=[5, 4, 3],
                            epochs=2, seed=0)
    assert_agree(cpu, gpu, "a callback's weights between epochs")
    assert not gpu.biases[0].any()


def test_train_many_on_the_gpu_gives_each_network_its_own_fit(rng):
    """Per-sample networks of one layout share launches (one block each), whatever their
    optimizer, seed or rate; a mini-batch network and one of another shape train alone."""
    X, y = data(rng)
    specs = [dict(sizes=[5, 6, 3], seed=0), dict(sizes=[5, 6, 3], seed=1, lr=0.3),
             dict(sizes=[5, 6, 3], seed=2, optimizer="adam", lr=0.01),
             dict(sizes=[5, 6, 3], seed=3, momentum=0.5, epochs=1),
             dict(sizes=[5, 6, 3], seed=4, batch_size=8), dict(sizes=[5, 4, 4, 3], seed=5)]
    specs = [{"epochs": 2, **spec} for spec in specs]
    many = train_many([Network(**spec) for spec in specs], X, y, device="cuda",
                      validation_data=(X[:10], y[:10]))
    for spec, gpu in zip(specs, many):
        cpu = Network(**spec).fit(X, y, validation_data=(X[:10], y[:10]))
        assert_agree(cpu, gpu, f"train_many, {spec}")
        np.testing.assert_allclose(gpu.history["val_loss"], cpu.history["val_loss"], rtol=1e-10)
        assert gpu.device == "cpu"  # the call's device, not the network's setting


def test_train_many_on_the_gpu_lets_the_others_finish_when_one_diverges(rng):
    X = rng.normal(size=(SIMULATOR_ROWS, 5))
    y = X @ rng.normal(size=5)
    specs = [dict(sizes=[5, 6, 1], activation="relu", output="identity", seed=0, lr=lr,
                  epochs=2) for lr in (1e-3, 1e3)]
    nets = [Network(**spec) for spec in specs]
    with pytest.raises(DivergenceError, match="diverged in epoch 1") as raised:
        train_many(nets, X, y, device="cuda")
    assert "1 of 2 fits failed (networks 1)" in raised.value.__notes__[-1]
    assert_agree(Network(**specs[0]).fit(X, y), nets[0], "train_many beside a diverging network")
    np.testing.assert_array_equal(nets[1].params, Network(**specs[1]).params)  # restored


def _device_values(kernel, *arrays):
    """Run a one-thread-per-element wrapper ``kernel`` over host ``arrays``; the device's
    results as host arrays."""
    device = [cuda.to_device(array) for array in arrays]
    kernel[1, len(arrays[0])](*device)
    return [array.copy_to_host() for array in device]


@pytest.mark.parametrize("code, name", [(SIGMOID, "sigmoid"), (TANH, "tanh"), (RELU, "relu"),
                                        (0, "identity")])
def test_activation_and_derivative_device_functions_match_the_oracle(code, name):
    from fastnn.cuda.device import _gpu_activation, _gpu_scaled_by_derivative

    @cuda.jit
    def apply(z, a, d):
        i = cuda.grid(1)
        a[i] = _gpu_activation(z[i], code)
        d[i] = _gpu_scaled_by_derivative(1.5, a[i], code)

    z = np.array([-800.0, -3.0, -1e-3, 0.0, 2e-3, 4.0, 750.0])
    _, a, d = _device_values(apply, z, np.empty_like(z), np.empty_like(z))
    np.testing.assert_allclose(a, naive.ACTIVATIONS[name](z), rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(d, 1.5 * naive.DERIVATIVES[name](a), rtol=1e-15)


@pytest.mark.parametrize("output, loss", [("softmax", "cross_entropy"),
                                          ("sigmoid", "binary_cross_entropy"),
                                          ("identity", "squared_error"),
                                          ("softmax", "squared_error"),
                                          ("sigmoid", "squared_error")])
def test_loss_and_delta_device_function_matches_the_oracle(rng, output, loss):
    from fastnn.cuda.device import _gpu_activation, _gpu_loss_and_delta, _gpu_softmax
    from fastnn.kernels.activations import OUTPUT_ACTIVATIONS
    from fastnn.kernels.losses import LOSSES

    out_code, loss_code = OUTPUT_ACTIVATIONS[output], LOSSES[loss]

    @cuda.jit
    def one_row(z, a, y, delta, losses):
        if out_code == SOFTMAX:
            _gpu_softmax(z, a, z.size)
        else:
            for k in range(z.size):
                a[k] = _gpu_activation(z[k], out_code)
        losses[0] = _gpu_loss_and_delta(z, a, y, z.size, out_code, loss_code, delta, 0.5, 1e-16)

    z = rng.normal(size=3) * 3
    y = np.eye(3)[1] if output == "softmax" else rng.uniform(size=3)
    d_arrays = [cuda.to_device(array) for array in (z, np.empty(3), y, np.empty(3),
                                                    np.empty(1))]
    one_row[1, 1](*d_arrays)
    a, delta, losses = (d_arrays[k].copy_to_host() for k in (1, 3, 4))
    expected_a = naive.ACTIVATIONS[output](z)
    np.testing.assert_allclose(a, expected_a, rtol=1e-14)
    np.testing.assert_allclose(delta, 0.5 * naive.output_delta(output, loss, expected_a, y),
                               rtol=1e-13, atol=1e-16)
    assert losses[0] == pytest.approx(naive.sample_loss(expected_a, y, loss), rel=1e-13)


@pytest.mark.parametrize("code, oracle", [
    (SGD, naive.SGD), (MOMENTUM, lambda: naive.SGD(momentum=0.9)),
    (NESTEROV, lambda: naive.SGD(momentum=0.9, nesterov=True)), (ADAM, naive.Adam),
])
def test_optimizer_step_device_function_matches_the_oracle(rng, code, oracle):
    from fastnn.cuda.device import _gpu_updated

    @cuda.jit
    def step(w, g, m, v, rates):
        i = cuda.grid(1)
        w[i] = _gpu_updated(code, w[i], g[i], m, v, i, rates)

    w = rng.normal(size=16)
    expected, optimizer = w.copy(), oracle()
    m, v = np.zeros(16), np.zeros(16)
    rates = new_rates(np.dtype(np.float64), 0.05, 0.9, 0.9, 0.999, 1e-8)
    for t in range(1, 4):
        g = rng.normal(size=16)
        set_step(rates, t)
        w, _, m, v, _ = _device_values(step, w, g, m, v, rates)
        optimizer.step([expected], [g], 0.05)
    np.testing.assert_allclose(w, expected, rtol=1e-13)


def test_too_little_gpu_memory_is_refused_with_the_network_unchanged(rng, monkeypatch):
    from fastnn.cuda import trainer

    monkeypatch.setattr(trainer, "free_device_memory", lambda: 1000)
    X, y = data(rng)
    net = Network([5, 6, 3], seed=0, device="cuda")
    before = net.params.copy()
    with pytest.raises(DeviceMemoryError, match=r"needs .* MiB of GPU memory and 0.0 MiB are"):
        net.fit(X, y)
    np.testing.assert_array_equal(net.params, before)
    assert net.history["loss"] == [] and net.get_state()["optimizer_state"]["steps"] == 0
    with pytest.raises(DeviceMemoryError, match=f"predicting {SIMULATOR_ROWS} rows"):
        net.predict(X)


def test_bad_input_is_refused_as_on_the_cpu_before_anything_is_copied(rng, monkeypatch):
    from fastnn.cuda import trainer

    def copied(*args, **kwargs):
        raise AssertionError("copied to the device")

    monkeypatch.setattr(trainer, "DeviceNetworks", copied)
    X, y = data(rng)
    X[3, 1] = np.nan
    messages = []
    for device in ("cpu", "cuda"):
        with pytest.raises(ValueError) as refused:
            Network([5, 6, 3], device=device).fit(X, y)
        messages.append(str(refused.value))
    assert messages[0] == messages[1] and "NaN" in messages[0]
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        train_many([Network([5, 6, 3])], X, y, device="tpu")


def test_the_default_never_imports_cuda():
    script = ("import sys, numpy as np, fastnn; "
              "fastnn.Network([3, 2], seed=0).fit(np.ones((4, 3)), [0, 1, 0, 1]); "
              "print(sorted(m for m in sys.modules if m.startswith(('numba.cuda', 'fastnn.cuda'))))")
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_ENABLE_CUDASIM"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env=env, timeout=300)
    assert run.stdout.strip() == "[]"


def test_without_a_gpu_or_the_simulator_cuda_is_refused_with_how_to_install():
    script = ("import numpy as np, fastnn\n"
              "from fastnn.backends import cuda_status\n"
              "if cuda_status() is None: print('a GPU is here'); raise SystemExit\n"
              "try: fastnn.Network([3, 2], device='cuda').fit(np.ones((4, 3)), [0, 1, 0, 1])\n"
              "except fastnn.DeviceUnavailableError as error: print(error)\n")
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_ENABLE_CUDASIM"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env=env, timeout=300)
    if run.stdout.strip() == "a GPU is here":
        pytest.skip("this machine has a GPU: there is no refusal to see")
    assert "device='cuda' cannot run" in run.stdout
    assert "pip install 'fastnn-numba[cuda]'" in run.stdout
