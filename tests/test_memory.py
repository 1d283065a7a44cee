"""Arrays on a cache line (``fastnn.memory``): a network's parameter vector and optimizer state
start on one however they were made, and aligning never changes a value."""

import pickle

import numpy as np
import pytest

from fastnn import Network, memory


def misaligned(array):
    """A copy of ``array`` whose data starts 16 bytes past a cache line."""
    buffer = np.empty(array.nbytes + memory.ALIGNMENT + 16, np.uint8)
    start = -buffer.ctypes.data % memory.ALIGNMENT + 16
    copy = buffer[start : start + array.nbytes].view(array.dtype).reshape(array.shape)
    copy[...] = array
    return copy


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [0, 7, (3, 5), (784, 128)])
def test_aligned_empty_and_zeros(dtype, shape):
    for array in (memory.aligned_empty(shape, dtype), memory.aligned_zeros(shape, dtype)):
        assert memory.is_aligned(array) and array.flags.c_contiguous and array.flags.writeable
        assert array.shape == np.empty(shape).shape and array.dtype == dtype
    assert not memory.aligned_zeros(shape, dtype).any()


def test_aligned_keeps_an_aligned_array_and_copies_any_other():
    kept = memory.aligned_zeros(100, np.float64)
    assert memory.aligned(kept) is kept
    values = np.random.default_rng(0).standard_normal((10, 10))
    for array in (misaligned(values), values.T):
        copy = memory.aligned(array)
        assert copy is not array and memory.is_aligned(copy) and copy.flags.c_contiguous
        np.testing.assert_array_equal(copy, array)
    assert not memory.is_aligned(misaligned(values))


def test_network_params_and_optimizer_state_start_on_a_cache_line():
    X = np.random.default_rng(0).random((20, 4))
    y = np.arange(20) % 2
    net = Network([4, 3, 2], optimizer="adam", epochs=1, seed=0)
    assert memory.is_aligned(net.params)
    net.fit(X, y)
    state = net.get_state()
    assert all(memory.is_aligned(array) for array in state["optimizer_state"]["arrays"].values())
    state["params"] = misaligned(state["params"])
    state["optimizer_state"]["arrays"] = {
        name: misaligned(array) for name, array in state["optimizer_state"]["arrays"].items()}
    rebuilt = Network.from_state(state)
    copied = pickle.loads(pickle.dumps(rebuilt))
    for network in (rebuilt, copied):
        assert memory.is_aligned(network.params)
        np.testing.assert_array_equal(network.params, net.params)
        arrays = network.get_state()["optimizer_state"]["arrays"]
        assert all(memory.is_aligned(array) for array in arrays.values())
    rebuilt.fit(X, y)
    net.fit(X, y)
    np.testing.assert_array_equal(rebuilt.params, net.params)
