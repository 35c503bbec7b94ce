"""Gradient descent under a server policy (docs/model.md, "Learning under a server
policy"): stale gradients applied as the trace says, checked against hand-computed
iterates, against full-batch gradient descent when every update has every partition
fresh, and against the staleness-dependent step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pssim
from pssim import learning
from pssim.errors import ConfigError, Note
from pssim.learning import Problem
from pssim.schemes import make_scheme
from pssim.schemes.coding import pieces_of
from pssim.stale import (
    descend,
    staleness_power,
    step_factors,
    under_policy,
    used_gradients,
)

#: Two rows, one feature, a partition each: g_0(w) = w − 1, g_1(w) = 2·(2w) = 4w, m = 2,
#: f(w) = ((w − 1)² + 4w²)/4.
TINY = Problem(np.array([[1.0], [2.0]]), np.array([1.0, 0.0]), "tiny")
#: Per realization, the gradients as (update, partition, version); update −1 never used.
HAND = {0: [(0, 0, 0), (1, 1, 0), (1, 0, 1), (2, 1, 1), (-1, 0, 2)],
        1: [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 1, 0), (2, 0, 2)]}


def trace_of(gradients: dict[int, list[tuple[int, int, int]]]) -> pd.DataFrame:
    rows = [{"rep": rep, "scheme": "UC-MMC", "worker": p, "partition": p, "version": v,
             "update": u, "time": float(i)}
            for rep, listed in gradients.items() for i, (u, p, v) in enumerate(listed)]
    return pd.DataFrame(rows)


def run(problem: Problem, trace: pd.DataFrame, reps: int, updates: int, workers: int,
        step: float, power: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = problem.partitions(workers)
    used = used_gradients(trace, reps, updates, workers)
    return descend(pieces_of(x, y, problem.kind), problem.geometry, used, reps, updates,
                   workers, step, power)


def tiny_loss(w: np.ndarray) -> np.ndarray:
    return ((w - 1) ** 2 + 4 * w**2) / 4


def test_a_hand_computed_case_with_stale_gradients() -> None:
    # η/m = 0.25. Realization 0: u0 uses g_0(w_0) alone (N/n = 2): w_1 = 0 − 0.25·2·(−1)
    # = 0.5; u1 uses g_1(w_0) (staleness 1) and g_0(w_1): w_2 = 0.5 − 0.25·(0 − 0.5) =
    # 0.625; u2 uses g_1(w_1) alone: w_3 = 0.625 − 0.25·2·2 = −0.375. Realization 1: u0
    # both fresh: w_1 = 0.25; u1 g_1(w_0) twice (a fast worker's two): w_2 = 0.25; u2
    # g_0(w_2) alone: w_3 = 0.25 − 0.25·2·(−0.75) = 0.625.
    loss, error, models = run(TINY, trace_of(HAND), 2, 3, 2, step=0.5)
    expected = np.array([[0.5, 0.625, -0.375], [0.25, 0.25, 0.625]])
    np.testing.assert_allclose(models[:, :, 0], expected, rtol=1e-15, atol=0)
    np.testing.assert_allclose(loss, tiny_loss(expected), rtol=1e-12, atol=0)
    # Ĝ against G = m·∇f = 5w − 1 at the model updated: u0 of realization 0, Ĝ = 2·(−1)
    # against G(0) = −1; u1 of realization 1, Ĝ = 0 against G(0.25) = 0.25.
    assert error[0, 0] == pytest.approx(1.0, rel=1e-15)
    assert error[1, 1] == pytest.approx(1.0, rel=1e-15)
    assert error[1, 0] == pytest.approx(0.0, abs=1e-15)


def test_the_staleness_dependent_step_divides_by_one_plus_the_staleness() -> None:
    # γ = 1: realization 0's u2 uses g_1(w_1) = 2 with staleness 1, so half the step:
    # w_3 = 0.625 − 0.25·2·(2/2) = 0.125; u1's stale gradient g_1(w_0) is 0, so w_2 is
    # as with a constant step. Realization 1's u1 has both gradients at staleness 1 and
    # value 0; its u2 is fresh.
    _, _, models = run(TINY, trace_of(HAND), 2, 3, 2, step=0.5, power=1.0)
    np.testing.assert_allclose(models[:, :, 0], [[0.5, 0.625, 0.125], [0.25, 0.25, 0.625]],
                               rtol=1e-15, atol=0)
    np.testing.assert_array_equal(step_factors(np.array([0.0, 1.0, 3.0]), 2.0),
                                  [1.0, 0.25, 1 / 16])
    np.testing.assert_array_equal(step_factors(np.array([0.0, 7.0]), 0.0), [1.0, 1.0])


PROBLEM = Problem.synthetic(480, 6, noise=0.5, seed=3)


def fresh_full_trace(workers: int, reps: int, updates: int, seed: int) -> pd.DataFrame:
    """Every update has every partition once, computed on the model it updates, the
    rows in a random order (as arrivals interleave)."""
    rng = np.random.default_rng(seed)
    listed = {rep: [(u, p, u) for u in range(updates) for p in rng.permutation(workers)]
              for rep in range(reps)}
    frame = trace_of(listed)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def test_every_partition_fresh_is_full_batch_gradient_descent() -> None:
    workers, reps, updates = 8, 3, 25
    geometry = PROBLEM.geometry
    step = 1 / geometry.lipschitz
    loss, _, models = run(PROBLEM, fresh_full_trace(workers, reps, updates, 5), reps,
                          updates, workers, step)
    # Plain full-batch gradient descent on the whole data.
    w, plain = np.zeros(PROBLEM.features), []
    for _ in range(updates):
        w = w - step / PROBLEM.rows * (PROBLEM.x.T @ (PROBLEM.x @ w - PROBLEM.y))
        plain.append(w)
    for rep in range(reps):
        np.testing.assert_allclose(models[rep], plain, rtol=1e-12, atol=1e-12)
    # Bit for bit what sync UC-MMC at r = 1 does with every message held.
    scheme = make_scheme("UC-MMC", workers, 1)
    x, y = PROBLEM.partitions(workers)
    code = scheme.code(x, y)
    received = np.zeros((reps, updates, workers, 1))
    sync_loss, _, _, sync_models, _ = learning.descend(code, geometry, received, step)
    np.testing.assert_array_equal(models, sync_models)
    np.testing.assert_array_equal(loss, sync_loss)


def test_the_order_of_the_trace_rows_never_matters() -> None:
    rng = np.random.default_rng(11)
    workers, reps, updates = 4, 3, 12
    listed = {rep: [(u, int(p), int(rng.integers(max(0, u - 3), u + 1)))
                    for u in range(updates) for p in rng.integers(0, workers, 3)]
              for rep in range(reps)}
    frame = trace_of(listed)
    step = 0.5 / PROBLEM.geometry.lipschitz
    first = run(PROBLEM, frame, reps, updates, workers, step, power=0.5)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    second = run(PROBLEM, shuffled, reps, updates, workers, step, power=0.5)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_logistic_partition_gradients_under_a_policy() -> None:
    # One fresh partition per update, N/n = N: the iterate moves by N·g_p/m, whose mean
    # over partitions is ∇f, and g_p is the logistic gradient of the partition's rows.
    problem = Problem.synthetic(120, 3, noise=1.0, seed=2, kind="logistic")
    workers, step = 4, 0.5
    listed = {0: [(0, 2, 0), (1, 1, 1)]}
    _, _, models = run(problem, trace_of(listed), 1, 2, workers, step)
    x, y = problem.partitions(workers)
    w = np.zeros(problem.features)
    for p in (2, 1):
        g = x[p].T @ (1 / (1 + np.exp(-(x[p] @ w))) - y[p])
        w = w - step / problem.rows * workers * g
    np.testing.assert_allclose(models[0, -1], w, rtol=1e-12)


@pytest.mark.parametrize(("listed", "reps", "updates", "wrong"), [
    ({0: [(0, 0, 0), (1, 5, 0)]}, 1, 2, "partition 5"),
    ({0: [(0, 0, 0), (1, 1, 2)]}, 1, 3, "version 2 in update 1"),
    ({0: [(0, 0, 0), (3, 1, 0)]}, 1, 2, "update 3"),
    ({0: [(0, 0, 0)]}, 1, 2, "rep 0, update 1"),
    ({0: [(0, 0, 0)], 4: [(0, 1, 0)]}, 2, 1, "rep 4"),
])
def test_a_trace_that_cannot_be_descended_is_refused(
        listed: dict[int, list[tuple[int, int, int]]], reps: int, updates: int, wrong: str
) -> None:
    with pytest.raises(ConfigError, match="invalid trace") as err:
        used_gradients(trace_of(listed), reps, updates, 2)
    assert wrong in str(err.value)


def test_a_trace_without_the_gradients_columns_is_refused() -> None:
    with pytest.raises(ConfigError, match="missing version") as err:
        used_gradients(trace_of(HAND).drop(columns="version"), 2, 3, 2)
    assert err.value.parameter == "trace"


@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf"), "fast"])
def test_a_staleness_power_out_of_range_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="staleness_power") as err:
        staleness_power(value)
    assert ">= 0" in str(err.value)


# -- under the timing side's server policies -----------------------------------------------

SMALL = Problem.synthetic(160, 4, noise=0.5, seed=7)


def test_k_sync_with_every_worker_trains_like_sync_uc_mmc_and_full_batch_descent() -> None:
    fields = {"scheme": "UC-MMC", "workers": 8, "load": 1, "iterations": 12, "reps": 3,
              "markov": {"p_slow": 0.2, "p_recover": 0.3, "factor": 4.0}}
    policy = learning.train(pssim.Config(**fields, server="k-sync", server_k=8), PROBLEM)
    sync = learning.train(pssim.Config(**fields), PROBLEM)
    assert (policy.summary["staleness_max"] == 0).all()
    assert (policy.summary["gradients"] == 8).all()
    for column in ("start", "end", "loss", "gradient_error"):
        np.testing.assert_array_equal(policy.summary[column], sync.summary[column])
    np.testing.assert_array_equal(policy.weights["weight"], sync.weights["weight"])
    w, step = np.zeros(PROBLEM.features), policy.step
    for _ in range(fields["iterations"]):
        w = w - step / PROBLEM.rows * (PROBLEM.x.T @ (PROBLEM.x @ w - PROBLEM.y))
    final = policy.weights["weight"].to_numpy().reshape(3, -1)
    np.testing.assert_allclose(final, np.tile(w, (3, 1)), rtol=1e-12, atol=1e-12)


def naive_descent(problem: Problem, trace: pd.DataFrame, reps: int, updates: int,
                  workers: int, step: float, power: float) -> np.ndarray:
    """The update rule one gradient at a time, from the trace as it is: (R, U + 1, d)."""
    x, y = problem.partitions(workers)
    models = np.zeros((reps, updates + 1, problem.features))
    used = trace[trace["update"] >= 0]
    for rep in range(reps):
        for u in range(updates):
            rows = used[(used["rep"] == rep) & (used["update"] == u)]
            total = np.zeros(problem.features)
            for p, v in zip(rows["partition"], rows["version"], strict=True):
                w = models[rep, v]
                total += (1 + u - v) ** -power * (x[p].T @ (x[p] @ w - y[p]))
            models[rep, u + 1] = (models[rep, u]
                                  - step / problem.rows * workers / len(rows) * total)
    return models


@pytest.mark.parametrize(("server", "k", "power", "scheme"), [
    ("k-async", 2, 0.0, "UC-MMC"), ("k-batch-async", 1, 1.0, "UC-MMC"),
    ("k-batch-sync", 3, 0.0, "UC-MMC"), ("k-sync", 3, 0.5, "UC-MMC"),
    ("adaptive", None, 0.0, "UC-MMC-PG")])
def test_a_policy_s_trace_is_applied_gradient_by_gradient(server: str, k: int | None,
                                                          power: float, scheme: str) -> None:
    workers, reps, updates = 4, 2, 15
    config = pssim.Config(scheme=scheme, workers=workers, load=2, iterations=updates,
                          reps=reps, server=server, server_k=k, seed=4, pg_tolerance=0.25,
                          server_period=3)
    x, y = SMALL.partitions(workers)
    step = 0.5 / SMALL.geometry.lipschitz
    timing, loss, _, models = under_policy(config, pieces_of(x, y), SMALL.geometry, step,
                                           power)
    assert timing.trace is not None
    if server.endswith("async"):  # the case the test is for: gradients on older models
        assert timing.summary["staleness_max"].max() > 0
    expected = naive_descent(SMALL, timing.trace, reps, updates, workers, step, power)
    np.testing.assert_allclose(models, expected[:, 1:], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loss, SMALL.geometry.loss(models.reshape(-1, 4)).reshape(
        reps, updates), rtol=1e-12)
    # The staleness the descent applies is the one the timing summary reports.
    used = used_gradients(timing.trace, reps, updates, workers)
    worst = used.groupby(["rep", "update"])["staleness"].max().to_numpy()
    np.testing.assert_array_equal(worst, timing.summary["staleness_max"].to_numpy())


def test_a_modelled_decode_time_under_a_policy_sums_its_largest_k_of_gradients() -> None:
    d = SMALL.features
    fixed = learning.train(pssim.Config(scheme="UC-MMC", workers=8, load=1, iterations=3,
                                        reps=1, server="k-sync", server_k=3,
                                        decode_time="model", master_flops=1e6), SMALL)
    assert (fixed.summary["decode_time"] == 3 * d / 1e6).all()
    # adaptive: K = 1, 2, 4, 8 over periods of 2 updates; its largest, 8, by update 6.
    grown = learning.train(pssim.Config(scheme="UC-MMC", workers=8, load=1, iterations=7,
                                        reps=1, server="adaptive", server_period=2,
                                        decode_time="model", master_flops=1e6), SMALL)
    assert (grown.summary["decode_time"] == 8 * d / 1e6).all()


def invoke(*args: str) -> tuple[int, list[str]]:
    from typer.testing import CliRunner

    from pssim.cli import app

    result = CliRunner().invoke(app, ["train", "--workers", "4", "--synthetic", "160,4",
                                      "--reps", "2", "--iterations", "6", *args])
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def test_train_under_a_policy_on_the_command_line(tmp_path: object) -> None:
    out = f"{tmp_path}/policy.parquet"
    code, lines = invoke("--scheme", "UC-MMC", "--load", "1", "--server", "k-async",
                         "--server-k", "2", "--staleness-power", "1", "--out", out)
    assert code == 0, lines
    assert any(line.startswith("UC-MMC ") for line in lines)
    assert "updates" in lines[1].split() and "iterations" not in lines[1].split()
    summary = pd.read_parquet(out)
    assert len(summary) == 2 * 6
    assert {"update", "loss", "staleness_max", "server", "server_k"} <= set(summary.columns)


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_staleness_power_out_of_range_on_the_command_line(value: str) -> None:
    code, lines = invoke("--scheme", "UC-MMC", "--load", "1", "--server", "k-async",
                         "--server-k", "2", "--staleness-power", value)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("Error: invalid staleness_power=")


def test_a_staleness_power_under_sync_has_no_effect_and_says_so() -> None:
    fields = {"scheme": "UC-MMC", "workers": 4, "iterations": 3, "reps": 2}
    with pytest.warns(Note, match="staleness_power 1 has no effect under server sync"):
        noted = learning.train(pssim.Config(**fields), SMALL, staleness_power=1.0)
    plain = learning.train(pssim.Config(**fields), SMALL)
    np.testing.assert_array_equal(noted.summary["loss"], plain.summary["loss"])
