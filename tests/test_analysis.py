"""analysis.frames on hand-made tables with known answers, and smoke tests of the figures."""

from __future__ import annotations

import doctest
import math
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import pssim.analysis as analysis
from pssim import simulate
from pssim.analysis import frames, plots
from pssim.analysis.frames import (
    best_by_group,
    busy_time,
    computations,
    ecdf,
    finished_work_time,
    link_utilization,
    load_results,
    messages_in_flight,
    pareto_frontier,
    transmissions,
)


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def make_trace(rows: list[tuple]) -> pd.DataFrame:
    """A trace with the simulator's dtypes from (scheme, rep, time, worker, event,
    computation, message) tuples, None for missing."""
    scheme, rep, time, worker, event, computation, message = zip(*rows, strict=True)
    return pd.DataFrame({
        "scheme": pd.Series(scheme, dtype="str"),
        "rep": np.array(rep, dtype=np.int64),
        "time": np.array(time, dtype=float),
        "worker": pd.array(worker, dtype="Int64"),
        "event": pd.Series(event, dtype="str"),
        "computation": pd.array(computation, dtype="Int64"),
        "message": pd.array(message, dtype="Int64"),
        "bytes": [4.0 if e in ("send_start", "received") else math.nan for e in event],
    })


@pytest.fixture
def trace() -> pd.DataFrame:
    # Scheme A: worker 0 computes [0, 1] and [1, 2], its messages arrive at 1.5 and 3;
    # worker 1 computes [0, 2.5] and its message is still under way at T = 3.
    # Scheme B: one computation, nothing received, T = 2.
    return make_trace([
        ("A", 0, 1.0, 0, "compute_done", 1, None),
        ("A", 0, 1.0, 0, "send_start", None, 1),
        ("A", 0, 1.5, 0, "received", None, 1),
        ("A", 0, 2.0, 0, "compute_done", 2, None),
        ("A", 0, 2.0, 0, "send_start", None, 2),
        ("A", 0, 2.5, 1, "compute_done", 1, None),
        ("A", 0, 2.5, 1, "send_start", None, 1),
        ("A", 0, 3.0, 0, "received", None, 2),
        ("A", 0, 3.0, None, "complete", None, None),
        ("B", 0, 1.0, 0, "compute_done", 1, None),
        ("B", 0, 2.0, None, "complete", None, None),
    ])


# --- load_results -----------------------------------------------------------------------

