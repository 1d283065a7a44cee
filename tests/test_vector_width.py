"""``fastnn.vector_width``: every fastnn kernel asks LLVM for 512-bit vectors, and gets them on
a CPU with AVX-512. (That the kernels compiled so still match the oracle is the rest of the
suite's business: it runs them.)"""

import numba
import numpy as np
import pytest
from llvmlite import binding

from fastnn import config
from fastnn.vector_width import ATTRIBUTE

HOST_HAS_AVX512 = "+avx512f" in binding.get_host_cpu_features().flatten().split(",")
NUMBA_TARGETS_THE_HOST = not (numba.config.CPU_NAME or numba.config.CPU_FEATURES)


def scale_into(x, out, factor):
    for i in range(x.size):
        out[i] = factor * x[i]


def scale_rows_into(x, out, factor):
    for r in numba.prange(x.shape[0]):
        for i in range(x.shape[1]):
            out[r, i] = factor * x[r, i]


@pytest.fixture
def fresh_compiles(monkeypatch):
    """Kernels decorated from here on compile afresh: Numba inspects no code it loads from
    its cache."""
    monkeypatch.setattr(config, "CACHE", False)


def compiled(decorator, func, *args):
    dispatcher = decorator(func)
    dispatcher(*args)
    return dispatcher


def arrays(shape):
    return np.ones(shape, np.float32), np.empty(shape, np.float32), np.float32(2.0)


@pytest.mark.usefixtures("fresh_compiles")
@pytest.mark.parametrize("decorator", [config.kernel, config.exact_kernel],
                         ids=["kernel", "exact_kernel"])
def test_kernels_carry_the_attribute(decorator):
    dispatcher = compiled(decorator, scale_into, *arrays(64))
    (llvm_ir,) = dispatcher.inspect_llvm().values()
    assert ATTRIBUTE in llvm_ir
    assert ATTRIBUTE not in next(iter(compiled(numba.njit, scale_into, *arrays(64))
                                      .inspect_llvm().values()))


@pytest.mark.usefixtures("fresh_compiles")
def test_parallel_kernels_carry_it_too():
    dispatcher = compiled(config.parallel_kernel, scale_rows_into, *arrays((4, 64)))
    (llvm_ir,) = dispatcher.inspect_llvm().values()
    assert ATTRIBUTE in llvm_ir


@pytest.mark.skipif(not (HOST_HAS_AVX512 and NUMBA_TARGETS_THE_HOST),
                    reason="only a CPU with AVX-512, compiled for as itself, has 512-bit vectors")
def test_kernels_use_512_bit_registers_on_avx512():
    assert config.kernel_vector_bits() == 512
