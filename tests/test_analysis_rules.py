"""The rules behind the analysis tables and figures, on hand-made data with known answers:
busy time with the computation under way at T, the claims table's cut-offs, ties on the
best-scheme map (paired on common random numbers), confidence intervals with few
realizations, and what the figures' legends, scales and layers show."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

import pssim.analysis as analysis
from pssim.analysis import frames, plots
from pssim.analysis.frames import busy_time, finished_work_time, paired_margin
from pssim.analysis.summary import summarize
from pssim.config import Config
from pssim.scenarios import best_scheme_map, paper_fig2
from pssim.scenarios.common import Output, Study

#: Two-sided 95% Student-t quantiles t(0.975, df), from any printed table.
T975 = {1: 12.706, 2: 4.303}


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def trace_of(rows: list[tuple[float, int | None, str, int | None, int | None]]
             ) -> pd.DataFrame:
    """A one-iteration trace (scheme A, rep 0) from (time, worker, event, computation,
    message) rows, None for missing."""
    time, worker, event, computation, message = zip(*rows, strict=True)
    return pd.DataFrame({
        "scheme": "A", "rep": 0, "time": np.array(time, dtype=float),
        "worker": pd.array(worker, dtype="Int64"), "event": list(event),
        "computation": pd.array(computation, dtype="Int64"),
        "message": pd.array(message, dtype="Int64"), "bytes": math.nan})


@pytest.fixture
def straggler_trace() -> pd.DataFrame:
    # r = 2, T = 2.5. Worker 0 finishes both computations (at 1 and 2) and idles after;
    # worker 1 finishes one (at 1.5) and computes the second from 1.5 to T; worker 2 is a
    # straggler that finishes nothing: it computed for all of [0, T].
    return trace_of([
        (1.0, 0, "compute_done", 1, None),
        (1.5, 1, "compute_done", 1, None),
        (2.0, 0, "compute_done", 2, None),
        (2.5, None, "complete", None, None),
    ])


# --- item 25: busy time -----------------------------------------------------------------

def test_a_straggler_that_computed_all_along_is_busy_not_idle(
        straggler_trace: pd.DataFrame) -> None:
    out = busy_time(straggler_trace, workers=3, load=2)
    assert out["worker"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(out["busy_time"], [2.0, 2.5, 2.5])
    np.testing.assert_allclose(out["utilization"], [0.8, 1.0, 1.0])
    # With r = 3 worker 0 was computing its third computation at T as well.
    np.testing.assert_allclose(busy_time(straggler_trace, workers=3, load=3)["busy_time"],
                               [2.5, 2.5, 2.5])


def test_finished_work_time_counts_only_finished_computations(
        straggler_trace: pd.DataFrame) -> None:
    out = finished_work_time(straggler_trace, workers=3)
    np.testing.assert_allclose(out["finished_work_time"], [2.0, 1.5, 0.0])
    assert analysis.finished_work_time is frames.finished_work_time
    assert "finished_work_time" in analysis.__all__


def test_busy_time_needs_a_load_consistent_with_the_trace(
        straggler_trace: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="load"):
        busy_time(straggler_trace, load=1)  # worker 0 finished two
    with pytest.raises(ValueError, match="load"):
        busy_time(straggler_trace, load=0)


# --- item 26 (a): the claims table's rule -----------------------------------------------

def claims_data() -> pd.DataFrame:
    """Two realizations per (scheme, r), both alike, at r = 2 and 4."""
    times = {"LCC": 1.0, "UC-MMC-PG": 0.5, "UC-MMC": 0.8, "LCC-MMC": 0.9, "GC": 1.2,
             "LCC-MMC-2": 1.0}
    messages = {"LCC": (39, 19), "UC-MMC-PG": (55, 70), "UC-MMC": (60, 80),
                "LCC-MMC": (79, 79), "GC": (39, 39), "LCC-MMC-2": (40, 40)}
    rows = [{"scheme": s, "load": r, "rep": rep, "completion_time": times[s],
             "messages": messages[s][i]}
            for s in times for i, r in enumerate((2, 4)) for rep in (0, 1)]
    return pd.DataFrame(rows)


def rule_holds(rule: str, value: float) -> bool:
    """The claims table's rule text, read back independently of the scenario's code."""
    between = re.fullmatch(r"in \(([-\d.e]+), ([-\d.e]+)\)", rule)
    if between:
        return float(between[1]) < value < float(between[2])
    compared = re.fullmatch(r"([<>=]) ([-\d.e]+)(?: \(.*\))?", rule)
    assert compared is not None, rule
    op, bound = compared.groups()
    return {"<": value < float(bound), ">": value > float(bound),
            "=": value == float(bound)}[op]


def test_claims_table_shows_the_rule_that_decides_holds() -> None:
    config = Config(**{**paper_fig2.SCENARIO.base, "reps": 2, "seed": 0})
    table = paper_fig2.claims(claims_data(), config).set_index("claim", drop=False)
    assert list(table.columns) == ["claim", "paper", "measured", "se", "rule", "holds"]
    # UC-MMC-PG takes 0.5 where LCC takes 1: a reduction of exactly 0.5, not above it.
    first = table.iloc[0]
    assert (first["measured"], first["rule"], first["holds"]) == (0.5, "> 0.5", False)
    lowest = table.loc["LCC has the lowest load (count of r)"]
    assert (lowest["measured"], lowest["rule"], lowest["holds"]) == (2, "= 2 (all r)", True)
    # LCC-MMC's 79 messages top UC-MMC's 60 and 80 at r = 2.
    highest = table.loc["UC-MMC has the highest load (count of r)"]
    assert (highest["measured"], highest["rule"], highest["holds"]) == (1, "= 2 (all r)",
                                                                         False)
    half = table.loc["LCC-MMC-2 / LCC-MMC messages (mean over even r)"]
    assert (half["rule"], half["holds"]) == ("in (0.4, 0.6)", True)  # 40 / 79
    for row in table.itertuples():
        assert rule_holds(row.rule, row.measured) == row.holds, row.claim


# --- item 26 (b): ties on the best-scheme map -------------------------------------------

def test_paired_margin_pairs_realizations_by_rep() -> None:
    data = pd.DataFrame({
        "load": [2] * 6 + [4] * 6 + [6] * 2 + [8] * 4,
        "scheme": ["A"] * 3 + ["B"] * 3 + ["A"] * 3 + ["B"] * 3 + ["A"] * 2 + ["A", "A",
                                                                                "B", "B"],
        # B's rows at load 2 come in rep order 2, 0, 1: pairing goes by rep, not by row.
        "rep": [0, 1, 2, 2, 0, 1] + [0, 1, 2] * 2 + [0, 1] + [0, 1] * 2,
        "completion_time": [1.0, 5.0, 9.0, 9.5, 1.5, 5.5,    # B = A + 0.5, rep by rep
                            1.0, 2.0, 3.0, 2.0, 3.0, 4.5,    # d = 1, 1, 1.5
                            1.0, 2.0,                        # A alone
                            1.0, 2.0, 1.0, 2.0],             # identical
    })
    out = paired_margin(data, "load")
    assert out["load"].tolist() == [2, 4, 6, 8]
    assert out["best"].tolist() == ["A"] * 4
    assert out["pairs"].tolist() == [3, 3, 0, 2]
    # Load 2: B is slower by 0.5 in every realization; unpaired, the spread of A (1 to 9)
    # would hide it.
    two = out.iloc[0]
    assert (two["runner_up"], two["mean_difference"], two["se"]) == ("B", 0.5, 0.0)
    assert bool(two["significant"])
    # Load 4: mean d = 7/6, sd = √(1/12), se = 1/6, interval 7/6 ± 4.303/6.
    four = out.iloc[1]
    assert four["mean_difference"] == pytest.approx(7 / 6)
    assert four["se"] == pytest.approx(1 / 6)
    assert four["ci_low"] == pytest.approx(7 / 6 - T975[2] / 6, rel=1e-3)
    assert four["ci_high"] == pytest.approx(7 / 6 + T975[2] / 6, rel=1e-3)
    assert bool(four["significant"])
    # Load 6: no runner-up, nothing to test.
    assert pd.isna(out.iloc[2]["runner_up"]) and pd.isna(out.iloc[2]["significant"])
    # Load 8: identical realizations are a tie.
    eight = out.iloc[3]
    assert (eight["mean_difference"], eight["ci_low"], eight["ci_high"]) == (0.0, 0.0, 0.0)
    assert not bool(eight["significant"])


def test_paired_margin_with_one_pair_or_a_real_doubt_is_a_tie() -> None:
    data = pd.DataFrame({"load": [2, 2, 4, 4, 4, 4, 4, 4], "scheme": list("ABAAABBB"),
                         "rep": [0, 0, 0, 1, 2, 0, 1, 2],
                         # Load 4: d = 2, −1, −0.5, mean 1/6; sd 1.53 leaves 0 inside.
                         "completion_time": [1.0, 2.0, 1.0, 2.0, 3.0, 3.0, 1.0, 2.5]})
    out = paired_margin(data, "load")
    assert out["pairs"].tolist() == [1, 3]
    assert math.isnan(out.iloc[0]["se"]) and math.isnan(out.iloc[0]["ci_low"])
    assert out["significant"].tolist() == [False, False]
    assert out.iloc[1]["mean_difference"] == pytest.approx(1 / 6)
    with pytest.raises(ValueError, match="rep"):
        paired_margin(pd.concat([data, data]), "load")


def heatmap_ties(fig: Figure) -> tuple[list[tuple[float, float]], list[str]]:
    """The cells hatched on a heatmap and the texts of the figure's legends."""
    ax = fig.axes[0]
    hatched = [p.get_xy() for p in ax.patches if p.get_hatch()]
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    return [(float(x), float(y)) for x, y in hatched], texts


