"""The network scenarios end to end at small size: their files, their tables, and one
checkable property of each result."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pssim
from pssim.analysis import load_sweep
from pssim.config import Config
from pssim.scenarios import best_scheme_map, bottleneck_bandwidth
from pssim.scenarios.common import _REGISTRY as scenario_registry
from pssim.scenarios.common import Scenario, execute

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_COLUMNS = ["n", "mean_completion_time", "ci_low", "ci_high", "mean_messages",
                   "mean_bytes"]


def check_files(folder: Path, names: list[str]) -> None:
    for name in names:
        path = folder / name
        assert path.is_file(), name
        assert path.stat().st_size > 0, name


def check_config(folder: Path, reps: int, seed: int) -> dict:
    config = json.loads((folder / "config.json").read_text())
    assert config["reps"] == reps
    assert config["seed"] == seed
    return config


#: tcp's bandwidths in the bottleneck study's test.
TCP_BANDWIDTHS = [1e8, 1e10]


def figures(*stems: str) -> list[str]:
    return [f"{s}.{ext}" for s in stems for ext in ("png", "csv")]


@pytest.fixture(scope="module")
def bottleneck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bottleneck_bandwidth")
    # SimPy's fair network costs ~2 ms per realization and scheme, tcp ~2 s: 20, and 1
    # at two bandwidths, keep the test short.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bottleneck_bandwidth, "FAIR_MIN_REPS", 20)
        mp.setattr(bottleneck_bandwidth, "TCP_REPS", 1)
        mp.setitem(scenario_registry, "bottleneck_bandwidth",
                   bottleneck_bandwidth.scenario(tcp_bandwidths=TCP_BANDWIDTHS))
        execute("bottleneck_bandwidth", 300, 3, out, svg=False, progress=False,
                executor="serial")
    return out


def test_bottleneck_files_and_tables(bottleneck: Path) -> None:
    check_files(bottleneck, ["summary.csv", "ranking.csv",
                             "ranking_changes.csv", "finding.txt", "fastest_by_network.csv",
                             *figures("completion_time_fifo", "completion_time_fair",
                                      "completion_time_tcp", "communication_load_fifo",
                                      "communication_load_fair", "communication_load_tcp")])
    config = check_config(bottleneck, 300, 3)
    assert config["reps_per_network"] == {"fifo": 300, "fair": 20, "tcp": 1, "none": 300}
    data = load_sweep(bottleneck)
    assert {"scheme", "network", "master_bandwidth", "rep", "completion_time", "messages",
            "bytes"} <= set(data.columns)
    counts = data.groupby("network").size()
    bandwidths = len(bottleneck_bandwidth.SCENARIO.factors["master_bandwidth"])
    assert counts["fifo"] == bandwidths * 6 * 300
    assert counts["fair"] == bandwidths * 6 * 20
    assert counts["tcp"] == len(TCP_BANDWIDTHS) * 6 * 1
    assert counts["none"] == 6 * 300
    summary = pd.read_csv(bottleneck / "summary.csv")
    assert list(summary.columns) == [*bottleneck_bandwidth.SUMMARY_KEYS, *SUMMARY_COLUMNS]
    ranking = pd.read_csv(bottleneck / "ranking.csv")
    assert list(ranking.columns[:4]) == ["network", "master_bandwidth", "rank", "scheme"]
    assert (ranking.groupby(["network", "master_bandwidth"])["rank"].max() == 6).all()
    changes = pd.read_csv(bottleneck / "ranking_changes.csv")
    assert list(changes.columns[:5]) == ["network", "from_bandwidth", "to_bandwidth",
                                         "fastest_before", "fastest_after"]


def test_bottleneck_ranking_follows_the_bandwidth(bottleneck: Path) -> None:
    summary = pd.read_csv(bottleneck / "summary.csv")
    mean = summary.set_index(["network", "master_bandwidth", "scheme"])["mean_completion_time"]
    bandwidths = bottleneck_bandwidth.SCENARIO.factors["master_bandwidth"]
    fast, slow = max(bandwidths), min(bandwidths)
    # A fast link leaves the compute-only order of network none: LCC-MMC < LCC < GC.
    for net, b in (("fifo", fast), ("fair", fast), ("none", np.inf)):
        assert mean[(net, b, "LCC-MMC")] < mean[(net, b, "LCC")] < mean[(net, b, "GC")]
    # A slow link is all that counts: LCC-MMC's 79 messages of 4 MB need 31.6 s at 1e7
    # bytes/s, LCC's 19 only 7.6 s.
    size = bottleneck_bandwidth.SCENARIO.base["message_size"]
    assert mean[("fifo", slow, "LCC-MMC")] >= 79 * size / slow
    assert mean[("fifo", slow, "LCC")] >= 19 * size / slow
    assert mean[("fifo", slow, "LCC")] < mean[("fifo", slow, "LCC-MMC")]


def test_bottleneck_changes_and_finding_agree_with_ranking(bottleneck: Path) -> None:
    ranking = pd.read_csv(bottleneck / "ranking.csv")
    first = ranking[ranking["rank"] == 1].set_index(["network", "master_bandwidth"])["scheme"]
    changes = pd.read_csv(bottleneck / "ranking_changes.csv")
    for net in ("fifo", "fair"):
        winners = first[net].sort_index()
        expected = [(a, b, x, y) for (a, x), (b, y) in
                    zip(winners.items(), list(winners.items())[1:], strict=False) if x != y]
        rows = changes[changes["network"] == net]
        assert list(rows[["from_bandwidth", "to_bandwidth", "fastest_before",
                          "fastest_after"]].itertuples(index=False, name=None)) == expected
    assert len(changes[changes["network"] == "fifo"]) >= 1
    text = (bottleneck / "finding.txt").read_text()
    assert "Under fifo" in text and "Under fair" in text and "Under tcp" in text
    fastest = pd.read_csv(bottleneck / "fastest_by_network.csv")
    for net in ("fifo", "fair", "tcp"):
        assert list(fastest[net].dropna()) == list(first[net].sort_index())
    # tcp runs at fewer bandwidths: where it has none, fifo and fair decide.
    assert list(fastest["differ"]) == [len({a, b, c} - {np.nan}) > 1 for a, b, c in
                                       zip(fastest["fifo"], fastest["fair"],
                                           fastest["tcp"].where(fastest["tcp"].notna(),
                                                                np.nan), strict=True)]
    if fastest["differ"].any():
        assert "depends on the network" in text
    else:
        assert "agree on the fastest scheme at every bandwidth" in text
    for row in changes.itertuples():
        assert str(row.fastest_after) in text


def test_finding_when_the_fastest_never_changes() -> None:
    summary = pd.DataFrame({"network": "fifo", "master_bandwidth": [1e7, 1e7, 1e9, 1e9],
                            "scheme": ["LCC", "GC"] * 2,
                            "mean_completion_time": [1.0, 2.0, 0.5, 0.6],
                            "mean_messages": [19.0, 37.0, 19.0, 37.0]})
    assert bottleneck_bandwidth.ranking_changes(summary).empty
    assert bottleneck_bandwidth.finding(summary) == (
        "Under fifo, LCC (19 messages) is fastest at B = 1e7 B/s and stays fastest up to "
        "1e9 B/s.")


def test_best_scheme_map(tmp_path: Path) -> None:
    execute("best_scheme_map", 200, 5, tmp_path, svg=False, progress=False, executor="serial")
    check_files(tmp_path, ["summary.csv", "frontier.csv",
                           *figures("best", "best_lcc_family", "frontier_r8")])
    check_config(tmp_path, 200, 5)
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns) == [*best_scheme_map.SUMMARY_KEYS, "paper_scheme",
                                     *SUMMARY_COLUMNS]
    factors = best_scheme_map.SCENARIO.factors
    cells = len(factors["load"]) * len(factors["master_bandwidth"])
    by = ["master_bandwidth", "load"]
    for name, rows in (("best", summary[summary["paper_scheme"]]),
                       ("best_lcc_family", summary)):
        best = pd.read_csv(tmp_path / f"{name}.csv")
        assert list(best.columns) == [*by, "best", "best_value", "runner_up",
                                      "runner_up_value", "margin", "relative_margin"]
        assert len(best) == cells
        # At r = 2, GC, LCC and LCC-MMC-2 are one scheme, named "GC = LCC = LCC-MMC-2".
        first = best.assign(scheme=best["best"].str.split(" = ").str[0])
        merged = first.merge(rows, on=[*by, "scheme"])
        lowest = rows.groupby(by)["mean_completion_time"].min()
        assert len(merged) == cells
        assert set(best.loc[best["load"] == 2, "best"]) >= {"GC = LCC = LCC-MMC-2"}
        one = best[best["best"] == "GC = LCC = LCC-MMC-2"]
        assert not one["runner_up"].isin(["GC", "LCC", "LCC-MMC-2"]).any()
        assert np.allclose(merged.set_index(by)["mean_completion_time"].sort_index(),
                           lowest.sort_index())
        assert (best["relative_margin"] >= 0).all()
    # LCC(p) appears where p divides r and is a new scheme.
    assert set(summary.loc[summary["load"] == 8, "scheme"]) == {
        "GC", "LCC", "LCC-MMC", "LCC-MMC-2", "UC-MMC", "UC-MMC-PG", "LCC(4)"}
    frontier = pd.read_csv(tmp_path / "frontier.csv")
    assert "pareto" in frontier.columns
    for _, cell in frontier.groupby(["load", "master_bandwidth"]):
        optimal = cell[cell["pareto"]]
        # Whatever else, the fastest and the lightest scheme are on the frontier.
        assert cell["mean_completion_time"].min() in optimal["mean_completion_time"].values
        assert cell["mean_messages"].min() in optimal["mean_messages"].values
    point = pd.read_csv(tmp_path / "frontier_r8.csv")
    assert (point["load"] == 8).all() and (point["master_bandwidth"] == 1e9).all()


def test_timeline(tmp_path: Path) -> None:
    execute("timeline", 3, 2, tmp_path, svg=False, progress=False, executor="serial")
    check_files(tmp_path, ["trace.parquet", "summary.csv", "link_utilization.csv",
                           *figures("timeline_UC-MMC", "timeline_LCC")])
    check_config(tmp_path, 3, 2)
    trace = pd.read_parquet(tmp_path / "trace.parquet")
    summary = pd.read_csv(tmp_path / "summary.csv")
    done = trace[trace["event"] == "complete"].set_index(["scheme", "rep"])["time"]
    t = summary.set_index(["scheme", "rep"])["completion_time"]
    assert len(done) == len(t) == 2 * 3
    assert (done.sort_index() == t.sort_index()).all()
    bars = pd.read_csv(tmp_path / "timeline_LCC.csv")
    assert list(bars.columns) == ["scheme", "rep", "kind", "worker", "index", "start", "end"]
    assert set(bars["kind"]) == {"computation", "transmission", "master_link"}
    assert (bars["rep"] == 0).all()
    # Nothing drawn starts after T.
    assert (bars["start"] <= t[("LCC", 0)]).all()


def test_timeline_runs_as_a_module(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pssim", "scenario", "timeline", "--reps",
                           "1", "--out", str(tmp_path), "--executor", "serial"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    check_files(tmp_path, ["trace.parquet", "config.json",
                           *figures("timeline_UC-MMC", "timeline_LCC")])


def test_bottleneck_load_shows_transmissions_begun_beside_messages_used(
        bottleneck: Path) -> None:
    load = pd.read_csv(bottleneck / "load.csv")
    assert list(load.columns) == ["network", "master_bandwidth", "scheme", "mean_messages",
                                  "mean_messages_sent"]
    assert (load["mean_messages_sent"] >= load["mean_messages"]).all()
    # At 1e7 B/s a 4 MB message holds the master's link for 0.4 s: LCC's workers have all
    # begun sending (40) long before its 19th message is through.
    slow = load[(load["network"] == "fifo") & (load["master_bandwidth"] == 1e7)]
    lcc = slow.set_index("scheme").loc["LCC"]
    assert lcc["mean_messages"] == 19 and lcc["mean_messages_sent"] == 40


def test_training_scenario(tmp_path: Path) -> None:
    from pssim.scenarios import training

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training, "SINGLE_REPS", 200)
        # tcp costs about 0.2 s per iteration and scheme here: 2 iterations.
        mp.setattr(training, "COMPARE_ITERATIONS", 2)
        mp.setitem(scenario_registry, "training", dataclasses.replace(
            training.SCENARIO, extra_points=training.extra_points()))
        execute("training", 1, 4, tmp_path, svg=False, progress=False, executor="serial",
                overrides={"iterations": "5"})
    networks = pd.read_csv(tmp_path / "networks.csv")
    assert set(networks["network"]) == {"fifo", "fair", "tcp"}
    assert (networks["n"] == 1).all() and len(networks) == 3 * 6
    best = networks[networks["rank"] == 1].set_index("network")["scheme"]
    text = (tmp_path / "finding.txt").read_text()
    assert all(f"{net} {best[net]}" in text for net in ("fifo", "fair", "tcp"))
    check_files(tmp_path, ["training_time.csv", "coupling_cost.csv", "fastest.csv",
                           "finding.txt", "networks.csv",
                           *figures("training_time_cancel", "training_time_drain",
                                    "progress", "timeline_iterations")])
    cost = pd.read_csv(tmp_path / "coupling_cost.csv")
    assert set(cost["late_policy"]) == {"cancel", "drain"}
    assert len(cost) == 2 * 5 * 6
    # Training time is the sum of its iterations: at least 5 times the fastest of them.
    assert (cost["mean_training_time"] > 0).all()
    assert (cost["without_coupling"] > 0).all()
    data = load_sweep(tmp_path)
    runs = data[data["iterations"] == 5]
    assert sorted(set(runs["iteration"])) == [0, 1, 2, 3, 4]
    assert "Under cancel" in (tmp_path / "finding.txt").read_text()


def test_stragglers_scenario(tmp_path: Path) -> None:
    from pssim.scenarios import stragglers

    execute("stragglers", 2, 4, tmp_path, svg=False, progress=False, executor="serial",
            overrides={"iterations": "3"})
    check_files(tmp_path, ["training_time.csv", "fastest.csv", "finding.txt",
                           *figures(*(f"{s}_{n}" for s in ("markov", "persistent", "pareto")
                                      for n in ("none", "fifo")))])
    table = pd.read_csv(tmp_path / "training_time.csv")
    fastest = pd.read_csv(tmp_path / "fastest.csv")
    assert len(fastest) == len(stragglers.POINTS) == 2 * len(stragglers.SETTINGS)
    keys = ["network", "study", "value"]
    for row in fastest.itertuples():
        part = table[(table["network"] == row.network) & (table["study"] == row.study)
                     & (table["value"] == row.value)].set_index("scheme")
        assert part["mean_training_time"].min() == row.best_value
        assert part["mean_training_time"].idxmin() == row.best
        single = part.loc[list(stragglers.SINGLE_MESSAGE), "mean_training_time"].min()
        multi = part.drop(index=list(stragglers.SINGLE_MESSAGE))["mean_training_time"].min()
        assert row.multi_lead == pytest.approx(1 - multi / single, rel=1e-12)
    # The base point is the paper's model without a network: a plain run of it, with the
    # root seed, gives the same training times.
    plain = pssim.run("all", workers=40, load=4, iterations=3, reps=2, seed=4,
                      message_size=4e6, model_size=4e6, downlink_bandwidth=1.25e9)
    ends = plain[plain["iteration"] == 2].groupby("scheme")["end"].mean()
    base = table[(table["network"] == "none") & (table["study"] == "persistent")
                 & (table["value"] == 0)].set_index("scheme")["mean_training_time"]
    pd.testing.assert_series_equal(base.sort_index(), ends.sort_index(), check_names=False)
    assert not fastest[keys].duplicated().any()
    assert "multi-message schemes" in (tmp_path / "finding.txt").read_text()



def test_a_point_split_by_scheme_gives_the_same_rows(tmp_path: Path) -> None:
    """split_schemes runs each scheme of a point as a point of its own: its rows are those
    of the point run whole (a training run under fair, on common random numbers: a
    scheme's realizations draw the same numbers whatever the other schemes)."""
    frames = {}
    for split in (False, True):
        scenario = Scenario(
            name="split", description="", default_reps=3, report=lambda study, out: None,
            base={"scheme": ["all"], "workers": 8, "load": 2, "network": "fair",
                  "master_bandwidth": 1e8, "message_size": 4e6, "iterations": 3},
            factors={"late_policy": ["cancel", "drain"]}, chunk_size=4,
            split_schemes=(lambda point: point.late_policy == "drain") if split else None)
        points = scenario.points(Config(**scenario.base))
        assert len(points) == (1 + 6 if split else 2)
        folder = tmp_path / str(split)
        scenario.run(3, 5, folder, executor="serial")
        frames[split] = load_sweep(folder)
    # The drain point's six schemes are points 1 to 6 of the split run.
    assert frames[True].groupby("point")["scheme"].nunique().tolist() == [6] + [1] * 6
    keys = ["late_policy", "scheme", "rep", "iteration"]
    whole, split = (frames[s].drop(columns="point").sort_values(keys).reset_index(drop=True)
                    for s in (False, True))
    pd.testing.assert_frame_equal(split, whole, check_exact=True)


def test_a_network_of_one_realization_a_point_draws_no_interval(bottleneck: Path) -> None:
    """tcp's points have one realization here, as in make run: no interval, so neither a
    band nor a legend entry saying there is one; fifo's have both."""
    import matplotlib.text

    summary = pd.read_csv(bottleneck / "summary.csv")
    reference = summary[summary["network"] == "none"]
    for net, shown in (("tcp", False), ("fifo", True)):
        fig = bottleneck_bandwidth._plot(summary[summary["network"] == net], reference,
                                         "mean_completion_time", "T", log_y=True, title=net)
        texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        assert any(t.startswith("band:") for t in texts) == shown, net
