"""The report as a reader meets it: the progress of `pssim report`, figures a paper would
print (legends that hide no line, axes that end with the data, a note where a scheme's loss
rises, one name for schemes that are one), findings that say what each percentage is
measured against, and clear errors where a run cannot be made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pssim
from pssim.analysis.convergence import loss_curves, plot_loss_curves, rising
from pssim.analysis.frames import SAME, best_by_group, merge_identical, paired_margin
from pssim.analysis.plots import SAME_LABEL, plot_best_heatmap, plot_summary_vs
from pssim.analysis.summary import summarize
from pssim.cli import main
from pssim.scenarios import report, stragglers
from pssim.scenarios.common import execute

ROOT = Path(__file__).resolve().parents[1]


# -- 18: the report says what it runs ---------------------------------------------------------


def test_report_names_each_scenario_before_running_it(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(report, "execute",
                        lambda name, *args, **kwargs: events.append(("run", name)))
    report.make_report(tmp_path, reps=1, say=lambda line: events.append(("say", line)))
    lines = [line for kind, line in events if kind == "say"]
    runs = [name for kind, name in events if kind == "run"]
    assert runs == list(report.MAIN)
    for i, name in enumerate(report.MAIN, start=1):
        started = events.index(("say", f"[{i}/{len(report.MAIN)}] {name} "
                                       "(1 realizations per point)"))
        finished = events.index(("say", next(line for line in lines
                                             if line.startswith(f"{name}: done in "))))
        assert started < events.index(("run", name)) < finished


def test_a_scenarios_progress_bar_is_named_after_it_and_quiet_off_a_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    execute("paper_fig1", 50, 0, tmp_path / "shown", progress=True, executor="serial")
    err = capsys.readouterr().err
    assert "paper_fig1: 100%" in err and "sweep:" not in err
    # By default a bar is drawn only on a terminal; pytest's stderr is none.
    execute("paper_fig1", 50, 0, tmp_path / "quiet", progress=None, executor="serial")
    assert "100%" not in capsys.readouterr().err


# -- 19: figures ----------------------------------------------------------------------------


def _vertices(ax: Any) -> np.ndarray:
    """Every drawn data point of the lines of ``ax``, in display coordinates."""
    points = [line.get_transform().transform(np.column_stack(line.get_data()))
              for line in ax.lines if len(line.get_xdata())]
    return np.vstack(points)


def _table(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"scheme": s, "load": r, "mean_completion_time": v, "ci_low": v * 0.99,
             "ci_high": v * 1.01} for s, line in values.items()
            for r, v in zip(range(2, 2 + len(line)), line, strict=True)]
    return pd.DataFrame(rows)


def test_a_legend_with_no_room_inside_goes_outside_the_axes() -> None:
    # Six lines zigzagging over the whole height leave no room inside for the legend.
    zigzag = {f"S{k}": [float((i + k) % 2) + 0.1 * k for i in range(12)] for k in range(6)}
    fig = plot_summary_vs(_table(zigzag), "load", "mean_completion_time")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1
    assert [t.get_text() for t in ax.get_legend().get_texts()][:6] == list(zigzag)


def test_a_legend_inside_the_axes_covers_no_point_of_any_line() -> None:
    # Fig. 2(a)'s shape: one line rising, the others low; there is room on the right.
    lines = {"GC": [0.7 + 0.1 * i for i in range(9)],
             **{s: [0.7, *(0.2 + 0.02 * k for _ in range(8))]
                for k, s in enumerate(["LCC", "LCC-MMC", "UC-MMC"])}}
    fig = plot_summary_vs(_table(lines), "load", "mean_completion_time")
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert ax.get_window_extent().contains(legend.x0, legend.y0)
    assert legend.count_contains(_vertices(ax)) == 0


def test_fig2a_legend_covers_no_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pssim.analysis import plots

    drawn: dict[str, Any] = {}
    save = plots.save
    monkeypatch.setattr(plots, "save", lambda fig, path, formats=("png",): (
        drawn.__setitem__(Path(path).name, fig), save(fig, path, formats))[1])
    execute("paper_fig2", 200, 1, tmp_path, progress=False, executor="serial")
    for name in ("fig2a_completion_time", "fig2b_communication_load"):
        fig = drawn[name]
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        assert legend.count_contains(_vertices(ax)) == 0, name


def _summary(losses: dict[str, list[float]], reps: int = 3) -> pd.DataFrame:
    """Training runs whose iteration t ends at t + 1 + rep/10 s, with the given losses."""
    return pd.DataFrame([{"scheme": s, "rep": rep, "iteration": t, "end": t + 1 + rep / 10,
                          "loss": loss} for s, line in losses.items() for rep in range(reps)
                         for t, loss in enumerate(line)])


def test_loss_axis_ends_where_the_curves_do() -> None:
    summary = _summary({"A": [4.0, 2.0, 1.5], "B": [3.0, 1.2, 1.0]})
    curves = loss_curves(summary, initial_loss=5.0)
    fig = plot_loss_curves(curves, optimal_loss=1.0)
    # The last iteration of the last realization ends at 2 + 1 + 0.2 s.
    assert fig.axes[0].get_xlim() == (0.0, pytest.approx(3.2, rel=1e-12))
    assert curves["time"].max() == pytest.approx(3.2, rel=1e-12)


def test_a_note_says_why_a_schemes_loss_rises() -> None:
    from pssim.scenarios.convergence import ITERATIONS, WITHIN, rising_note

    optimal = 1.0
    summary = _summary({"steady": [3.0, 1.001, 1.0], "rising": [3.0, 1.001, 2.0]})
    curves = loss_curves(summary, initial_loss=5.0)
    # "rising" comes within 1% of f* = 1 (1.001) and ends at 2; "steady" stays there.
    assert rising(curves, (1 + WITHIN[0]) * optimal) == ["rising"]
    table = pd.DataFrame({"scheme": ["steady", "rising"], "median_final_loss": [1.0, 2.0],
                          "worst_condition_number": [10.0, 3e17],
                          "worst_gradient_error": [1e-12, 4e5]})
    note = rising_note(curves, table, optimal)
    assert note is not None
    assert note.startswith(f"rising's median loss comes within 1% of f(w*) = 1 and rises "
                           f"again, to 2 after {ITERATIONS} iterations")
    assert "condition number up to 3e+17" in note and "up to 4e+05" in note
    fig = plot_loss_curves(curves, optimal, note=note)
    assert " ".join(t.get_text() for t in fig.texts).replace("\n", " ") == note
    steady = curves[curves["scheme"] == "steady"]
    assert rising_note(steady, table, optimal) is None
    assert not plot_loss_curves(steady, optimal).texts


def test_schemes_that_are_one_at_a_cell_are_named_and_ranked_as_one() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for load in (2, 3):
        base = 1.0 + rng.exponential(0.1, 200)
        for scheme, t in (("GC", base), ("LCC", base if load == 2 else base + 0.5),
                          ("UC-MMC", base + 0.2)):
            rows += [{"load": load, "master_bandwidth": 1e9, "scheme": scheme, "rep": i,
                      "completion_time": v, "messages": 39} for i, v in enumerate(t)]
    data = pd.DataFrame(rows)
    one = merge_identical(data, ["load", "master_bandwidth"],
                          columns=("completion_time", "messages"))
    assert set(one.loc[one["load"] == 2, "scheme"]) == {f"GC{SAME}LCC", "UC-MMC"}
    assert set(one.loc[one["load"] == 3, "scheme"]) == {"GC", "LCC", "UC-MMC"}
    by = ["master_bandwidth", "load"]
    best = best_by_group(summarize(one, by=["load", "master_bandwidth", "scheme"]), by)
    paired = paired_margin(one, by)
    at2 = best[best["load"] == 2].iloc[0]
    # Against UC-MMC, 0.2 s slower in every realization: a significant win, not a tie.
    assert (at2["best"], at2["runner_up"]) == ("GC = LCC", "UC-MMC")
    assert at2["margin"] == pytest.approx(0.2, rel=1e-9)
    assert paired["significant"].all()
    marked = best.merge(paired[[*by, "significant"]], on=by)
    fig = plot_best_heatmap(marked, x="master_bandwidth", y="load", significant="significant")
    ax = fig.axes[0]
    cells = [t.get_text() for t in ax.texts]
    assert f"GC = LCC\n{at2['relative_margin']:+.0%}" in cells
    assert not any("tie" in t for t in cells)
    assert not [p for p in ax.patches if p.get_hatch()]
    assert SAME_LABEL in [t.get_text() for t in fig.legends[0].get_texts()]


# -- 20: the stragglers finding says what each percentage is measured against ----------------


def test_stragglers_finding_names_what_each_percentage_is_taken_from() -> None:
    def row(value: float, best: str, runner: str, margin: float, lead: float,
            single: str) -> dict[str, Any]:
        return {"network": "none", "study": "markov", "value": value, "best": best,
                "best_value": 8.73, "runner_up": runner, "relative_margin": margin,
                "best_multi": best, "best_single": single, "multi_lead": lead}

    kept = pd.DataFrame([row(1.0, "UC-MMC-PG", "LCC-MMC", 0.116, 0.50, "LCC"),
                         row(0.05, "UC-MMC-PG", "LCC-MMC", 0.111, 0.473, "GC")])
    text = stragglers.finding(kept)
    assert ("p_recover 1: UC-MMC-PG (8.73 s, 11.6% less than the runner-up, LCC-MMC)"
            in text)
    assert text.endswith("So the best multi-message scheme keeps its lead over the best "
                         "single-message one (GC or LCC) throughout: at least 47.3% less "
                         "time than GC (UC-MMC-PG at p_recover 0.05).")
    lost = pd.DataFrame([row(4.0, "LCC-MMC-2", "LCC", 0.18, 0.18, "LCC"),
                         {**row(1.25, "LCC", "LCC-MMC-2", 0.19, -0.235, "LCC"),
                          "study": "pareto", "best_multi": "LCC-MMC-2"}])
    lost["study"] = "pareto"
    assert stragglers.finding(lost).endswith(
        "So the multi-message schemes lose their lead over the single-message ones (GC or "
        "LCC) from pareto shape 1.25: the best of them, LCC-MMC-2, takes 23.5% longer than "
        "LCC.")


# -- 21: a clone named pssim/ beside the working folder --------------------------------------


def test_a_clone_named_pssim_in_the_working_folder_does_not_shadow_the_package(
        tmp_path: Path) -> None:
    # Python looks in the folder it starts in first; a clone there named pssim/ is a
    # namespace folder, which loses to the regular package the environment's links put on
    # the path (Makefile, LINKS), so the package is found whatever the folder holds.
    (tmp_path / "pssim").symlink_to(ROOT, target_is_directory=True)
    done = subprocess.run(
        [sys.executable, "-c", "import pssim; from pssim import run; print(pssim.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = Path(done.stdout.strip()).resolve()
    assert found == (ROOT / "simulator" / "__init__.py").resolve()
    assert not Path(done.stdout.strip()).is_relative_to(tmp_path)


# -- low: errors before work, and the model's first downlink ---------------------------------


def test_paper_fig1_refuses_a_network_before_simulating(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fig1"
    with pytest.raises(SystemExit) as done:
        main(["scenario", "paper_fig1", "--network", "fifo", "--message-size", "1MB",
              "--master-bandwidth", "1e9", "--reps", "20", "--out", str(out),
              "--executor", "serial"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["Error: invalid scenario='paper_fig1': sets Monte Carlo beside the "
                   "closed forms (eqs. 15 and 18), and closed forms cover network none, not "
                   "network 'fifo'"]
    assert not out.exists()


def test_the_first_iteration_waits_for_no_downlink() -> None:
    # A 4 s downlink (4 MB at 1 MB/s) delays iteration 1 only: R_{i,0} = 0.
    one = pssim.run("LCC,UC-MMC", workers=8, load=2, reps=20, seed=3)
    two = pssim.run("LCC,UC-MMC", workers=8, load=2, reps=20, seed=3, iterations=2,
                    model_size=4e6, downlink_bandwidth=1e6)
    first = two[two["iteration"] == 0].reset_index(drop=True)
    assert (first["start"] == 0).all()
    assert first["end"].tolist() == one["end"].tolist()
    second = two[two["iteration"] == 1].reset_index(drop=True)
    assert (second["start"] == first["end"]).all()


def test_gallery_copies_are_half_size_and_leave_no_temporary_file(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (828, 527), "white").save(tmp_path / "figure.png")
    (tmp_path / "small").mkdir()
    copy = report.thumbnail(tmp_path / "figure.png", tmp_path / "small" / "figure.png")
    with Image.open(copy) as small:
        assert small.size == (414, 263)
    assert [p.name for p in (tmp_path / "small").iterdir()] == ["figure.png"]


def test_simpy_points_have_a_bar_of_their_own(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A run with points on both engines shows two bars, so that the vectorized points'
    rate does not set the estimate of the SimPy points' time, nor the other way round."""
    from pssim.execution import run_points

    base = {"scheme": ["LCC"], "workers": 6, "load": 2, "reps": 30}
    report = run_points([{**base, "engine": "des"}, {**base, "engine": "auto"}],
                        tmp_path, description={"test": "bars"}, seed=0, chunk_size=10,
                        executor="serial", progress=True, label="both")
    assert report.realizations == 60
    err = capsys.readouterr().err
    assert "both (SimPy engine): 100%" in err and "30/30" in err
    assert "both: 100%" in err