def test_best_heatmap_hatches_ties_and_says_so_in_its_legend() -> None:
    best = pd.DataFrame({"x": [1, 2, 1, 2], "y": [1, 1, 2, 2], "best": ["A", "B", "A", "A"],
                         "relative_margin": [0.12, 0.004, 0.3, math.nan],
                         "significant": pd.array([True, False, True, None],
                                                 dtype="boolean")})
    fig = plots.plot_best_heatmap(best, "x", "y", significant="significant")
    hatched, texts = heatmap_ties(fig)
    # Only (x = 2, y = 1), column 1 and row 0 of the grid; a cell without a runner-up
    # (None) is no tie.
    assert hatched == [(1.0, 0.0)]
    assert texts == [plots.TIE_LABEL]
    assert "tie" in texts[0] and "not significantly faster" in texts[0]


def test_best_scheme_map_marks_ties_from_the_realizations(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[list[tuple[float, float]], list[str]]] = []
    real = plots.plot_best_heatmap

    def spy(*args: Any, **kwargs: Any) -> Figure:
        fig = real(*args, **kwargs)
        drawn.append(heatmap_ties(fig))
        return fig

    monkeypatch.setattr(plots, "plot_best_heatmap", spy)
    times = {  # per master bandwidth: GC, LCC, LCC(4) over reps 0, 1, 2
        1e8: {"GC": [1.0, 2.0, 3.0], "LCC": [3.0, 1.0, 2.5], "LCC(4)": [20.0] * 3},
        1e9: {"GC": [1.0, 5.0, 9.0], "LCC": [1.5, 5.5, 9.5], "LCC(4)": [20.0] * 3}}
    messages = {"GC": 37, "LCC": 9, "LCC(4)": 19}
    data = pd.DataFrame([
        {"point": i, "load": 8, "master_bandwidth": b, "scheme": s, "rep": rep,
         "completion_time": t, "messages": messages[s], "messages_sent": messages[s],
         "computations": 40, "bytes": messages[s] * 4e6}
        for i, (b, schemes) in enumerate(times.items())
        for s, values in schemes.items() for rep, t in enumerate(values)])
    config = Config(**{**best_scheme_map.SCENARIO.base, "reps": 3, "seed": 0})
    best_scheme_map.report(Study(config, [], data), Output(tmp_path))
    for name in ("best", "best_lcc_family"):
        paired = pd.read_csv(tmp_path / f"{name}_paired.csv")
        assert paired["master_bandwidth"].tolist() == [1e8, 1e9]
        assert paired["best"].tolist() == ["GC", "GC"]
        assert paired["runner_up"].tolist() == ["LCC", "LCC"]
        # At 1e9 LCC is 0.5 slower in every realization; at 1e8 it is faster in two.
        assert paired["significant"].tolist() == [False, True]
    # Both heatmaps hatch the 1e8 cell (column 0 of one row) and explain the hatching.
    assert len(drawn) == 2
    for hatched, texts in drawn:
        assert hatched == [(0.0, 0.0)]
        assert len(texts) == 1 and "tie" in texts[0] and "paired" in texts[0]


