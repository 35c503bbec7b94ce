"""What a researcher hits on first use, and what an adversary tries: every bad input is one
line naming the parameter and the value, and no output is ever half-written."""

from __future__ import annotations

import errno
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
import pssim.api
import pssim.execution
import pssim.provenance
import pssim.sweep
from pssim import ConfigError
from pssim.api import ARRAYS_PER_REALIZATION, CHUNK_BUDGET, fitting_chunk
from pssim.cli import app, main
from pssim.config import Config
from pssim.errors import Note

ROOT = Path(__file__).resolve().parents[1]
RUNNER = CliRunner()


def one_line_error(args: list[str], *words: str) -> str:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be simulated before the outputs are checked")

    monkeypatch.setattr(pssim.api, "simulate", refuse)


# -- 11, 12: outputs ------------------------------------------------------------------------


def test_an_unwritable_output_fails_before_simulating(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    no_simulation(monkeypatch)
    one_line_error(["run", "--reps", "1", "--out", "/proc/x.csv"], "out", "/proc/x.csv")
    long = tmp_path / ("x" * 300 + ".csv")
    one_line_error(["run", "--reps", "1", "--out", str(long)], "out", "longer than")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_prints_one_line_and_still_the_table(monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    def disk_full(frame: Any, path: Path, meta: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pssim.execution, "write_parquet", disk_full)
    out = tmp_path / "summary.parquet"
    result = RUNNER.invoke(app, ["run", "--scheme", "LCC", "--workers", "4", "--load", "2",
                                 "--reps", "3", "--out", str(out)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split()[0] == "scheme" and lines[1].split()[0] == "LCC"
    errors = [line for line in lines if line.startswith("Error")]
    assert errors == [f"Error: could not write {out} (No space left on device)"]
    assert list(tmp_path.iterdir()) == []


def test_csv_outputs_are_never_left_half_written(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "summary.csv"
    out.write_text("the previous summary\n")

    def broken(self: pd.DataFrame, path: Any, **kwargs: Any) -> None:
        Path(path).write_text("scheme,rep\nLC")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    result = RUNNER.invoke(app, ["run", "--scheme", "LCC", "--workers", "4", "--load", "2",
                                 "--reps", "3", "--out", str(out)])
    assert result.exit_code == 1
    assert out.read_text() == "the previous summary\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_out_and_trace_on_one_path_are_refused(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    no_simulation(monkeypatch)
    path = str(tmp_path / "x.parquet")
    one_line_error(["run", "--reps", "1", "--out", path, "--trace", path], "trace", path)


def test_pq_is_parquet_and_outputs_carry_their_configuration(tmp_path: Path) -> None:
    out = tmp_path / "s.pq"
    result = RUNNER.invoke(app, ["run", "--scheme", "GC", "--workers", "4", "--load", "2",
                                 "--reps", "3", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    meta, rows = pssim.execution.read_meta(out)
    assert rows == 3
    assert meta["config"]["seed"] == 5 and meta["config"]["scheme"] == ["GC"]
    assert meta["pssim_version"] == pssim.provenance.version() and "date" in meta


# -- 13, 14: sizes and non-finite times -------------------------------------------------------


@pytest.mark.parametrize("engine", ["des", "vectorized"])
@pytest.mark.parametrize(("options", "parameter"), [
    ({"network": "fifo", "message_size": 1e300, "master_bandwidth": 1e-300}, "message_size"),
    ({"mu": 1e-310}, "compute model"),
    ({"alpha": 1e308}, "compute model"),
])
def test_times_that_overflow_are_refused(engine: str, options: dict, parameter: str) -> None:
    with pytest.raises(ConfigError) as err:
        pssim.run("LCC", 4, 2, reps=2, engine=engine, **options)
    assert err.value.parameter == parameter
    assert "finite" in str(err.value)


@pytest.mark.parametrize(("options", "parameter"), [
    ({"reps": 10**12}, "reps"),
    ({"workers": 10**9, "load": 10**9}, "workers"),
])
def test_absurd_sizes_are_refused_with_an_estimate(options: dict, parameter: str) -> None:
    with pytest.raises(ConfigError) as err:
        pssim.run("LCC", **{"workers": 4, "load": 2, **options})
    assert err.value.parameter == parameter and "GiB" in str(err.value)


def test_a_trace_too_large_is_refused() -> None:
    with pytest.raises(ConfigError, match="trace fewer"):
        pssim.simulate("LCC", 1000, 100, reps=10**6, trace=True)


def test_chunks_follow_a_memory_budget() -> None:
    big = Config(workers=2000, load=20, network="fifo", message_size=1)
    chunk = fitting_chunk(big, 1, trace=False)
    # One iteration: its arrays, and its receptions kept for late messages.
    assert chunk == CHUNK_BUDGET // (2000 * 20 * 8 * (ARRAYS_PER_REALIZATION + 1)) < 100
    assert fitting_chunk(Config(workers=40, load=10), 6, trace=False) == pssim.api.CHUNK_SIZE


# -- 15: ids in files ------------------------------------------------------------------------


@pytest.mark.parametrize("worker", ["1e30", str(2**64 - 1), str(2**63)])
def test_worker_ids_beyond_the_exact_range_are_refused(tmp_path: Path, worker: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"worker,duration\n0,1\n1,1\n{worker},1\n")
    one_line_error(["run", "--scheme", "GC", "--workers", "2", "--load", "1", "--reps", "1",
                    "--compute-times", str(path)], "compute_times", "column worker",
                   "2^53")


# -- 16, 17, 18: all, durations files, notes --------------------------------------------------


def test_all_at_an_odd_load_skips_what_cannot_run_with_a_note() -> None:
    result = RUNNER.invoke(app, ["run", "--workers", "10", "--load", "3", "--reps", "2"])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "LCC-MMC-2" in notes[0] and "even" in notes[0]
    table = [line for line in result.output.split("\n\n")[0].splitlines()
             if not line.startswith("note:")]
    schemes = [line.split()[0] for line in table[1:]]
    assert schemes == ["GC", "LCC", "LCC-MMC", "UC-MMC", "UC-MMC-PG"]
    one_line_error(["run", "--scheme", "LCC-MMC-2", "--load", "3", "--reps", "1"], "load",
                   "even")


def test_a_sweep_of_all_at_odd_loads_does_not_fail(tmp_path: Path) -> None:
    report = pssim.sweep.run_sweep({"sweep": {"reps": 4, "schemes": ["all"]},
                                    "grid": {"load": [3, 4]}, "fixed": {"workers": 10}},
                                   tmp_path, executor="serial")
    assert report.failures == [] and report.chunks_run == 2


def test_a_durations_file_implies_n_r_and_reps(tmp_path: Path) -> None:
    rows = [f"{k},{w},{c},{1 + w + c / 10}" for k in range(2) for w in range(3)
            for c in (1, 2)]
    path = tmp_path / "t.csv"
    path.write_text("rep,worker,computation,duration\n" + "\n".join(rows) + "\n")
    summary = pssim.run("GC", compute_times=path)
    assert (summary["workers"] == 3).all() and (summary["load"] == 2).all()
    assert summary["rep"].tolist() == [0, 1]
    result = RUNNER.invoke(app, ["run", "--scheme", "GC", "--compute-times", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].split()[:2] == ["GC", "2"]


def test_a_durations_file_problem_reads_as_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("worker,duration\n0,1\n1,1\n")
    line = one_line_error(["run", "--scheme", "GC", "--workers", "3", "--load", "1",
                           "--reps", "1", "--compute-times", str(path)])
    assert line == (f"Error: invalid compute_times={str(path)!r}: has no duration for "
                    "worker 2; it must give a duration for every worker 0..2")


def test_link_options_without_a_link_get_a_note() -> None:
    result = RUNNER.invoke(app, ["run", "--scheme", "LCC", "--workers", "4", "--load", "2",
                                 "--reps", "2", "--latency", "1ms"])
    assert result.exit_code == 0, result.output
    assert "note: latency=0.001 has no effect with network none" in result.output
    with pytest.warns(Note, match="master_bandwidth"):
        pssim.run("LCC", 4, 2, reps=2, master_bandwidth="1GB/s")


# -- 19: the parser --------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "words"), [
    (["sweep", "examples/sweep.toml", "--out", "x", "--workers-per-host", "abc"],
     ["--workers-per-host", "integer"]),
    (["run", "--wrokers", "4"], ["--wrokers"]),
    (["scenario", "timeline", "--reps", "many"], ["--reps"]),
    (["run", "--workers", "nan", "--reps", "1"], ["workers", "nan"]),
])
def test_parser_errors_are_one_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                    words: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert all(w in lines[0] for w in words), lines[0]


def test_version_and_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith(f"pssim {pssim.provenance.version()}")
    done = subprocess.run([sys.executable, "-m", "pssim", "run", "-h"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0 and "--message-size" in done.stdout


# -- 20, 21: the Python API ----------------------------------------------------------------


def test_numbers_of_every_kind_are_accepted_alike() -> None:
    base = pssim.run("LCC,UC-MMC", 8, 4, reps=5, seed=2, mu=10.0)
    for options in ({"reps": 5.0}, {"reps": "5"}, {"reps": np.int64(5)},
                    {"mu": np.float64(10.0)}, {"mu": np.int32(10)}):
        args = {"reps": 5, "seed": 2, "mu": 10.0, **options}
        pd.testing.assert_frame_equal(pssim.run("LCC,UC-MMC", np.int64(8), 4, **args), base,
                                      check_exact=True)


@pytest.mark.parametrize(("options", "parameter"), [
    ({"scheme": None}, "scheme"), ({"scheme": 5}, "scheme"), ({"mu": True}, "mu"),
    ({"reps": True}, "reps"), ({"workers": 4.5}, "workers"), ({"alpha": [1]}, "alpha"),
    ({"seed": "x"}, "seed"), ({"network": 3}, "network"), ({"compute_times": 5}, "compute_times"),
])
def test_every_bad_type_is_a_config_error_naming_the_parameter(options: dict,
                                                               parameter: str) -> None:
    with pytest.raises(ConfigError) as err:
        pssim.run(**{"reps": 1, **options})
    assert err.value.parameter == parameter


def test_a_network_object_is_not_given_link_parameters_beside_it() -> None:
    from pssim.network import Fifo

    net = Fifo(message_size=4e6, master_bandwidth=1e9)
    assert len(pssim.run("LCC", 4, 2, reps=2, network=net)) == 2
    with pytest.raises(ConfigError, match="master_bandwidth, message_size"):
        pssim.run("LCC", 4, 2, reps=2, network=net, master_bandwidth="1MB/s",
                  message_size="8MB")


def test_size_checks_hold_whatever_the_chunk_size() -> None:
    with pytest.raises(ConfigError, match="trace fewer"):
        pssim.simulate("LCC", 1000, 100, reps=10**6, trace=True, chunk_size=10)


def test_one_scheme_named_twice_alike_runs_once() -> None:
    assert len(pssim.run("LCC,lcc", 8, 4, reps=3)) == 3
    assert len(pssim.run("all,LCC", 8, 4, reps=1)) == 6


def test_two_names_of_one_scheme_are_refused() -> None:
    with pytest.raises(ConfigError, match="LCC\\(1\\) and LCC-MMC"):
        pssim.run("LCC(1),LCC-MMC", 8, 4, reps=1)
    # The paper's own names coincide at r = 2 and are compared as the paper does.
    assert len(pssim.run("LCC,LCC-MMC-2", 8, 2, reps=1)) == 2


# -- 22: scenarios validate before writing ---------------------------------------------------


def test_a_scenario_with_a_bad_seed_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fig"
    one_line_error(["scenario", "timeline", "--seed", str(2**63), "--out", str(out)],
                   "seed", str(2**63))
    assert not out.exists()


def test_a_scenario_that_cannot_run_writes_nothing_and_the_folder_stays_usable(
        tmp_path: Path) -> None:
    out = tmp_path / "fig1"
    one_line_error(["scenario", "paper_fig1", "--workers", "3", "--out", str(out)], "load")
    assert not out.exists()
    result = RUNNER.invoke(app, ["scenario", "timeline", "--reps", "1", "--out", str(out),
                                 "--executor", "serial"])
    assert result.exit_code == 0, result.output


def test_the_bottleneck_study_adapts_to_another_cluster() -> None:
    from pssim.scenarios.bottleneck_bandwidth import SCENARIO

    base = Config(**{**SCENARIO.base, "uplink_bandwidth": "1Gbps", "load": 5, "reps": 2})
    points = SCENARIO.points(base)
    assert {p["uplink_bandwidth"] for p in points[:-1]} == {1.25e8}
    assert points[-1]["network"] == "none" and points[-1]["uplink_bandwidth"] == math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)  # LCC-MMC-2 skipped at r = 5
        schemes = pssim.api.prepare(Config(**points[0])).schemes
    assert [s.label for s in schemes] == ["GC", "LCC", "LCC-MMC", "UC-MMC", "UC-MMC-PG"]


def test_config_json_and_report_carry_version_commit_and_date(tmp_path: Path) -> None:
    from pssim.scenarios.common import execute
    from pssim.scenarios.report import write_report

    execute("timeline", 1, 0, tmp_path / "t", executor="serial", progress=False)
    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["pssim_version"] == pssim.provenance.version()
    assert "git_commit" in config and config["date"][:2] == "20"
    from pssim.scenarios.report import MAIN

    text = write_report(tmp_path, dict.fromkeys(MAIN, 0.0), 1).read_text()
    assert f"pssim {pssim.provenance.version()}" in text.splitlines()[2]
    assert math.isfinite(len(text))


def test_notes_are_not_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        with pytest.raises(Note):
            pssim.run(workers=10, load=3, reps=1)


# -- 28: bandwidths in the unit asked for ----------------------------------------------------


def test_scenario_tables_and_figures_in_gbps(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from pssim.analysis import plots
    from pssim.scenarios import bottleneck_bandwidth
    from pssim.scenarios.common import _REGISTRY as scenario_registry
    from pssim.scenarios.common import execute

    labels: list[str] = []
    real = plots.plot_summary_vs

    def spy(table: pd.DataFrame, x: str, *args: Any, **kwargs: Any) -> Any:
        fig = real(table, x, *args, **kwargs)
        labels.append(fig.axes[0].get_xlabel())
        return fig

    monkeypatch.setattr(plots, "plot_summary_vs", spy)
    monkeypatch.setattr(bottleneck_bandwidth, "FAIR_MIN_REPS", 5)
    monkeypatch.setattr(bottleneck_bandwidth, "TCP_REPS", 1)
    monkeypatch.setitem(scenario_registry, "bottleneck_bandwidth",
                        bottleneck_bandwidth.scenario(tcp_bandwidths=[1e10]))
    execute("bottleneck_bandwidth", 20, 1, tmp_path, executor="serial", progress=False,
            bandwidth_unit="Gbps")
    table = pd.read_csv(tmp_path / "summary.csv")
    swept = bottleneck_bandwidth.SCENARIO.factors["master_bandwidth"]
    gbps = sorted(set(table["master_bandwidth_Gbps"][np.isfinite(
        table["master_bandwidth_Gbps"])]))
    assert gbps == pytest.approx(sorted(b * 8 / 1e9 for b in swept))
    assert labels and all(label == "master bandwidth B (Gbps)" for label in labels)
    with pytest.raises(ConfigError, match="bandwidth_unit"):
        execute("timeline", 1, 0, tmp_path / "x", executor="serial", bandwidth_unit="furlongs")
    assert not (tmp_path / "x").exists()


def test_sweep_help_shows_its_tables_whole() -> None:
    result = RUNNER.invoke(app, ["sweep", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert all(table in result.output for table in ("[sweep]", "[grid]", "[fixed]"))
