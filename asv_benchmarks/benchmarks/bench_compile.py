"""Start-up cost: ``import fastnn`` plus the first fit of a tiny network, in a fresh process.

The other benchmarks keep compile time out of their timings; these time it on its own, as a
user meets it. Each run is a new Python process whose ``NUMBA_CACHE_DIR`` points either at
an empty directory (everything compiled) or at one filled by an earlier process (Numba's
on-disk cache at work, what every run after the first sees). Nothing is subtracted: the
figures include interpreter start-up and the imports of NumPy, Numba and scikit-learn.
"""

import os
import shutil
import subprocess
import sys
import tempfile

FIRST_FIT = """
import numpy as np
import fastnn
X = np.random.default_rng(0).random((8, 2))
fastnn.Network([2, 3, 1], epochs=1, seed=0).fit(X, (X[:, 0] > X[:, 1]).astype(int))
"""


def first_fit(cache_dir):
    """Run ``FIRST_FIT`` in a new interpreter with Numba's cache in ``cache_dir``."""
    subprocess.run([sys.executable, "-c", FIRST_FIT], check=True,
                   env={**os.environ, "NUMBA_CACHE_DIR": cache_dir})


class FirstCall:
    """One process per timed call (``number = 1``); no warm-up call, which would fill the
    empty cache before it is timed."""

    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0
    timeout = 300

    def setup_cache(self):
        """A cache filled by one process. asv runs this in a scratch directory that it
        deletes after the benchmarks that use it."""
        warm = os.path.abspath("numba-cache")
        first_fit(warm)
        return warm

    def setup(self, warm):
        self.empty = tempfile.mkdtemp(prefix="fastnn-numba-cache-")

    def teardown(self, warm):
        shutil.rmtree(self.empty)

    def time_first_call(self, warm):
        first_fit(self.empty)

    def time_first_call_cached(self, warm):
        first_fit(warm)
