"""The backend seam: ``get_trainer`` and the CPU trainer, built from plain values as every
trainer is, with the tunables it reads from ``fastnn.config`` at each fit."""

import subprocess
import sys

import numba
import numpy as np
import pytest

from fastnn import Network, config, optimizers
from fastnn.backends import get_trainer
from fastnn.backends.cpu import CPUTrainer, nonzero_share
from fastnn.kernels.losses import LOSSES

from .helpers import make_data, mostly_zero


def cpu_trainer(X, batch_size=1, sparse_inputs="auto", n_jobs=None, l2=0.0, optimizer="sgd"):
    """A CPU trainer for a fresh 13-10-3 network on ``X``, with random labels."""
    net = Network([13, 10, 3], seed=0)
    targets = np.eye(3)[np.random.default_rng(0).integers(0, 3, len(X))]
    state = optimizers.state_for(None, optimizer, 0.0, False, net.params.size, net.dtype)
    settings = optimizers.kernel_settings(optimizer, 0.0, False, 0.9, 0.999, 1e-8)
    return CPUTrainer(net.params, net.layout, X, targets, loss_code=LOSSES[net.loss],
                      factors=np.ones(len(X)), optimizer=settings, state=state, l1=0.0, l2=l2,
                      batch_size=batch_size, n_jobs=n_jobs, sparse_inputs=sparse_inputs)