def test_load_results_reads_csv_parquet_and_directories(tmp_path: Path) -> None:
    df = pd.DataFrame({"scheme": ["A", "B"], "completion_time": [1.0, 2.0]})
    df.to_csv(tmp_path / "r.csv", index=False)
    df.to_parquet(tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(load_results(tmp_path / "r.csv"), df)
    pd.testing.assert_frame_equal(load_results(str(tmp_path / "r.parquet")), df)

    parts = tmp_path / "parts"
    parts.mkdir()
    df.iloc[1:].to_parquet(parts / "b.parquet")
    df.iloc[:1].to_parquet(parts / "a.parquet")
    (parts / "notes.csv").write_text("x\n1\n")
    pd.testing.assert_frame_equal(load_results(parts), df)


@pytest.mark.parametrize("name", ["missing.parquet", "r.txt", "empty"])
def test_load_results_errors_name_the_path(tmp_path: Path, name: str) -> None:
    (tmp_path / "r.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=name):
        load_results(tmp_path / name)


# --- ecdf -------------------------------------------------------------------------------

def test_ecdf_of_three_values() -> None:
    out = ecdf(pd.DataFrame({"scheme": "A", "completion_time": [3.0, 1.0, 2.0]}))
    assert list(out.columns) == ["scheme", "completion_time", "cdf"]
    assert out["completion_time"].tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(out["cdf"], [1 / 3, 2 / 3, 1.0])


def test_ecdf_ties_groups_and_missing_values() -> None:
    df = pd.DataFrame({"scheme": ["A", "B", "A", "A", "B"], "r": [1, 1, 1, 1, 2],
                       "completion_time": [2.0, 5.0, 1.0, 1.0, math.nan]})
    out = ecdf(df)
    assert out["scheme"].tolist() == ["A", "A", "A", "B"]
    # Right-continuous: tied observations both get the fraction at or below them.
    np.testing.assert_allclose(out["cdf"], [2 / 3, 2 / 3, 1.0, 1.0])
    by_two = ecdf(df, by=["scheme", "r"])
    assert list(by_two.columns) == ["scheme", "r", "completion_time", "cdf"]
    np.testing.assert_allclose(ecdf(df, by=None)["cdf"], [0.5, 0.5, 0.75, 1.0])


# --- pareto_frontier --------------------------------------------------------------------

def test_pareto_three_rows() -> None:
    table = pd.DataFrame({"scheme": ["A", "B", "C"], "mean_messages": [1.0, 2.0, 3.0],
                          "mean_completion_time": [3.0, 2.0, 2.5]})
    out = pareto_frontier(table)
    # C is dominated by B (more messages, slower); A and B trade one for the other.
    assert out["pareto"].tolist() == [True, True, False]
    assert out["pareto"].dtype == bool
    assert "pareto" not in table.columns


def test_pareto_ties_and_missing_values() -> None:
    table = pd.DataFrame({
        "x": [1.0, 1.0, 1.0, 2.0, 0.5, math.nan, 3.0],
        "y": [2.0, 2.0, 3.0, 2.0, 5.0, 0.0, math.inf],
    })
    # Identical rows 0, 1 do not dominate each other; row 2 (same x, slower) and row 3
    # (same y, more x) are dominated; NaN is neither optimal nor dominating.
    assert pareto_frontier(table, "x", "y")["pareto"].tolist() == [
        True, True, False, False, True, False, False]
    alone = pd.DataFrame({"x": [1.0], "y": [math.inf]})
    assert pareto_frontier(alone, "x", "y")["pareto"].tolist() == [True]
    assert pareto_frontier(table.iloc[:0], "x", "y")["pareto"].tolist() == []


def test_pareto_matches_brute_force_on_many_ties() -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"x": rng.integers(0, 4, 60).astype(float),
                          "y": rng.integers(0, 4, 60).astype(float),
                          "g": rng.integers(0, 2, 60)})
    for by, groups in ((None, [table]), ("g", [d for _, d in table.groupby("g")])):
        flags = pareto_frontier(table, "x", "y", by=by)["pareto"]
        for group in groups:
            x, y = group["x"].to_numpy(), group["y"].to_numpy()
            dominated = ((x[None, :] <= x[:, None]) & (y[None, :] <= y[:, None])
                         & ((x[None, :] < x[:, None]) | (y[None, :] < y[:, None]))).any(axis=1)
            assert flags[group.index].tolist() == (~dominated).tolist()


# --- best_by_group ----------------------------------------------------------------------

def test_best_by_group_with_single_row_group_tie_and_missing() -> None:
    table = pd.DataFrame({
        "load": [2, 2, 2, 4, 6, 6, 6],
        "scheme": ["GC", "LCC", "UC", "GC", "GC", "LCC", "UC"],
        "mean_completion_time": [0.5, 0.4, 0.8, 0.3, 0.2, 0.2, math.nan],
    })
    out = best_by_group(table, "load")
    assert list(out.columns) == ["load", "best", "best_value", "runner_up",
                                 "runner_up_value", "margin", "relative_margin"]
    assert out["load"].tolist() == [2, 4, 6]
    assert out["best"].tolist() == ["LCC", "GC", "GC"]
    first = out.iloc[0]
    assert first["runner_up"] == "GC"
    assert first["margin"] == pytest.approx(0.1)
    assert first["relative_margin"] == pytest.approx(0.2)
    single = out.iloc[1]
    assert pd.isna(single["runner_up"])
    assert math.isnan(single["runner_up_value"]) and math.isnan(single["margin"])
    tie = out.iloc[2]
    assert (tie["runner_up"], tie["margin"], tie["relative_margin"]) == ("LCC", 0.0, 0.0)


