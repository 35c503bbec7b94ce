"""``pssim --help``'s start-up: the wall time of the command above a bare interpreter
(``python -c pass``, the same interpreter and site), both run in turn by this script, best
of ``--repeats`` each; and the modules the help imports that take longest.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 10] [--top 8] [--args "run --help"]

``--args`` replaces ``--help`` (``"run --help"``: a command's own help).
"""

from __future__ import annotations

import argparse
import math
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


def elapsed(args: list[str]) -> float:
    """The wall time of one run of ``args`` (seconds)."""
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


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
    bare = help_ = math.inf
    for _ in range(args.repeats):
        bare = min(bare, elapsed(bare_cmd))
        help_ = min(help_, elapsed(help_cmd))
    above = help_ - bare
    print(f"{' '.join(help_cmd)}: {help_:.3f} s; bare interpreter: {bare:.3f} s "
          f"(best of {args.repeats})")
    print(f"above the bare interpreter: {above:.3f} s ({help_ / bare:.2f}x); target "
          f"<= {TARGET} s: {'met' if above <= TARGET else 'NOT met'}")
    print(f"slowest imports under {args.args} (cumulative s):")
    for seconds, name in slowest_imports(pssim_args, args.top):
        print(f"  {seconds:7.3f}  {name}")


if __name__ == "__main__":
    main()