def test_get_trainer_picks_by_device_and_names_the_choices():
    assert get_trainer("cpu") is CPUTrainer
    with pytest.raises(ValueError, match="unknown device 'tpu'; choose from 'cpu'"):
        get_trainer("tpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        Network([3, 2], device="gpu")


@pytest.mark.parametrize("setting, inputs, batch_size, skips", [
    ("auto", "mostly zero", 1, True),
    ("auto", "dense", 1, False),
    (True, "dense", 1, True),
    (False, "mostly zero", 1, False),
    (True, "mostly zero", 32, False),  # only the fused per-sample step skips zero inputs
])
def test_sparse_inputs_setting_chooses_the_first_layer_path(rng, setting, inputs, batch_size,
                                                            skips):
    X = rng.normal(size=(200, 13))
    X = mostly_zero(X) if inputs == "mostly zero" else X
    trainer = cpu_trainer(X, batch_size=batch_size, sparse_inputs=setting)
    assert trainer.sparse_inputs is skips
    assert trainer.first_t.shape == ((13, 10) if skips else (0, 0))


def test_auto_follows_the_density_threshold_in_config(rng, monkeypatch):
    X = mostly_zero(rng.normal(size=(200, 13)), density=0.5)
    assert not cpu_trainer(X).sparse_inputs
    monkeypatch.setattr(config, "SPARSE_INPUTS_MAX_DENSITY", 0.6)
    assert cpu_trainer(X).sparse_inputs


@pytest.mark.parametrize("batch_size", [1, 16])
def test_an_epoch_is_taken_in_chunks_of_the_configured_work(rng, monkeypatch, batch_size):
    X = rng.normal(size=(300, 13))
    params_size = Network([13, 10, 3]).params.size
    monkeypatch.setattr(config, "CHUNK_MULTIPLY_ADDS", 3 * params_size * batch_size * 4)
    with cpu_trainer(X, batch_size=batch_size) as trainer:
        before = trainer.params.copy()
        chunks = list(trainer.epoch(np.arange(300), 0.1))
    size = 4 * batch_size
    assert [chunk.samples for chunk in chunks] == [min(size, 300 - start)
                                                   for start in range(0, 300, size)]
    assert all(chunk.diverged_at is None and chunk.loss > 0 for chunk in chunks)
    assert not np.array_equal(trainer.params, before)  # the network's own vector, in place


def test_zero_skipping_counts_only_the_first_layer_inputs_it_visits_in_a_chunk(rng,
                                                                              monkeypatch):
    X = mostly_zero(rng.normal(size=(300, 13)))
    params_size, first_layer = Network([13, 10, 3]).params.size, 13 * 10
    monkeypatch.setattr(config, "CHUNK_MULTIPLY_ADDS", 3 * params_size * 4)
    dense, sparse = (cpu_trainer(X, sparse_inputs=setting) for setting in (False, True))
    assert dense.chunk == 4
    share = nonzero_share(X)
    assert sparse.chunk == int(4 * params_size / (params_size - (1 - share) * first_layer)) > 4
    with sparse:
        chunks = list(sparse.epoch(np.arange(300), 0.1))
    assert [chunk.samples for chunk in chunks[:-1]] == [sparse.chunk] * (len(chunks) - 1)


@pytest.mark.parametrize("optimizer, batch_size, steps", [("sgd", 1, 20), ("adam", 1, 20),
                                                          ("adam", 5, 4)])
def test_a_diverging_chunk_ends_the_epoch_where_it_happened(rng, optimizer, batch_size, steps):
    X = rng.normal(size=(50, 13))
    X[20, 3] = np.inf  # the trainer takes X as given; Network would have refused it
    with cpu_trainer(X, batch_size=batch_size, optimizer=optimizer) as trainer:
        chunks = list(trainer.epoch(np.arange(50), 0.1))
    assert [(chunk.samples, chunk.diverged_at) for chunk in chunks] == [(20, 20)]
    assert np.isnan(chunks[0].loss)
    assert (trainer.state.steps, trainer.state.samples) == (steps, 20)


def test_min_part_rows_in_config_decides_how_batches_are_cut(monkeypatch):
    X, y, _ = make_data(np.random.default_rng(0), [13, 10, 3], "softmax", n=256)
    serial = Network([13, 10, 3], batch_size=64, epochs=1, seed=0).fit(X, y)
    whole = Network([13, 10, 3], batch_size=64, n_jobs=2, epochs=1, seed=0).fit(X, y)
    np.testing.assert_array_equal(whole.params, serial.params)  # 64 rows: one part
    monkeypatch.setattr(config, "MIN_PART_ROWS", 32)
    halves = Network([13, 10, 3], batch_size=64, n_jobs=2, epochs=1, seed=0).fit(X, y)
    np.testing.assert_allclose(halves.params, serial.params, rtol=0, atol=1e-12)
    assert not np.array_equal(halves.params, serial.params)  # two parts, added: rounding


THREADING_LAYER = """
import sys, numba, numpy as np
from fastnn import Network, config
X = np.random.default_rng(0).normal(size=(600, 5)); y = (X[:, 0] > 0).astype(int)
config.BLOCK_ROWS = 100  # the full batch is then taken in parts, one after another
config.MIN_SPLIT_ROWS = 2  # per-sample n_jobs=2 splits the first layer between two threads
for batch_size in (1, 128, None):
    Network([5, 4, 2], batch_size=batch_size, epochs=1, seed=0).fit(X, y)
Network([5, 4, 2], n_jobs=2, sparse_inputs=False, epochs=1, seed=0).fit(X, y)
if sys.argv[1] == "threads":
    Network([5, 4, 2], batch_size=128, n_jobs=2, epochs=1, seed=0).fit(X, y)
try:
    print(numba.threading_layer())
except ValueError:
    print("not started")
"""


def test_only_threaded_training_starts_numbas_threading_layer():
    """The serial compilation of a threaded kernel never starts the threading layer, which is
    what keeps a process that trains with the default ``n_jobs`` safe to fork; per-sample
    ``n_jobs=2`` runs its second thread as a Python thread, which starts none either."""
    def layer(mode):
        run = subprocess.run([sys.executable, "-c", THREADING_LAYER, mode], check=True,
                             capture_output=True, text=True, timeout=300)
        return run.stdout.strip()

    assert layer("serial") == "not started"
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one Numba thread: n_jobs=2 runs its parts serially, starting nothing")
    assert layer("threads") != "not started"
