"""The LCC family over prime fields (docs/model.md, "LCC over a prime field"): the decode
is exact from every threshold-sized set of messages, training follows plain gradient
descent to within the derived quantization bound, and a configuration that could wrap is
refused before anything is computed."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import pssim
from pssim import learning
from pssim.cli import app
from pssim.errors import ConfigError
from pssim.learning import RADIUS, Problem, train
from pssim.schemes import make_scheme
from pssim.schemes.prime import (
    MAX_PRIMES,
    MODULAR_COST,
    PRIME_BITS,
    gradient_bound,
    mod_matmul,
    primes,
)

PROBLEM = Problem.synthetic(480, 6, noise=0.5, seed=3)


def exact_gradient(x: np.ndarray, y: np.ndarray, w: np.ndarray, bits: int) -> np.ndarray:
    """Σ_p X̄_pᵀ(X̄_p w̄ − 2^b·ȳ_p) in Python integers, from the definitions: (R, d)."""
    xq = np.rint(x * 2.0**bits).astype(np.int64).astype(object)
    yq = np.rint(y * 2.0**bits).astype(np.int64).astype(object) * 2**bits
    wq = np.rint(w * 2.0**bits).astype(np.int64).astype(object)
    return np.array([sum(xq[p].T.dot(xq[p].dot(model) - yq[p]) for p in range(len(x)))
                     for model in wq], dtype=object)


def test_the_moduli_are_the_largest_primes_below_two_to_the_21() -> None:
    found = primes(3)
    assert found == [2097143, 2097133, 2097131]
    assert all(all(q % f for f in range(2, math.isqrt(q) + 1)) for q in found)
    # No prime between the largest and 2^21.
    assert all(any(n % f == 0 for f in range(2, math.isqrt(n) + 1))
               for n in range(found[0] + 1, 2**PRIME_BITS))


def test_modular_products_are_exact_beyond_a_chunk() -> None:
    # An inner dimension of 5000 > 2^53/(q − 1)^2 ≈ 2048: summed in chunks.
    q = primes(1)[0]
    rng = np.random.default_rng(1)
    a = rng.integers(0, q, (3, 5000))
    b = rng.integers(0, q, (5000, 2))
    expected = [[sum(int(a[i, k]) * int(b[k, j]) for k in range(5000)) % q for j in range(2)]
                for i in range(3)]
    assert mod_matmul(a.astype(float), b.astype(float), q).astype(np.int64).tolist() == expected


@pytest.mark.parametrize(("name", "workers", "load"), [
    ("LCC-MMC", 5, 2), ("LCC-MMC", 6, 3), ("LCC-MMC-2", 6, 2), ("LCC-MMC-2", 7, 4),
    ("LCC", 6, 3), ("LCC", 8, 4), ("LCC(2)", 8, 4),
])
def test_every_threshold_subset_decodes_the_quantized_gradient_exactly(
        name: str, workers: int, load: int) -> None:
    scheme = make_scheme(name, workers, load)
    problem = Problem.synthetic(workers * 10, 4, noise=0.5, seed=workers)
    x, y = problem.partitions(workers)
    bits = 12
    code = scheme.code(x, y, field="prime", quantization=bits, radius=10.0)
    assert code.needed == scheme.threshold
    rng = np.random.default_rng(7)
    models = rng.uniform(-2.0, 2.0, (2, problem.features))
    expected = exact_gradient(x, y, models, bits)
    total = workers * scheme.messages_per_worker
    subsets = list(itertools.combinations(range(total), scheme.threshold))
    # One realization per (model, subset): the messages of its model, only the subset held.
    w = np.repeat(models, len(subsets), axis=0)
    received = np.full((len(w), total), np.inf)
    for row, subset in enumerate(subsets * 2):
        received[row, list(subset)] = 1.0
    received = received.reshape(len(w), workers, -1)
    messages = code.messages(w)
    integers = code.lift(code.decode_residues(messages, received))
    wanted = np.repeat(expected, len(subsets), axis=0)
    assert (integers == wanted).all()
    decoded, cond = code.decode(messages, received)
    # The dequantized decode is the dequantized exact integer, bit for bit.
    assert np.array_equal(decoded, wanted.astype(float) / 2.0 ** (3 * bits))
    assert np.isnan(cond).all()
    assert np.array_equal(code.quantized(models), expected.astype(float) / 2.0 ** (3 * bits))


def test_the_gradient_bound_bounds_every_coordinate() -> None:
    x, y = PROBLEM.partitions(8)
    xq = np.rint(x * 2.0**10).astype(np.int64)
    yq = np.rint(y * 2.0**10).astype(np.int64) * 2**10
    rng = np.random.default_rng(2)
    norm = 3.0 * 2**10
    bound = gradient_bound(xq, yq, norm)
    for _ in range(20):
        direction = rng.standard_normal(PROBLEM.features)
        w = direction / np.linalg.norm(direction) * 3.0 * rng.uniform(0.5, 1.0)
        g = exact_gradient(x, y, w[None], 10)[0]
        assert max(abs(int(v)) for v in g) <= bound


def test_lcc_mmc_at_n40_follows_plain_gradient_descent_within_the_quantization_bound() -> None:
    # e_t = v_t − w_t (prime-field iterate minus plain one) obeys
    # e_{t+1} = (I − ηH/m)e_t − (η/m)[(H_q − H)Q(v_t) + H(Q(v_t) − v_t) − (b_q − b)],
    # ‖I − ηH/m‖ ≤ 1 for η ≤ 2/L, ‖Q(v) − v‖ ≤ √d·2^−b−1, ‖v_t‖ ≤ RADIUS·‖w*‖:
    # ‖e_K‖ ≤ K·(η/m)·[‖H_q − H‖(ρ + √d·2^−b−1) + ‖H‖·√d·2^−b−1 + ‖b_q − b‖].
    problem = Problem.synthetic(400, 5, noise=0.5, seed=11)
    bits, iterations = 16, 30
    config = pssim.Config(scheme="LCC-MMC", workers=40, load=4, iterations=iterations,
                          reps=3, seed=5)
    result = train(config, problem, field="prime", quantization=bits)
    m, d = problem.rows, problem.features
    xq = np.rint(problem.x * 2.0**bits) / 2.0**bits
    yq = np.rint(problem.y * 2.0**bits) / 2.0**bits
    h, b = problem.x.T @ problem.x, problem.x.T @ problem.y
    hq, bq = xq.T @ xq, xq.T @ yq
    eta = result.step
    rho = RADIUS * np.linalg.norm(problem.geometry.optimum)
    half = math.sqrt(d) * 2.0 ** (-bits - 1)
    per_step = eta / m * (np.linalg.norm(hq - h, 2) * (rho + half)
                          + np.linalg.norm(h, 2) * half + np.linalg.norm(bq - b))
    # Both runs round in float64 too: a few ulps of the iterate per step.
    bound = iterations * (per_step + 8 * np.finfo(float).eps * rho)
    w = np.zeros(d)
    for _ in range(iterations):
        w = w - eta / m * (h @ w - b)
    final = result.weights.pivot(index="rep", columns="feature", values="weight").to_numpy()
    # Every straggler pattern decodes the same fixed-point gradient: identical runs.
    assert (final == final[0]).all()
    gap = np.linalg.norm(final[0] - w)
    assert gap <= bound
    assert bound < 1e-3 * np.linalg.norm(w)  # the bound says something
    # The excess loss: f(v) − f* = (v − w*)ᵀH(v − w*)/(2m) ≤ (L/2)(‖w − w*‖ + ‖e‖)².
    lipschitz = np.linalg.eigvalsh(h)[-1] / m
    excess = result.summary["loss"].to_numpy()[-1] - result.optimal_loss
    reach = np.linalg.norm(w - problem.geometry.optimum) + bound
    assert excess <= lipschitz / 2 * reach**2 + 1e-12 * result.optimal_loss
    summary = result.summary
    assert np.array_equal(summary["gradient_error"], summary["quantization_error"])


def test_a_configuration_that_would_wrap_is_refused_before_any_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the clock was run")

    monkeypatch.setattr(learning, "_clock", no_run)
    config = pssim.Config(scheme="LCC", workers=8, load=4, iterations=2, reps=1)
    # A zero target, so that the moduli, not the target's fixed point, limit the bits.
    untargeted = Problem(PROBLEM.x, np.zeros_like(PROBLEM.y), "zero target")
    with pytest.raises(ConfigError, match=r"^invalid quantization=58: .*without wrapping: "
                       r"use at most \d+ bits") as err:
        train(config, untargeted, field="prime", quantization=58)
    assert err.value.parameter == "quantization"
    # The most bits it offers do fit.
    fits = int(str(err.value).rsplit("at most ", 1)[1].split()[0])
    scheme = make_scheme("LCC", 8, 4)
    radius = RADIUS * float(np.linalg.norm(untargeted.geometry.optimum))
    code = scheme.code(*untargeted.partitions(8), field="prime", quantization=fits,
                       radius=radius)
    assert len(code.moduli) == MAX_PRIMES
    with pytest.raises(ConfigError, match=r"^invalid step=") as step:
        train(config, PROBLEM, field="prime", step=2.5 / PROBLEM.geometry.lipschitz)
    assert step.value.parameter == "step"


def test_a_model_outside_the_radius_is_refused_before_the_workers_compute() -> None:
    scheme = make_scheme("LCC", 8, 4)
    code = scheme.code(*PROBLEM.partitions(8), field="prime", quantization=16, radius=1.0)
    limit = math.prod(code.moduli) / 2
    # A model so large that |X̄|ᵀ(|X̄||w̄| + |ȳ|) passes half the modulus.
    far = np.full((1, PROBLEM.features), limit / 2.0**16 / np.abs(PROBLEM.x).sum())
    with pytest.raises(ConfigError, match=r"^invalid step=None: lets the model leave"):
        code.messages(far)
    # A diverged model (infinite, or beyond int64 in fixed point) is refused the same way.
    for value in (np.inf, np.nan, 2.0**50):
        with pytest.raises(ConfigError, match=r"^invalid step=None: lets the model leave"):
            code.messages(np.full((1, PROBLEM.features), value))


@pytest.mark.parametrize(("args", "parameter"), [
    (["--scheme", "GC"], "field"), (["--quantization", "40"], "quantization"),
    (["--problem", "logistic"], "field"), (["--field", "complex"], "field"),
    (["--quantization", "0"], "quantization"),
    # 2^b must be an int64 (it was an OverflowError's traceback).
    (["--quantization", "99999999999999999999"], "quantization"),
])
def test_the_cli_refuses_in_one_line(args: list[str], parameter: str) -> None:
    result = CliRunner().invoke(app, ["train", "--field", "prime", "--workers", "8",
                                      "--synthetic", "480,6,0.5", "--reps", "1",
                                      "--scheme", "LCC", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: invalid {parameter}=")


def test_all_over_a_prime_field_runs_the_lcc_family_and_reports_the_quantization_error() -> None:
    result = CliRunner().invoke(app, ["train", "--field", "prime", "--workers", "8",
                                      "--synthetic", "480,6,0.5", "--reps", "2",
                                      "--iterations", "5"])
    assert result.exit_code == 0
    assert "note: all: skipped GC, UC-MMC, UC-MMC-PG for field prime" in result.output
    assert "quant. error" in result.output and "fraction bits" in result.output
    rows = [line.split()[0] for line in result.output.splitlines()
            if line.startswith("LCC") and "%" in line]
    assert rows == ["LCC", "LCC-MMC", "LCC-MMC-2"]


def test_the_prime_decode_is_charged_its_modular_operations() -> None:
    config = pssim.Config(scheme="LCC-MMC", workers=8, load=4, iterations=2, reps=1,
                          decode_time="model", master_flops=1e6)
    result = train(config, PROBLEM, field="prime")
    scheme = make_scheme("LCC-MMC", 8, 4)
    radius = RADIUS * float(np.linalg.norm(PROBLEM.geometry.optimum))
    code = scheme.code(*PROBLEM.partitions(8), field="prime", quantization=16,
                       radius=radius)
    n, k, c, d = 15, 8, len(code.moduli), PROBLEM.features
    operations = c * (n**2 + 4 * k * n + 2 * PRIME_BITS * n + n * d) + c**2 * d
    assert code.modular_operations(d) == operations
    assert result.summary["decode_time"].iloc[0] == MODULAR_COST * operations / 1e6


def test_the_convergence_scenario_compares_the_fields_per_n() -> None:
    from pssim.scenarios.convergence import (
        LCC_FAMILY,
        MODES,
        _train,
        field_finding,
        field_table,
    )

    spec = (480, 6, 0.5, 3)
    jobs = [({"scheme": s, "workers": n, "load": 4, "iterations": 5, "reps": 2,
              "decode_time": "model"}, points, basis, field, spec)
            for field, points, basis in MODES.values() for n in (8, 12) for s in LCC_FAMILY]
    runs = [_train(*job) for job in jobs]
    table = field_table(runs, jobs)
    assert len(table) == len(jobs)
    assert set(zip(table["scheme"], table["mode"], table["workers"], strict=True)) == {
        (s, mode, n) for mode in MODES for n in (8, 12) for s in LCC_FAMILY}
    optimal = runs[0][2]
    assert np.allclose(table["median_final_excess_loss"],
                       table["median_final_loss"] - optimal, rtol=0, atol=0)
    prime = table[table["mode"] == "prime"]
    assert np.array_equal(prime["first_median_gradient_error"],
                          prime["first_median_quantization_error"])
    assert prime["first_median_condition_number"].isna().all()
    real = table[table["mode"] != "prime"]
    assert real["first_median_quantization_error"].isna().all()
    assert (real["first_median_condition_number"] >= 1).all()
    text = field_finding(table, workers=(12,))
    row = table.set_index(["scheme", "mode", "workers"]).loc[("LCC-MMC", "prime", 12)]
    assert text.count("N = 12:") == 1
    assert "LCC-MMC real " in text and ", circle " in text
    assert f"prime {row['median_final_excess_loss']:.3g} (" in text


@pytest.mark.parametrize(("options", "said"), [
    ({"field": "prime"}, "one copy per prime of field prime"),
    ({"points": "circle", "basis": "laurent"}, "complex, of twice the size")])
def test_the_memory_check_counts_the_copies_of_each_arithmetic(
        monkeypatch: pytest.MonkeyPatch, options: dict[str, str], said: str) -> None:
    # Over the reals LCC-MMC at N = 4, r = 4 keeps N·r + 1 Gram matrices of d² numbers,
    # and an iteration's messages and gradients (4·R·N·r·d) and iterates (R·K·d); a prime
    # field keeps c ≥ 3 times the pieces' (and c Gram matrices of the uncoded data),
    # roots of unity twice (complex). With a machine of 1.5 times what the reals need,
    # the reals run and the others are refused, naming data.
    problem, reps, iterations = Problem.synthetic(400, 40, noise=0.5, seed=1), 1, 2
    d, pieces = problem.features, 16
    real = ((pieces + 1) * d * d + (4 * pieces + iterations) * reps * d) * 8
    monkeypatch.setattr(learning, "memory", lambda: 4 * 1.5 * real)
    config = {"scheme": ["LCC-MMC"], "workers": 4, "load": 4, "reps": reps,
              "iterations": iterations}
    train(problem=problem, **config)
    with pytest.raises(ConfigError) as err:
        train(problem=problem, **config, **options)
    assert err.value.parameter == "data" and said in str(err.value)


def test_a_prime_fields_messages_are_its_residues_on_the_network() -> None:
    # A message carries c·d residues in 32-bit words where a real one carries d float64s:
    # c/2 times message_size on the wire; the model sent keeps the real message's size.
    import re

    from pssim.api import simulate

    config = {"scheme": ["LCC"], "workers": 4, "load": 2, "reps": 2, "iterations": 3,
              "network": "fifo", "message_size": 800.0, "master_bandwidth": 8e4,
              "downlink_bandwidth": 1e5}
    result = train(problem=PROBLEM, field="prime", **config)
    match = re.search(r"(\d+) primes", result.arithmetic)
    assert match is not None
    c = int(match.group(1))
    summary = result.summary
    assert c >= 2 and (summary["bytes"] == summary["messages"] * 400.0 * c).all()
    timing = simulate(**{**config, "message_size": 400.0 * c, "model_size": 800.0}).summary
    assert summary["end"].tolist() == timing["end"].tolist()


@pytest.mark.parametrize("args", [
    # No scheme of the LCC family is feasible at N = 8, r = 1 (it was a traceback).
    ["--scheme", "all", "--load", "1"],
    # The LCC family runs under server sync only (it was a note, then an error).
    ["--scheme", "all", "--load", "2", "--server", "k-async", "--server-k", "2"],
    ["--scheme", "LCC", "--load", "2", "--server", "k-sync", "--server-k", "2"],
])
def test_a_prime_field_with_no_scheme_to_run_is_refused_in_one_line(args: list[str]
                                                                     ) -> None:
    result = CliRunner().invoke(app, ["train", "--field", "prime", "--workers", "8",
                                      "--synthetic", "480,6,0.5", "--reps", "1", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: invalid field='prime': runs the "
                                                   "LCC family")


def test_bits_whose_scaled_target_passes_int64_are_refused() -> None:
    # The gradient takes 2^b·ȳ = 2^b·round(2^b·y): at 31 bits |y| ≈ 10 gives about 2^65,
    # which wrapped in int64 and trained on the wrapped target without a word.
    largest = float(np.abs(PROBLEM.y).max())
    fits = math.ceil((62 - math.log2(largest)) / 2) - 1
    assert fits < 31 and largest * 4.0**fits < 2.0**62
    config = {"scheme": ["LCC"], "workers": 4, "load": 2, "reps": 1, "iterations": 2}
    with pytest.raises(ConfigError, match=r"^invalid quantization=31: gives fixed-point "
                       r"targets .* use at most (\d+) bits") as err:
        train(problem=PROBLEM, field="prime", quantization=31, **config)
    # The bits offered fit both the target and the moduli.
    offered = int(str(err.value).rsplit("at most ", 1)[1].split()[0])
    assert 1 <= offered <= fits
    train(problem=PROBLEM, field="prime", quantization=offered, **config)