# --- item 27: confidence intervals with few realizations --------------------------------

def test_summarize_intervals_with_one_two_and_near_zero_realizations() -> None:
    df = pd.DataFrame({"scheme": ["one", "two", "two", "zero", "zero", "zero"],
                       "completion_time": [2.0, 100.0, 102.0, 0.0, 0.0, 3.0],
                       "messages": [1, 1, 1, 1, 1, 1]})
    out = summarize(df, method_column=True).set_index("scheme")
    assert out["n"].tolist() == [1, 2, 3]
    # n = 1: a mean, no interval.
    assert out.loc["one", "mean_completion_time"] == 2.0
    assert math.isnan(out.loc["one", "ci_low"]) and math.isnan(out.loc["one", "ci_high"])
    # n = 2: mean 101, s = √2, se = 1, t with 1 degree of freedom.
    assert out.loc["two", "ci_low"] == pytest.approx(101 - T975[1], rel=1e-4)
    assert out.loc["two", "ci_high"] == pytest.approx(101 + T975[1], rel=1e-4)
    # Near zero: mean 1, s = √3, se = 1; 1 − 4.303 < 0 is clipped, the upper bound kept.
    assert out.loc["zero", "ci_low"] == 0.0
    assert out.loc["zero", "ci_high"] == pytest.approx(1 + T975[2], rel=1e-3)
    method = "Student-t 95% interval of the mean, lower bound clipped at 0"
    assert (out["ci_method"] == method).all()
    plain = summarize(df)
    assert "ci_method" not in plain.columns and plain.attrs["ci_method"] == method


