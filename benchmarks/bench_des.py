"""Time the pssim SimPy engine against a minimal plain-SimPy model of the same iteration.

Setting: N = 40 workers, load r = 5, scheme LCC-MMC (a message after every computation;
the master completes at 2N − 1 = 79 messages), ShiftedExponential(mu=10, alpha=0.01)
finish times shared by both models. Four cases:

1. network ``none``, summary only;
2. network ``none`` with the full trace (a list passed as ``trace``);
3. network ``fifo`` (4e6-byte messages, master link 1e9 bytes/s, uplinks infinite),
   summary only;
4. network ``fifo`` with the trace.

The minimal model is what one would write in plain SimPy without any of pssim's
bookkeeping: one ``simpy.Environment`` per realization, one process per worker yielding
``env.timeout`` for each computation and counting messages until the 79th (``none``); for
``fifo`` each message is also a process that holds a ``simpy.Resource(capacity=1)``, the
master's link, for size/bandwidth seconds before it counts. It keeps no trace in any case,
so the trace cases measure what pssim's trace costs on top of the bare simulation. Both
models must give the same completion time of every realization (checked to 1e-9 s)
before anything is timed.

Both models run in this process over the same realizations, timed with
time.perf_counter; the figure kept is the best of 3 repeats, divided by the number of
realizations. The repeats alternate the two models block by block (25 realizations) and
keep the best per block, so that load from other processes on a shared machine falls on
both alike. As in timeit, the garbage collector is off while a block is timed (both
models leave reference cycles behind every realization; ``--with-gc`` times them with it
on). Run with ``.venv/bin/python benchmarks/bench_des.py [--reps N]`` (default 500,
under 30 s) or ``make bench``.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from pssim import network as networks
from pssim.compute import ShiftedExponential
from pssim.engines import TraceRow
from pssim.engines.des import Des
from pssim.network import Discipline
from pssim.schemes import make_scheme

WORKERS = 40
LOAD = 5
NEEDED = 2 * WORKERS - 1  # LCC-MMC: any 2N − 1 messages decode
MESSAGE_SIZE = 4e6  # bytes
MASTER_BANDWIDTH = 1e9  # bytes/s
SEED = 1
REPEATS = 3
DEFAULT_REPS = 500
BLOCK = 25  # realizations per paired timing
TOLERANCE = 1e-9  # seconds
DES = Des()
TARGET_SUMMARY = 1.2
TARGET_TRACE = 2.0


# -- the minimal plain-SimPy model -------------------------------------------------------
def minimal_none(times: list[list[float]], needed: int = NEEDED,
                 events: list[int] | None = None) -> float:
    """Completion time of one realization, network none: messages arrive when computed
    (the ``needed``-th completes); the number of SimPy events goes to ``events``."""
    env = simpy.Environment()
    done = env.event()
    count = 0
    completion = math.nan

    def worker(finish: list[float]) -> Generator[simpy.Event, Any, None]:
        nonlocal count, completion
        prev = 0.0
        for t in finish:
            yield env.timeout(t - prev)
            prev = t
            count += 1
            if count == needed:
                completion = env.now
                done.succeed()

    for finish in times:
        env.process(worker(finish))
    env.run(until=done)
    if events is not None:
        events.append(next(env._eid))  # type: ignore[attr-defined]
    return completion


def minimal_fifo(times: list[list[float]], hold: float, needed: int = NEEDED,
                 events: list[int] | None = None) -> float:
    """Completion time of one realization, network fifo: one master link, first come
    first served, each message holding it for ``hold`` seconds."""
    env = simpy.Environment()
    link = simpy.Resource(env, capacity=1)
    done = env.event()
    count = 0
    completion = math.nan

    def transmit() -> Generator[simpy.Event, Any, None]:
        nonlocal count, completion
        with link.request() as req:
            yield req
            yield env.timeout(hold)
        count += 1
        if count == needed:
            completion = env.now
            done.succeed()

    def worker(finish: list[float]) -> Generator[simpy.Event, Any, None]:
        prev = 0.0
        for t in finish:
            yield env.timeout(t - prev)
            prev = t
            env.process(transmit())

    for finish in times:
        env.process(worker(finish))
    env.run(until=done)
    if events is not None:
        events.append(next(env._eid))  # type: ignore[attr-defined]
    return completion


# -- the benchmark -----------------------------------------------------------------------
Model = Callable[[list[list[float]]], float]


def run_minimal(model: Model, finish: np.ndarray) -> np.ndarray:
    """Completion times of the minimal model over ``finish`` (reps, N, r)."""
    # Per realization, as pssim does: index the array, then convert it to lists.
    return np.array([model(finish[k].tolist()) for k in range(finish.shape[0])])


def paired_times(scheme: Any, network: Discipline, with_trace: bool, model: Model,
                 finish: np.ndarray, repeats: int, block: int, with_gc: bool
                 ) -> tuple[float, float]:
    """Best-of-``repeats`` seconds of pssim and of the minimal model over all of ``finish``.

    The realizations are cut into blocks of ``block``; each repeat times both models on
    each block in turn (which goes first alternates from repeat to repeat), so both see
    the machine in the same state, and the best of the repeats is kept block by block.
    Unless ``with_gc``, the cyclic garbage collector is off while a block is timed, as in
    :mod:`timeit`; it runs, untimed, before each block.
    """
    reps = finish.shape[0]
    starts = range(0, reps, block)
    best_pssim = [math.inf] * len(starts)
    best_minimal = [math.inf] * len(starts)
    clock = time.perf_counter
    for r in range(repeats):
        # One trace list per pass, as pssim.run keeps one per chunk of realizations.
        trace: list[TraceRow] | None = [] if with_trace else None
        for b, lo in enumerate(starts):
            part = finish[lo : lo + block]
            for pssim_turn in (True, False) if r % 2 == 0 else (False, True):
                gc.collect()
                if not with_gc:
                    gc.disable()
                try:
                    t0 = clock()
                    if pssim_turn:
                        DES.simulate(scheme, network, [part], lo, trace)
                    else:
                        run_minimal(model, part)
                    elapsed = clock() - t0
                finally:
                    gc.enable()
                if pssim_turn:
                    best_pssim[b] = min(best_pssim[b], elapsed)
                else:
                    best_minimal[b] = min(best_minimal[b], elapsed)
    return sum(best_pssim), sum(best_minimal)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS,
                        help=f"realizations per timing (default {DEFAULT_REPS})")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"repeats, the best is kept (default {REPEATS})")
    parser.add_argument("--with-gc", action="store_true",
                        help="keep the garbage collector on while timing")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.repeats < 1:
        parser.error("--reps and --repeats must be >= 1")
    reps: int = args.reps
    repeats: int = args.repeats

    scheme = make_scheme("LCC-MMC", WORKERS, LOAD)
    assert scheme.threshold == NEEDED and scheme.group == 1
    finish = ShiftedExponential(mu=10.0, alpha=0.01).finish_times(SEED, 0, reps, WORKERS, LOAD)
    none = networks.build("none")
    fifo = networks.build("fifo", message_size=MESSAGE_SIZE, master_bandwidth=MASTER_BANDWIDTH)
    hold = fifo.master_time

    # Collections before each timed block then scan only what the benchmark allocates.
    gc.collect()
    gc.freeze()

    def fifo_model(times: list[list[float]]) -> float:
        return minimal_fifo(times, hold)

    cases: list[tuple[str, Discipline, bool, Model, float]] = [
        ("none, summary", none, False, minimal_none, TARGET_SUMMARY),
        ("none, trace", none, True, minimal_none, TARGET_TRACE),
        ("fifo, summary", fifo, False, fifo_model, TARGET_SUMMARY),
        ("fifo, trace", fifo, True, fifo_model, TARGET_TRACE),
    ]

    print(f"pssim DES vs minimal plain SimPy: N={WORKERS}, r={LOAD}, LCC-MMC "
          f"(completes at {NEEDED} messages), ShiftedExponential(mu=10, alpha=0.01)")
    print(f"{reps} realizations, best of {repeats} (per block of {BLOCK}), garbage "
          f"collector {'on' if args.with_gc else 'off'} while timing; "
          f"python {platform.python_version()}, simpy {simpy.__version__}, "
          f"numpy {np.__version__}, {os.cpu_count()} CPUs")
    header = (f"{'case':<15} {'pssim µs/rep':>13} {'minimal µs/rep':>15} {'ratio':>7} "
              f"{'target':>7}  status")
    print(header)
    print("-" * len(header))
    over = 0
    for name, network, with_trace, model, target in cases:
        # Sanity check first: both models give the same completion times.
        trace: list[TraceRow] | None = [] if with_trace else None
        ours = DES.simulate(scheme, network, [finish], 0, trace).completion_time
        theirs = run_minimal(model, finish)
        worst = float(np.max(np.abs(ours - theirs)))
        if not (np.all(np.isfinite(ours)) and worst <= TOLERANCE):
            raise AssertionError(f"{name}: completion times differ by up to {worst} s")
        if with_trace and not trace:
            raise AssertionError(f"{name}: the trace is empty")
        del trace

        t_pssim, t_minimal = paired_times(scheme, network, with_trace, model, finish,
                                          repeats, BLOCK, args.with_gc)
        ratio = t_pssim / t_minimal
        ok = ratio <= target
        over += not ok
        print(f"{name:<15} {t_pssim / reps * 1e6:>13.1f} {t_minimal / reps * 1e6:>15.1f} "
              f"{ratio:>6.2f}x {'≤ ' + format(target, '.1f') + 'x':>7}  "
              f"{'ok' if ok else 'OVER TARGET'}")
    print(f"{over} of {len(cases)} cases over target" if over else "all cases within target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