def test_best_by_group_two_keys_and_other_metric() -> None:
    table = pd.DataFrame({"N": [10, 10, 20, 20], "r": [2, 2, 2, 2],
                          "scheme": ["A", "B", "A", "B"], "mean_messages": [5, 3, 4, 9]})
    out = best_by_group(table, ["N", "r"], metric="mean_messages")
    assert out[["N", "r", "best", "runner_up"]].values.tolist() == [
        [10, 2, "B", "A"], [20, 2, "A", "B"]]
    np.testing.assert_allclose(out["relative_margin"], [2 / 5, 5 / 9])
    with pytest.raises(ValueError, match="by"):
        best_by_group(table, [])


# --- trace utilities --------------------------------------------------------------------

def test_busy_time(trace: pd.DataFrame) -> None:
    # r = 2: A's worker 0 finished both by 2 and idles until T = 3; A's worker 1 and B's
    # worker 0 finished one and were computing the second at T.
    out = busy_time(trace, load=2)
    assert list(out.columns) == ["scheme", "rep", "worker", "busy_time", "completion_time",
                                 "utilization"]
    assert out[["scheme", "worker"]].values.tolist() == [["A", 0], ["A", 1], ["B", 0]]
    np.testing.assert_allclose(out["busy_time"], [2.0, 3.0, 2.0])
    np.testing.assert_allclose(out["completion_time"], [3.0, 3.0, 2.0])
    np.testing.assert_allclose(out["utilization"], [2 / 3, 1.0, 1.0])
    full = busy_time(trace, workers=3, load=2)
    assert full["worker"].tolist() == [0, 1, 2, 0, 1, 2]
    # Workers that finished nothing computed for all of T.
    np.testing.assert_allclose(full["busy_time"], [2.0, 3.0, 3.0, 2.0, 2.0, 2.0])


def test_finished_work_time(trace: pd.DataFrame) -> None:
    out = finished_work_time(trace)
    assert list(out.columns) == ["scheme", "rep", "worker", "finished_work_time",
                                 "completion_time"]
    assert out[["scheme", "worker"]].values.tolist() == [["A", 0], ["A", 1], ["B", 0]]
    np.testing.assert_allclose(out["finished_work_time"], [2.0, 2.5, 1.0])
    np.testing.assert_allclose(out["completion_time"], [3.0, 3.0, 2.0])
    full = finished_work_time(trace, workers=3)
    assert full["worker"].tolist() == [0, 1, 2, 0, 1, 2]
    np.testing.assert_allclose(full["finished_work_time"], [2.0, 2.5, 0.0, 1.0, 0.0, 0.0])


def test_link_utilization(trace: pd.DataFrame) -> None:
    out = link_utilization(trace, message_size=1.0, master_bandwidth=2.0)
    assert list(out.columns) == ["scheme", "rep", "busy_time", "completion_time",
                                 "utilization"]
    # Busy [1, 1.5] and [2.5, 3] for A; nothing received for B.
    np.testing.assert_allclose(out["busy_time"], [1.0, 0.0])
    np.testing.assert_allclose(out["utilization"], [1 / 3, 0.0])
    # Sizes from the trace (4 bytes): [-1, 1.5] clipped at 0 and [1, 3] overlap: [0, 3].
    full = link_utilization(trace, message_size=None, master_bandwidth=2.0)
    np.testing.assert_allclose(full["utilization"], [1.0, 0.0])
    with pytest.raises(ValueError, match="master_bandwidth"):
        link_utilization(trace, 1.0, 0.0)


def test_messages_in_flight() -> None:
    summary = pd.DataFrame({"messages_sent": [5, 4, 7], "messages": [3, 4, 7]})
    out = messages_in_flight(summary)
    assert out.name == "messages_in_flight"
    assert out.tolist() == [2, 0, 0]


