"""The vectorized engine is the SimPy model, realization by realization
(docs/model.md, "Engines")."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import tied_durations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pssim import ConfigError, run, simulate
from pssim.engines import Outcome
from pssim.engines.vectorized import Vectorized
from pssim.schemes import PAPER_SCHEMES, feasible

EXACT = ["messages", "messages_sent", "computations"]
SCHEMES = (*PAPER_SCHEMES, "LCC(1)", "LCC(2)", "LCC(3)")


@st.composite
def cases(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 12))
    r = draw(st.integers(1, n))
    options = [s for s in SCHEMES if feasible(s, n, r)]
    config: dict = {"scheme": draw(st.sampled_from(options)), "workers": n, "load": r,
                    "seed": draw(st.integers(0, 2**32)),
                    "pg_tolerance": draw(st.sampled_from([0.05, 0.2, 0.5]))}
    if draw(st.booleans()):
        # Durations on a coarse grid, so that finish times, arrivals and receptions tie.
        config.update(tied_durations(draw, n, r))
        sizes = st.sampled_from([0.5, 1.0, 2.0])
        rates = st.sampled_from([0.5, 1.0, 2.0, 4.0, math.inf])
        delays = st.sampled_from([0.0, 0.25, 0.5])
    else:
        config.update(mu=draw(st.floats(0.5, 50)), alpha=draw(st.floats(0, 0.1)),
                      reps=draw(st.integers(1, 40)))
        sizes = st.floats(1e3, 1e8)
        rates = st.floats(1e6, 1e10) | st.just(math.inf)
        delays = st.floats(0, 0.05)
    if draw(st.booleans()):
        config.update(network="fifo", message_size=draw(sizes), uplink_bandwidth=draw(rates),
                      master_bandwidth=draw(rates), latency=draw(delays))
    return config


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_vectorized_equals_des(config: dict) -> None:
    a = run(**config, engine="des")
    b = run(**config, engine="vectorized")
    np.testing.assert_allclose(b["completion_time"], a["completion_time"], rtol=1e-9, atol=0)
    pd.testing.assert_frame_equal(a[EXACT], b[EXACT])


def test_auto_is_the_default_and_falls_back_to_des(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = Vectorized.simulate

    def spy(self: Vectorized, *args: Any) -> Outcome:
        calls.append("vectorized")
        return real(self, *args)

    monkeypatch.setattr(Vectorized, "simulate", spy)
    base = {"scheme": "LCC", "workers": 6, "load": 2, "reps": 30, "seed": 2}
    fifo = {**base, "network": "fifo", "message_size": "1MB", "master_bandwidth": "100MB/s"}
    fair = {**fifo, "network": "fair"}
    for options in (base, fifo, fair):
        calls.clear()
        pd.testing.assert_frame_equal(run(**options), run(**options, engine="des"))
        assert calls == ["vectorized"]  # the default run only
    calls.clear()
    run(**{**fifo, "network": "tcp", "message_size": "100kB"}, iterations=2)
    with_trace = simulate(**base, trace=True)
    assert calls == []
    assert with_trace.trace is not None and len(with_trace.trace) > 0


@pytest.mark.parametrize(("options", "reason"), [
    ({"network": "tcp", "message_size": 1, "iterations": 2}, "tcp"),
    ({"trace": True}, "trace"),
])
def test_vectorized_refuses_what_it_cannot_do(options: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        simulate("LCC", 4, 2, reps=2, engine="vectorized", **options)


@pytest.mark.parametrize("engine", ["des", "vectorized"])
def test_chunking_never_changes_results(engine: str) -> None:
    base = {"scheme": "all", "workers": 8, "load": 4, "reps": 300, "seed": 11,
            "network": "fifo", "message_size": "1MB", "master_bandwidth": "1Gbps",
            "engine": engine}
    whole = run(**base)
    for chunk in (1, 7, 128):
        pd.testing.assert_frame_equal(run(**base, chunk_size=chunk), whole, check_exact=True)


def test_analytic_engine_reports_closed_forms() -> None:
    from pssim.api import analyze
    from pssim.engines.analytic import count_rule_cdf, count_rule_mean

    table, cdf = analyze(["GC", "LCC(5)", "LCC-MMC"], 10, 5, quantiles=(0.5,), points=50)
    assert table["scheme"].tolist() == ["GC", "LCC", "LCC-MMC"]
    lcc_mmc = {"workers": 10, "load": 5, "group": 1, "threshold": 19, "mu": 10.0,
               "alpha": 0.01}
    assert table["mean_completion_time"].iloc[2] == count_rule_mean(**lcc_mmc)
    curve = cdf[cdf["scheme"] == "LCC-MMC"]
    assert len(curve) == 50 and curve["cdf"].is_monotonic_increasing
    np.testing.assert_array_equal(curve["cdf"], count_rule_cdf(curve["time"], **lcc_mmc))
    half = table["q0.5_completion_time"].iloc[2]
    assert count_rule_cdf([half], **lcc_mmc)[0] == pytest.approx(0.5, abs=1e-9)


def test_analytic_engine_on_the_command_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from pssim.cli import app

    out = tmp_path / "cdf.csv"
    res = CliRunner().invoke(app, ["run", "--engine", "analytic", "--scheme", "GC,LCC",
                                   "--workers", "10", "--load", "5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    # The table, then a blank line and the assumptions.
    table, assumptions = res.output.split("\n\n")
    assert [line.split()[0] for line in table.splitlines()] == ["scheme", "GC", "LCC"]
    assert assumptions.startswith("assumptions: compute: the paper's model")
    assert list(pd.read_csv(out).columns) == ["scheme", "time", "cdf"]
    for bad in (["--scheme", "UC-MMC"], ["--network", "fifo", "--message-size", "1"]):
        res = CliRunner().invoke(app, ["run", "--engine", "analytic", *bad])
        assert res.exit_code == 2 and "analytic" in res.output


def test_pieces_of_a_run_add_up_to_the_whole() -> None:
    base = {"scheme": "LCC,UC-MMC", "workers": 6, "load": 3, "seed": 4}
    whole = run(**base, reps=2500)
    parts = pd.concat([run(**base, reps=1000, first_rep=0), run(**base, reps=1500,
                                                                   first_rep=1000)])
    key = ["scheme", "rep"]
    pd.testing.assert_frame_equal(parts.sort_values(key).reset_index(drop=True),
                                  whole.sort_values(key).reset_index(drop=True), check_exact=True)
