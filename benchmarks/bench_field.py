"""Operation rates of this machine's numpy for the decode-cost model (docs/model.md,
"Decode cost"): a float64 multiply-add (a·b + c, 2 floating-point operations) against a
modular multiply-add ((a·b + c) mod q on int64 residues below 2^21, what the prime-field
decoder's Lagrange weights are made of), both elementwise on arrays of 2^20 numbers, one
thread, best of the repeats. Their ratio is MODULAR_COST (pssim.schemes.prime): the float
operations a modular multiply-add is charged; then one prime-field decode is timed against
its modelled operations.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_field.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from pssim.learning import RADIUS, Problem
from pssim.schemes import make_scheme
from pssim.schemes.prime import MODULAR_COST, primes

SIZE = 1 << 20


def best(repeats: int, call: Callable[[], object]) -> float:
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def rates(repeats: int) -> tuple[float, float]:
    """Floating-point operations per second and modular multiply-adds per second."""
    q = primes(1)[0]
    rng = np.random.default_rng(0)
    a, b, c = (rng.integers(0, q, SIZE) for _ in range(3))
    fa, fb, fc = (v.astype(float) for v in (a, b, c))
    flops = 2 * SIZE / best(repeats, lambda: fa * fb + fc)
    modular = SIZE / best(repeats, lambda: (a * b + c) % q)
    return flops, modular


def decode(repeats: int, flops: float) -> None:
    """One decode of LCC-MMC over the prime fields at N = 40, r = 4, d = 100, against the
    modelled cost at the measured float rate."""
    problem = Problem.synthetic(4000, 100, 1.0, 0)
    scheme = make_scheme("LCC-MMC", 40, 4)
    code = scheme.code(*problem.partitions(40), field="prime", quantization=16,
                       radius=RADIUS * float(np.linalg.norm(problem.geometry.optimum)))
    reps = 10
    w = np.zeros((reps, problem.features))
    messages = code.messages(w)
    received = np.random.default_rng(1).random((reps, 40, 4))
    seconds = best(repeats, lambda: code.decode(messages, received)) / reps
    print(f"LCC-MMC over {len(code.moduli)} primes, N = 40, d = 100: "
          f"{code.modular_operations(100):.3g} modular operations, "
          f"{seconds * 1e3:.3g} ms a decode measured, "
          f"{code.flops(100) / flops * 1e3:.3g} ms modelled at the measured float rate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    flops, modular = rates(args.repeats)
    print(f"float64 multiply-add: {flops:.3g} floating-point operations/s")
    print(f"modular multiply-add (int64, q < 2^21): {modular:.3g} operations/s")
    print(f"float operations per modular multiply-add: {flops / modular:.3g} "
          f"(MODULAR_COST = {MODULAR_COST:g})")
    decode(max(1, args.repeats // 4), flops)


if __name__ == "__main__":
    main()
