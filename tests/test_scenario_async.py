"""The async scenario (coding against server policies with real gradient descent): its
problem, the choice of each method's best K, its finding, and the whole scenario at tiny
size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pssim.scenarios import async_
from pssim.scenarios.common import _REGISTRY as scenario_registry
from pssim.scenarios.common import execute

COLUMNS = ["setting", "method", "K", "reps", "reached", "mean_time_per_update",
           "median_time_to_target", "low_time_to_target", "high_time_to_target",
           "median_updates_to_target", "median_final_excess"]


def tradeoff(rows: list[tuple[str, str, int, float, float, float, float]]) -> pd.DataFrame:
    """(setting, method, K, reached, time per update, median time, final excess)."""
    return pd.DataFrame([
        {"setting": s, "method": m, "K": k, "reps": 4, "reached": reached,
         "mean_time_per_update": per, "median_time_to_target": time,
         "low_time_to_target": time, "high_time_to_target": time,
         "median_updates_to_target": time / per, "median_final_excess": excess}
        for s, m, k, reached, per, time, excess in rows], columns=COLUMNS)


def test_the_best_k_is_the_soonest_at_the_target_in_every_realization() -> None:
    nan = float("nan")
    table = tradeoff([
        ("none", "GC", -1, 1.0, 0.5, 20.0, 1e-9),
        ("none", "k-sync", 10, 1.0, 0.1, 6.0, 1e-7),
        ("none", "k-sync", 20, 1.0, 0.2, 8.0, 1e-8),
        # Sooner, but not in every realization: not chosen.
        ("none", "k-sync", 5, 0.75, 0.05, 4.0, 1e-6),
        # No K reaches the target: the smallest final excess.
        ("none", "k-async", 10, 0.0, 0.1, nan, 1e-4),
        ("none", "k-async", 20, 0.0, 0.2, nan, 1e-5),
        ("fifo", "k-sync", 10, 1.0, 0.1, 9.0, 1e-7),
        ("fifo", "k-sync", 20, 1.0, 0.2, 7.0, 1e-8),
    ])
    best = async_.best_k(table)
    chosen = {(r.setting, r.method): r.K for r in best.itertuples()}
    assert chosen == {("none", "GC"): -1, ("none", "k-sync"): 10, ("none", "k-async"): 20,
                      ("fifo", "k-sync"): 20}
    # In the table's order of methods, per setting.
    assert list(best["method"]) == ["GC", "k-sync", "k-async", "k-sync"]


def test_the_finding_names_each_method_and_the_fastest() -> None:
    table = tradeoff([("none", "GC", -1, 1.0, 0.5, 20.0, 1e-9),
                      ("none", "k-sync", 10, 1.0, 0.1, 6.0, 1e-7),
                      ("none", "k-async", 20, 0.0, 0.2, float("nan"), 1e-5)])
    problem = async_.ill_conditioned(80, 4, 10.0, 0.03, 0)
    text = async_.finding(async_.best_k(table), problem, 30)
    assert "GC 20 s (40 updates of 0.5 s)" in text
    assert "k-sync (K = 10) 6 s (60 updates of 0.1 s)" in text
    assert "k-async (K = 20) never (median final excess 1e-05)" in text
    assert "Fastest: k-sync (K = 10)." in text
    assert problem.name in text


def test_the_problem_has_the_condition_number_asked_for() -> None:
    # XᵀX/m → diag(s²) as m grows: each extreme eigenvalue is its diagonal entry, a mean
    # of m squared normals (relative SE √(2/m)), up to O(d/m) from the others; their
    # ratio has a relative SE of 2/√m, and 4 SE bound it.
    rows, features, condition = 200_000, 5, 10.0
    problem = async_.ill_conditioned(rows, features, condition, 0.03, 1)
    measured = async_.condition_number(problem.x)
    assert abs(measured / condition - 1) < 4 * 2 / np.sqrt(rows)
    assert f"condition number {measured:.3g}" in problem.name


def test_the_scenario_at_tiny_size_writes_its_files_and_tables(tmp_path: Path) -> None:
    design = async_.Design(problem=(80, 4, 10.0, 0.03, 0), updates=6, gradients=12,
                           ks=(("k-sync", (2, 4)), ("k-batch-sync", (2,)),
                               ("k-async", (2,)), ("k-batch-async", (1,))))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(scenario_registry, "async", async_.scenario(design))
        execute("async", 2, 1, tmp_path, svg=False, progress=False, executor="serial",
                overrides={"workers": 4})
    figures = ("loss_policies_none", "loss_policies_fifo", "tradeoff")
    for name in ("training.parquet", "best.csv", "finding.txt", "config.json",
                 *(f"{stem}.{ext}" for stem in figures for ext in ("png", "csv"))):
        assert (tmp_path / name).stat().st_size > 0, name
    tradeoff = pd.read_csv(tmp_path / "tradeoff.csv")
    assert list(tradeoff.columns) == [*COLUMNS[:-1], "median_final_excess", "horizon",
                                      "median_excess_at_horizon"]
    methods = [*async_.SYNC, "k-sync", "k-sync", "k-batch-sync", "k-async", "k-batch-async"]
    ks = [-1, -1, -1, 2, 4, 2, 2, 1]
    for setting in async_.LABELS.values():
        part = tradeoff[tradeoff["setting"] == setting]
        assert list(part["method"]) == methods and list(part["K"]) == ks
    assert ((tradeoff["reached"] >= 0) & (tradeoff["reached"] <= 1)).all()
    best = pd.read_csv(tmp_path / "best.csv")
    assert len(best) == 2 * 7 and list(best.columns) == list(tradeoff.columns)
    # Every run has its updates: 6 for the synchronous ones and the synchronous policies,
    # 12 gradients' worth (12 updates at K = 1, 6 at K = 2) for the asynchronous ones.
    training = pd.read_parquet(tmp_path / "training.parquet")
    counts = training.groupby(["setting", "method", "K", "rep"])["update"].agg(["size", "max"])
    expected = {("k-batch-async", 1): 12}
    for (_, method, k, _), row in counts.iterrows():
        assert row["size"] == row["max"] + 1 == expected.get((method, k), 6)
    text = (tmp_path / "finding.txt").read_text()
    for row in best.itertuples():
        assert async_._name(row.method, row.K) in text