def test_transmissions(trace: pd.DataFrame) -> None:
    out = transmissions(trace)
    assert list(out.columns) == ["scheme", "rep", "worker", "message", "start", "end"]
    assert out[["worker", "message", "start"]].values.tolist() == [
        [0, 1, 1.0], [0, 2, 2.0], [1, 1, 2.5]]
    np.testing.assert_allclose(out["end"], [1.5, 3.0, math.nan])


def test_computations(trace: pd.DataFrame) -> None:
    out = computations(trace)
    assert list(out.columns) == ["scheme", "rep", "worker", "computation", "start", "end"]
    assert out[["scheme", "worker", "computation"]].values.tolist() == [
        ["A", 0, 1], ["A", 0, 2], ["A", 1, 1], ["B", 0, 1]]
    np.testing.assert_allclose(out["start"], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(out["end"], [1.0, 2.0, 2.5, 1.0])


def test_trace_utilities_on_a_simulated_trace() -> None:
    res = simulate("UC-MMC", 4, 2, reps=1, network="fifo", message_size=1e6,
                   master_bandwidth=1e8, trace=True)
    assert res.trace is not None
    t = res.trace
    link = link_utilization(t, 1e6, 1e8)
    assert ((link["utilization"] >= 0) & (link["utilization"] <= 1)).all()
    received = t[t["event"] == "received"]
    # The fifo link sends one message at a time, each for 10 ms, all after time 0.
    assert link["busy_time"].iloc[0] == pytest.approx(0.01 * len(received))
    sent = transmissions(t)
    assert len(sent) == res.summary["messages_sent"].iloc[0]
    ended = sent.dropna(subset=["end"])
    assert sorted(ended["end"]) == sorted(received["time"])
    keyed = received.set_index(["worker", "message"])["time"]
    for w, m, end in zip(ended["worker"], ended["message"], ended["end"], strict=True):
        assert keyed[(w, m)] == end
    busy = busy_time(t, workers=4, load=2)
    assert ((busy["utilization"] >= 0) & (busy["utilization"] <= 1)).all()
    finished = finished_work_time(t, workers=4)
    assert (busy["busy_time"] >= finished["finished_work_time"]).all()
    assert len(computations(t)) == res.summary["computations"].iloc[0]
    assert (messages_in_flight(res.summary) >= 0).all()


def test_docstring_examples_run() -> None:
    for module in (frames, plots):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0


def test_package_exports() -> None:
    for name in analysis.__all__:
        assert callable(getattr(analysis, name))
    assert analysis.ecdf is ecdf
    with pytest.raises(AttributeError):
        _ = analysis.no_such_function


# --- figures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for scheme, speed in (("GC", 1.0), ("LCC", 0.6)):
        for load in (2, 4):
            for bandwidth in (1e8, 1e9):
                t = speed * (0.1 + rng.exponential(0.1, 20)) * (1 + 1e8 / bandwidth)
                rows.append(pd.DataFrame({
                    "scheme": scheme, "load": load, "master_bandwidth": bandwidth,
                    "rep": np.arange(20), "completion_time": t,
                    "messages": rng.integers(3, 8, 20), "messages_sent": 8}))
    return pd.concat(rows, ignore_index=True)


def _axes(fig: Figure) -> plt.Axes:
    assert isinstance(fig, Figure)
    return fig.axes[0]


def test_plot_cdf(summary: pd.DataFrame) -> None:
    empirical = ecdf(summary).rename(columns={"completion_time": "time"})
    t = np.linspace(0, 1, 50)
    closed = pd.DataFrame({"scheme": np.repeat(["GC", "LCC"], 50), "time": np.tile(t, 2),
                           "cdf": np.tile(1 - np.exp(-5 * t), 2)})
    curves = pd.concat([closed.assign(method="closed form"),
                        empirical.assign(method="Monte Carlo")], ignore_index=True)
    ax = _axes(plots.plot_cdf(curves, style="method", title="N = 4"))
    assert ax.get_xlabel() == "completion time T (s)"
    assert ax.get_ylabel().startswith("CDF")
    assert ax.get_title() == "N = 4"


def test_plot_ecdf(summary: pd.DataFrame) -> None:
    ax = _axes(plots.plot_ecdf(summary))
    assert ax.get_xlabel() == "completion time T (s)"
    assert ax.get_ylabel().startswith("CDF")


def test_plot_metric_vs(summary: pd.DataFrame) -> None:
    ax = _axes(plots.plot_metric_vs(summary, "load", "completion_time"))
    assert ax.get_xlabel() == "load r (computations per worker)"
    assert ax.get_ylabel() == "mean completion time T (s)"
    ax = _axes(plots.plot_metric_vs(summary, "master_bandwidth", "messages", log_x=True,
                                    ylabel="messages received by T"))
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "master bandwidth B (bytes/s)"
    assert ax.get_ylabel() == "messages received by T"


def test_plot_best_heatmap(summary: pd.DataFrame) -> None:
    table = analysis.summarize(summary, by=["scheme", "load", "master_bandwidth"])
    best = best_by_group(table, ["load", "master_bandwidth"])
    fig = plots.plot_best_heatmap(best, "master_bandwidth", "load")
    ax = _axes(fig)
    assert ax.get_xlabel() == "master bandwidth B (bytes/s)"
    assert ax.get_ylabel() == "load r (computations per worker)"
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(best) == 4
    assert sorted(t.split("\n")[0] for t in texts) == sorted(best["best"])
    colorbar = fig.axes[-1]
    assert {t.get_text() for t in colorbar.get_yticklabels()} <= {"GC", "LCC"}


def test_best_heatmap_annotations() -> None:
    best = pd.DataFrame({"x": [1, 2, 1], "y": [1, 1, 2], "best": ["A", "B", "A"],
                         "relative_margin": [0.12, 0.004, math.nan]})
    ax = _axes(plots.plot_best_heatmap(best, "x", "y"))
    assert sorted(t.get_text() for t in ax.texts) == ["A", "A\n+12%", "B\n+0.4%"]


def test_plot_frontier(summary: pd.DataFrame) -> None:
    table = analysis.summarize(summary, by=["scheme", "load"])
    ax = _axes(plots.plot_frontier(table, annotate="load"))
    assert ax.get_xlabel() == "mean messages received by T"
    assert ax.get_ylabel() == "mean completion time E[T] (s)"
    legend = ax.get_legend()
    assert legend is not None
    assert "Pareto optimal" in [t.get_text() for t in legend.get_texts()]


def test_plot_timeline_and_save(trace: pd.DataFrame, tmp_path: Path) -> None:
    fig = plots.plot_timeline(trace, "A", 0, message_size=1.0, master_bandwidth=2.0,
                              workers=3)
    ax = _axes(fig)
    assert ax.get_xlabel() == "time (s)"
    assert "A" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "worker 0", "worker 1", "worker 2", "master link"]
    assert any(np.asarray(line.get_xdata())[0] == 3.0 for line in ax.get_lines())  # T
    written = plots.save(fig, tmp_path / "out" / "timeline_r0.5", formats=("png", "pdf"))
    assert [p.name for p in written] == ["timeline_r0.5.png", "timeline_r0.5.pdf"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(p.stat().st_size > 0 for p in written)
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="no events"):
        plots.plot_timeline(trace, "C", 0)


def test_plot_timeline_of_a_simulated_trace(tmp_path: Path) -> None:
    res = simulate(["UC-MMC", "LCC"], 6, 2, reps=1, network="fifo", message_size="1MB",
                   master_bandwidth="100MB/s", trace=True)
    assert res.trace is not None
    fig = plots.plot_timeline(res.trace, "LCC", 0)
    (png,) = plots.save(fig, tmp_path / "lcc")
    assert png.suffix == ".png" and png.stat().st_size > 0
