"""With ``NUMBA_DISABLE_JIT=1`` every kernel runs as plain Python, intrinsics included: that is
how stumpy measures coverage and how one steps through a kernel in a debugger. The oracle,
kernel, gradient and divergence tests pass that way too, in a process of their own (the
variable is read when Numba is imported)."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = ["test_oracle.py", "test_kernels.py", "test_gradients.py", "test_sparse_inputs.py",
           "test_exponential.py", "test_faults.py"]


def test_the_kernel_tests_pass_with_numba_disabled():
    # The interruption test trains for seconds compiled, which is many minutes as Python. The
    # CUDA backend's cases run in Numba's simulator, plain Python already, whether the JIT is
    # disabled or not: the main run has run them.
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k",
         "not test_interrupted_fit and not cuda", *(f"tests/{name}" for name in MODULES)],
        cwd=ROOT, env={**os.environ, "NUMBA_DISABLE_JIT": "1"}, capture_output=True,
        text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
