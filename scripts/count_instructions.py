"""Instructions per sample in each phase of per-sample SGD, counted by valgrind's callgrind:
figures that repeat to the instruction, where timings on a shared machine do not.

The phases, the network and the data are profile_per_sample.py's (see there); each phase runs
once over the epoch's order, after a warm-up that compiles it. This script runs itself again
under ``valgrind --tool=callgrind``, with instrumentation off until the phases start, and marks
each phase with callgrind's client requests (zero the counts, run, dump them under the phase's
name), made through a three-function helper compiled from valgrind's ``callgrind.h``. It needs
valgrind, its headers and a C compiler; counting runs some fifty times slower than the phases.

Instructions are not time: a cache miss costs nothing here, and a vector instruction counts
as one whatever its width. What the counts show is the work each phase asks of the core, and
whether a change to a kernel added or removed any.

Valgrind runs no AVX-512 instructions: on a CPU that has them, compile for AVX2
(``NUMBA_CPU_NAME=haswell``), which keeps the counts comparable between machines too.

    python scripts/count_instructions.py [--dtype float32] [--skip-zero-inputs]
"""

import argparse
import ctypes
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile

import numpy as np

from profile_per_sample import phases

HELPER_SOURCE = """
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; }
void zero(void) { CALLGRIND_ZERO_STATS; }
void dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""
CHILD = "FASTNN_CALLGRIND_DIR"  # set in the process that runs under callgrind: its folder


def parser():
    arguments = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    arguments.add_argument("--skip-zero-inputs", action="store_true",
                           help="the first layer skips zero inputs, as fastnn does on these "
                                "digits")
    return arguments


def count_phases(folder, dtype, skip_zero_inputs):
    """Under callgrind: every phase once, its counts zeroed before and dumped after under its
    name; each phase's units go to ``units.json``."""
    helper = ctypes.CDLL(str(folder / "helper.so"))
    runs = phases(np.dtype(dtype), skip_zero_inputs)
    helper.start()
    for name, (run, _) in runs.items():
        helper.zero()
        run()
        helper.dump(name.encode())
    (folder / "units.json").write_text(json.dumps({name: units for name, (_, units)
                                                  in runs.items()}))


def dumped_counts(folder):
    """``{phase: instructions}`` from the dumps callgrind wrote into ``folder``."""
    counts = {}
    for dump in folder.glob("callgrind.out.*"):
        text = dump.read_text()
        trigger = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.MULTILINE)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
        if trigger and total:
            counts[trigger.group(1)] = int(total.group(1))
    return counts


def main(argv=None):
    args = parser().parse_args(argv)
    if CHILD in os.environ:
        count_phases(pathlib.Path(os.environ[CHILD]), args.dtype, args.skip_zero_inputs)
        return
    with tempfile.TemporaryDirectory() as name:
        folder = pathlib.Path(name)
        (folder / "helper.c").write_text(HELPER_SOURCE)
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", str(folder / "helper.so"),
                        str(folder / "helper.c")], check=True)
        # valgrind's own chatter is kept out of the report, but shown when the run fails.
        run = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                              f"--callgrind-out-file={folder / 'callgrind.out'}", sys.executable,
                              __file__, *(argv if argv is not None else sys.argv[1:])],
                             env={**os.environ, CHILD: name}, capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stdout + run.stderr)
            hint = ("; valgrind met an instruction it cannot run (it runs no AVX-512): try "
                    "NUMBA_CPU_NAME=haswell" if run.returncode == -signal.SIGILL else "")
            raise SystemExit(f"the run under callgrind failed (exit status {run.returncode})"
                             + hint)
        units = json.loads((folder / "units.json").read_text())
        counts = dumped_counts(folder)
    inputs = "nonzero inputs" if args.skip_zero_inputs else "every input"
    print(f"per-sample SGD phases, 784-128-64-10 {args.dtype}, {inputs}: instructions per "
          f"sample (one sweep: per sweep), counted by callgrind")
    for name, n in units.items():
        print(f"  {name:<16}{counts[name] / n:10.0f}")
    parts = sum(counts[name] / units[name] for name in list(units)[1:-1])
    print(f"  phases together {parts:.0f}; the rest of the epoch "
          f"{counts['whole epoch'] / units['whole epoch'] - parts:.0f}")


if __name__ == "__main__":
    main()
