"""The paper's scenarios end to end, and the claims table against its standard errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pssim.analysis import load_sweep
from pssim.config import Config
from pssim.scenarios.common import execute
from pssim.scenarios.paper_fig2 import SCENARIO, claims


def test_paper_fig1_end_to_end(tmp_path: Path) -> None:
    reps = 2000
    out = execute("paper_fig1", reps, 3, tmp_path, svg=True, progress=False,
                  executor="serial")
    assert len(load_sweep(tmp_path)) == 3 * reps
    for name in ("fig1_cdf.png", "fig1_cdf.svg", "fig1_cdf.csv",
                 "config.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "config.json").read_text())["reps"] == reps
    numbers = pd.read_csv(tmp_path / "fig1_cdf.csv")
    assert list(numbers.columns) == ["scheme", "time", "closed_form", "monte_carlo"]
    assert set(numbers["scheme"]) == {"GC", "LCC", "LCC-MMC"}
    # Pointwise, the Monte Carlo CDF is within 4.5 binomial standard errors of eq. (15)/(18).
    p = numbers["closed_form"].to_numpy()
    se = np.sqrt(p * (1 - p) / reps)
    assert (np.abs(numbers["monte_carlo"] - p) <= 4.5 * se + 1e-12).all()
    assert len(out.written) == 4  # config.json and the figure as PNG, SVG and CSV


def test_paper_fig2_end_to_end(tmp_path: Path) -> None:
    execute("paper_fig2", 300, 1, tmp_path, svg=False, progress=False, executor="serial")
    table = pd.read_csv(tmp_path / "fig2_summary.csv")
    for column in ("scheme", "load", "mean_completion_time", "ci_low", "ci_high",
                   "mean_messages"):
        assert column in table.columns
    # Six schemes at 9 loads, LCC-MMC-2 only at the 5 even ones.
    assert len(table) == 5 * 9 + 5
    assert (table["ci_low"] < table["mean_completion_time"]).all()
    assert (table["mean_completion_time"] < table["ci_high"]).all()
    for name in ("fig2a_completion_time.png", "fig2b_communication_load.png", "claims.csv"):
        assert (tmp_path / name).stat().st_size > 0
    lcc_mmc = table[table["scheme"] == "LCC-MMC"]["mean_messages"]
    assert (lcc_mmc == 79).all()


def measured_claims(reps: int, seed: int, folder: Path) -> pd.DataFrame:
    execute("paper_fig2", reps, seed, folder, progress=False, executor="serial")
    config = Config(**{**SCENARIO.base, "reps": reps, "seed": seed})
    return claims(load_sweep(folder), config)


@pytest.fixture(scope="module")
def claim_tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (measured_claims(4000, 1, tmp_path_factory.mktemp("small")),
            measured_claims(80_000, 2, tmp_path_factory.mktemp("large")))


def test_claims_agree_with_a_larger_run_within_their_standard_errors(
        claim_tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    small, large = claim_tables
    assert small["claim"].tolist() == large["claim"].tolist()
    random = small["se"] > 0
    assert random.sum() >= 5
    tolerance = 4 * np.hypot(small["se"], large["se"])
    gap = (small["measured"] - large["measured"]).abs()
    assert (gap[random] < tolerance[random]).all()
    # Exact quantities agree exactly.
    exact = ~random & ~small["claim"].str.contains("count of r")
    assert (small.loc[exact, "measured"] == large.loc[exact, "measured"]).all()


def test_claims_match_what_the_paper_states(
        claim_tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    large = claim_tables[1].set_index("claim")
    assert large.loc["LCC-MMC messages: max − min over r", "measured"] == 0
    assert large.loc["r where LCC and UC-MMC loads are closest", "measured"] == 2
    pg = large[large.index.str.startswith("UC-MMC-PG vs LCC")].iloc[0]
    # "up to 70%": the measured reduction at r = 2 is 0.70 to 0.72 with 80000 draws.
    assert 0.65 < pg["measured"] < 0.75