def test_summarize_rejects_a_confidence_outside_0_1() -> None:
    df = pd.DataFrame({"scheme": ["A"], "completion_time": [1.0], "messages": [1]})
    with pytest.raises(ValueError, match="confidence"):
        summarize(df, confidence=95)


# --- item 28: legends, layers and scales of the figures ---------------------------------

@pytest.fixture
def realizations() -> pd.DataFrame:
    # Three schemes at two bandwidths, four realizations each: 1, 2, 3, 4 times the scale.
    rows = [{"scheme": s, "master_bandwidth": b, "rep": k, "completion_time": scale * k * b,
             "messages": 3}
            for s, scale in (("GC", 1.0), ("LCC", 2.0), ("UC-MMC", 3.0))
            for b in (1e-2, 1.0) for k in (1, 2, 3, 4)]
    return pd.DataFrame(rows)


def legend_texts(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    # Long entries are wrapped onto several lines: compared as words.
    return [" ".join(t.get_text().split()) for t in legend.get_texts()]


def test_plot_metric_vs_log_scales_and_legend(realizations: pd.DataFrame) -> None:
    fig = plots.plot_metric_vs(realizations, "master_bandwidth", "completion_time",
                               log_x=True, log_y=True)
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert {"GC", "LCC", "UC-MMC"} <= set(legend_texts(fig))
    linear = plots.plot_metric_vs(realizations, "master_bandwidth", "completion_time")
    assert linear.axes[0].get_yscale() == "linear"


def test_plot_metric_vs_names_every_level_of_a_numeric_hue() -> None:
    levels = [1, 2, 3, 5, 8, 13, 21]
    data = pd.DataFrame([{"x": x, "N": n, "completion_time": float(n + x)}
                         for n in levels for x in (1, 2)])
    assert legend_texts(plots.plot_metric_vs(data, "x", "completion_time", hue="N")) == [
        str(n) for n in levels]


def test_plot_summary_vs_bands_have_their_lines_colours_and_a_legend_entry() -> None:
    table = pd.DataFrame({"load": [2, 4] * 2, "N": [10, 10, 20, 20],
                          "mean_completion_time": [1.0, 2.0, 3.0, 4.0],
                          "ci_low": [0.5, 1.5, 2.5, 3.5], "ci_high": [1.5, 2.5, 3.5, 4.5],
                          "ci_method": "Student-t 95% interval of the mean"})
    fig = plots.plot_summary_vs(table, "load", "mean_completion_time", hue="N")
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    named = {text.get_text(): to_rgb(handle.get_color())
             for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
             if text.get_text() in ("10", "20")}
    bands = [to_rgb(c.get_facecolor()[0]) for c in ax.collections]
    assert bands == [named["10"], named["20"]]
    assert "band: Student-t 95% interval of the mean" in legend_texts(fig)


def test_plot_cdf_draws_monte_carlo_above_the_closed_forms() -> None:
    t = np.array([0.0, 0.5, 1.0])
    closed = pd.DataFrame({"scheme": np.repeat(["GC", "LCC"], 3), "time": np.tile(t, 2),
                           "cdf": [0.0, 0.5, 1.0, 0.0, 0.75, 1.0]})
    # Monte Carlo first in the table: the layers must not depend on the rows' order.
    curves = pd.concat([closed.assign(source="Monte Carlo (4 realizations)"),
                        closed.assign(source="closed form")], ignore_index=True)
    fig = plots.plot_cdf(curves, style="source")
    lines = fig.axes[0].get_lines()
    closed_forms = [line for line in lines if line.get_linestyle() == "--"]
    monte_carlo = [line for line in lines if line.get_linestyle() == "-"]
    assert len(closed_forms) == len(monte_carlo) == 2
    assert max(line.get_zorder() for line in closed_forms) < min(
        line.get_zorder() for line in monte_carlo)
    assert max(line.get_linewidth() for line in monte_carlo) < min(
        line.get_linewidth() for line in closed_forms)
    assert set(legend_texts(fig)) == {"GC", "LCC", "closed form",
                                      "Monte Carlo (4 realizations)"}


def test_plot_timeline_legend_names_every_colour() -> None:
    # Worker 0 computes three times (both shades), sends once (received) and again (still
    # under way at T); worker 1 has not finished its first computation at T = 4.
    trace = trace_of([
        (1.0, 0, "compute_done", 1, None),
        (1.0, 0, "send_start", None, 1),
        (1.5, 0, "received", None, 1),
        (2.0, 0, "compute_done", 2, None),
        (3.0, 0, "compute_done", 3, None),
        (3.0, 0, "send_start", None, 2),
        (4.0, None, "complete", None, None),
    ])
    fig = plots.plot_timeline(trace, "A", 0, message_size=1.0, master_bandwidth=2.0,
                              workers=2, load=3)
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    filled, hatched = set(), set()
    for handle in legend.legend_handles:
        if handle is None or not hasattr(handle, "get_hatch"):
            continue
        if handle.get_hatch():
            hatched.add(to_rgb(handle.get_edgecolor()))
        else:
            filled.add(to_rgb(handle.get_facecolor()))
    for bars in ax.collections:
        faces, edges = bars.get_facecolors(), bars.get_edgecolors()
        if bars.get_hatch():
            assert {to_rgb(c) for c in edges} <= hatched
        else:
            assert {to_rgb(c) for c in faces if c[3] > 0} <= filled
    texts = legend_texts(fig)
    assert "computation under way at T" in texts and "transmission under way at T" in texts


def test_docstring_examples_of_the_rules_run() -> None:
    import doctest

    from pssim.analysis import summary

    for module in (summary, paper_fig2):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0


# -- 24: units and the run's own configuration ---------------------------------------------


def test_link_utilization_takes_units_and_the_runs_own_values(tmp_path: Path) -> None:
    import pssim.cli
    import pssim.provenance
    from pssim.analysis import link_utilization, load_results

    res = pssim.simulate("LCC,UC-MMC", 6, 2, reps=3, seed=1, network="fifo",
                         message_size="1MB", master_bandwidth="1GB/s", trace=True)
    trace = res.trace
    assert trace is not None
    numbers = link_utilization(trace, 1e6, 1e9)
    pd.testing.assert_frame_equal(link_utilization(trace, "1MB", "8Gbps"), numbers)
    pd.testing.assert_frame_equal(link_utilization(trace), numbers)  # from trace.attrs
    path = tmp_path / "trace.parquet"
    code = pssim.cli.main  # the file as the command line writes it
    with pytest.raises(SystemExit):
        code(["run", "--scheme", "LCC,UC-MMC", "--workers", "6", "--load", "2", "--reps",
              "3", "--seed", "1", "--network", "fifo", "--message-size", "1MB",
              "--master-bandwidth", "1GB/s", "--trace", str(path)])
    loaded = load_results(path)
    assert loaded.attrs["pssim"]["config"]["master_bandwidth"] == 1e9
    assert loaded.attrs["pssim"]["pssim_version"] == pssim.provenance.version()
    pd.testing.assert_frame_equal(link_utilization(loaded), numbers)
    with pytest.raises(pssim.ConfigError, match="master_bandwidth"):
        link_utilization(pd.DataFrame(trace))  # a plain copy carries nothing
