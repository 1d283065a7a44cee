"""``fastnn.vector_width``: the ``NUMBA_CPU_FEATURES`` value that lets Numba use 512-bit vectors,
and the per-sample kernels compiled with it, which must still match the oracle."""

import os
import pathlib
import subprocess
import sys

import pytest
from llvmlite import binding

from fastnn.vector_width import allows_512_bit_vectors, wide_vector_features

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOST_FEATURES = binding.get_host_cpu_features().flatten()


def test_turns_the_256_bit_preference_off_where_the_cpu_has_avx512():
    assert wide_vector_features("+sse2,+avx512f,+fma") == "+sse2,+avx512f,+fma,-prefer-256-bit"
    assert wide_vector_features("+avx512f,+prefer-256-bit,+fma") == "+avx512f,+fma,-prefer-256-bit"


def test_leaves_cpus_without_avx512_as_they_are():
    assert wide_vector_features("+sse2,+avx2,-avx512f,+fma") == "+sse2,+avx2,-avx512f,+fma"


def test_reads_which_setting_allows_512_bit_vectors():
    assert allows_512_bit_vectors(wide_vector_features("+avx2,+avx512f"))
    assert not allows_512_bit_vectors("+avx2,+avx512f")
    assert not allows_512_bit_vectors("+avx2,-avx512f,-prefer-256-bit")
    assert not allows_512_bit_vectors(None)


def test_the_module_prints_the_hosts_setting():
    printed = subprocess.run([sys.executable, "-m", "fastnn.vector_width"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert printed == wide_vector_features() + "\n"
    assert set(HOST_FEATURES.split(",")) - set(printed.split(",")) <= {"+prefer-256-bit"}


@pytest.mark.skipif("+avx512f" not in HOST_FEATURES.split(","),
                    reason="this CPU has no AVX-512: the setting changes nothing here")
def test_per_sample_kernels_with_512_bit_vectors_match_the_oracle(tmp_path):
    # Compiled into a cache of its own: a fresh compile of the per-sample path, dense and
    # zero-skipping, on one core and two.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k",
         "mostly_zero or (float64 and 1-None and cpu) or give_the_weights_of_one",
         "tests/test_oracle.py", "tests/test_two_cores.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "NUMBA_CPU_FEATURES": wide_vector_features(),
             "NUMBA_CACHE_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
