"""``pssim --help``'s start-up: the wall time of the command above a bare interpreter
(``python -c pass``, the same interpreter and site), both run in turn by this script, best
of ``--repeats`` each; the same in processor time (user + system, which other processes on
a shared machine disturb less); and the modules the help imports that take longest.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 10] [--top 8] [--args "run --help"]

``--args`` replaces ``--help`` (``"run --help"``: a command's own help).
"""

from __future__ import annotations

import argparse
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

#: The target of docs/performance.md, "Start-up": seconds above a bare interpreter.
TARGET = 0.3


def command() -> list[str]:
    """The installed ``pssim`` script beside this interpreter, else ``python -m pssim``."""
    script = Path(sys.executable).with_name("pssim")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "pssim"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def elapsed(args: list[str]) -> tuple[float, float]:
    """The wall time and the processor time of one run of ``args`` (seconds)."""
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0, _children_cpu() - c0


def slowest_imports(pssim_args: list[str], top: int) -> list[tuple[float, str]]:
    """The ``top`` modules of largest cumulative import time (seconds) under ``pssim
    PSSIM_ARGS``, from ``-X importtime``, outermost first among equals."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "pssim", *pssim_args],
                          check=True, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            rows.append((int(cumulative) / 1e6, name.rstrip()))
    return sorted(rows, key=lambda row: -row[0])[:top]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10, help="runs of each, best kept")
    parser.add_argument("--top", type=int, default=8, help="slowest imports shown")
    parser.add_argument("--args", default="--help", help="pssim's arguments, timed")
    args = parser.parse_args()
    pssim_args = shlex.split(args.args)
    bare_cmd, help_cmd = [sys.executable, "-c", "pass"], [*command(), *pssim_args]
    elapsed(help_cmd)  # warms the file cache and writes the bytecode
    # In turn, so that a busy spell of the machine weighs on both alike; the best of each,
    # since load from other processes only adds time.
    bare_runs, help_runs = [], []
    for _ in range(args.repeats):
        bare_runs.append(elapsed(bare_cmd))
        help_runs.append(elapsed(help_cmd))
    bare_wall, bare_cpu = (min(column) for column in zip(*bare_runs, strict=True))
    help_wall, help_cpu = (min(column) for column in zip(*help_runs, strict=True))
    above = help_wall - bare_wall
    print(f"{' '.join(help_cmd)}: {help_wall:.3f} s; bare interpreter: {bare_wall:.3f} s "
          f"(best of {args.repeats})")
    print(f"above the bare interpreter: {above:.3f} s ({help_wall / bare_wall:.2f}x); target "
          f"<= {TARGET} s: {'met' if above <= TARGET else 'NOT met'}")
    print(f"processor time: {help_cpu:.3f} s, above the bare interpreter's "
          f"{help_cpu - bare_cpu:.3f} s ({help_cpu / bare_cpu:.2f}x)")
    print(f"slowest imports under {args.args} (cumulative s):")
    for seconds, name in slowest_imports(pssim_args, args.top):
        print(f"  {seconds:7.3f}  {name}")


if __name__ == "__main__":
    main()
