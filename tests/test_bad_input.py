"""Bad input: one clear message naming the parameter, the value and what is allowed.

The CLI must exit with code 2 and print no traceback; the Python API must raise
``pssim.ConfigError``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
import pssim.api
from pssim import ConfigError
from pssim.cli import app

RUNNER = CliRunner()


def invoke(*args: str) -> Any:
    return RUNNER.invoke(app, ["run", *args])


def assert_cli_error(args: list[str], parameter: str, value: str) -> str:
    """Exit code 2, one line naming the parameter and the value, no traceback."""
    result = invoke(*args)
    out = result.output
    assert result.exit_code == 2, out
    # CliRunner catches unexpected exceptions itself, so "no traceback" also means that
    # nothing but the clean exit was raised.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert "Traceback" not in out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert lines[0].startswith("Error: invalid "), out
    assert parameter in out, out
    assert value in out, out
    return out


def assert_api_error(parameter: str, **kwargs: Any) -> ConfigError:
    options: dict[str, Any] = {"reps": 1, **kwargs}
    with pytest.raises(ConfigError) as info:
        pssim.run(**options)
    assert parameter in str(info.value)
    return info.value


# (id, CLI arguments, Python keyword arguments, parameter, value as printed)
CASES: list[tuple[str, list[str], dict[str, Any], str, str]] = [
    ("unknown-scheme", ["--scheme", "LCC-MC"], {"scheme": "LCC-MC"}, "scheme", "LCC-MC"),
    ("unknown-scheme-in-list", ["--scheme", "GC,FOO"], {"scheme": "GC,FOO"}, "scheme", "FOO"),
    ("empty-scheme", ["--scheme", ""], {"scheme": ""}, "scheme", "''"),
    ("workers-0", ["--workers", "0"], {"workers": 0}, "workers", "0"),
    ("workers-negative", ["--workers", "-3"], {"workers": -3}, "workers", "-3"),
    ("load-0", ["--load", "0"], {"load": 0}, "load", "0"),
    ("load-negative", ["--load", "-1"], {"load": -1}, "load", "-1"),
    ("load-above-workers", ["--workers", "3", "--load", "4"], {"workers": 3, "load": 4},
     "load", "4"),
    ("polynomials-not-dividing-load",
     ["--scheme", "LCC", "--polynomials", "3", "--load", "4"],
     {"scheme": "LCC", "polynomials": 3, "load": 4}, "polynomials", "3"),
    ("polynomials-family-not-dividing-load", ["--scheme", "LCC(3)", "--load", "4"],
     {"scheme": "LCC(3)", "load": 4}, "polynomials", "3"),
    ("polynomials-0", ["--scheme", "LCC", "--polynomials", "0"],
     {"scheme": "LCC", "polynomials": 0}, "polynomials", "0"),
    ("lcc-threshold-infeasible", ["--scheme", "LCC", "--workers", "3", "--load", "1"],
     {"scheme": "LCC", "workers": 3, "load": 1}, "load", "1"),
    ("lcc-mmc-threshold-infeasible", ["--scheme", "LCC-MMC", "--workers", "3", "--load", "1"],
     {"scheme": "LCC-MMC", "workers": 3, "load": 1}, "load", "1"),
    ("lcc-mmc-2-odd-load", ["--scheme", "LCC-MMC-2", "--load", "3"],
     {"scheme": "LCC-MMC-2", "load": 3}, "load", "3"),
    ("mu-0", ["--mu", "0"], {"mu": 0.0}, "mu", "0"),
    ("mu-negative", ["--mu", "-1"], {"mu": -1.0}, "mu", "-1"),
    ("mu-nan", ["--mu", "nan"], {"mu": math.nan}, "mu", "nan"),
    ("mu-inf", ["--mu", "inf"], {"mu": math.inf}, "mu", "inf"),
    ("alpha-negative", ["--alpha", "-0.5"], {"alpha": -0.5}, "alpha", "-0.5"),
    ("alpha-nan", ["--alpha", "nan"], {"alpha": math.nan}, "alpha", "nan"),
    ("alpha-inf", ["--alpha", "inf"], {"alpha": math.inf}, "alpha", "inf"),
    ("pg-tolerance-negative", ["--pg-tolerance", "-0.1"], {"pg_tolerance": -0.1},
     "pg_tolerance", "-0.1"),
    ("pg-tolerance-1", ["--pg-tolerance", "1.0"], {"pg_tolerance": 1.0},
     "pg_tolerance", "1.0"),
    ("pg-tolerance-nan", ["--pg-tolerance", "nan"], {"pg_tolerance": math.nan},
     "pg_tolerance", "nan"),
    ("pg-tolerance-inf", ["--pg-tolerance", "inf"], {"pg_tolerance": math.inf},
     "pg_tolerance", "inf"),
    ("latency-negative", ["--latency", "-1"], {"latency": -1.0}, "latency", "-1"),
    ("latency-negative-unit", ["--latency", "-2ms"], {"latency": "-2ms"}, "latency", "-2ms"),
    ("latency-nan", ["--latency", "nan"], {"latency": math.nan}, "latency", "nan"),
    ("latency-inf", ["--latency", "inf"], {"latency": math.inf}, "latency", "inf"),
    ("latency-unknown-unit", ["--latency", "5min"], {"latency": "5min"}, "latency", "5min"),
    ("uplink-bandwidth-0", ["--uplink-bandwidth", "0"], {"uplink_bandwidth": 0},
     "uplink_bandwidth", "0"),
    ("uplink-bandwidth-negative", ["--uplink-bandwidth", "-1Gbps"],
     {"uplink_bandwidth": "-1Gbps"}, "uplink_bandwidth", "-1Gbps"),
    ("uplink-bandwidth-nan", ["--uplink-bandwidth", "nan"], {"uplink_bandwidth": math.nan},
     "uplink_bandwidth", "nan"),
    ("uplink-bandwidth-unknown-unit", ["--uplink-bandwidth", "10Gbz"],
     {"uplink_bandwidth": "10Gbz"}, "uplink_bandwidth", "10Gbz"),
    ("master-bandwidth-0", ["--master-bandwidth", "0"], {"master_bandwidth": 0.0},
     "master_bandwidth", "0"),
    ("master-bandwidth-negative", ["--master-bandwidth", "-5"], {"master_bandwidth": -5},
     "master_bandwidth", "-5"),
    ("master-bandwidth-unknown-unit", ["--master-bandwidth", "10Gbz"],
     {"master_bandwidth": "10Gbz"}, "master_bandwidth", "10Gbz"),
    ("message-size-0", ["--network", "fifo", "--message-size", "0"],
     {"network": "fifo", "message_size": 0}, "message_size", "0"),
    ("message-size-negative", ["--network", "fair", "--message-size", "-4MB"],
     {"network": "fair", "message_size": "-4MB"}, "message_size", "-4MB"),
    ("message-size-unknown-unit", ["--network", "fifo", "--message-size", "4XB"],
     {"network": "fifo", "message_size": "4XB"}, "message_size", "4XB"),
    ("message-size-missing-fifo", ["--network", "fifo"], {"network": "fifo"},
     "message_size", "fifo"),
    ("message-size-missing-fair", ["--network", "fair"], {"network": "fair"},
     "message_size", "fair"),
    ("unknown-network", ["--network", "quic"], {"network": "quic"}, "network", "quic"),
    ("message-size-missing-tcp", ["--network", "tcp"], {"network": "tcp"},
     "message_size", "tcp"),
    ("mtu-below-576", ["--network", "tcp", "--message-size", "1MB", "--mtu", "575"],
     {"network": "tcp", "message_size": "1MB", "mtu": 575}, "mtu", "575"),
    ("mtu-above-65536", ["--network", "tcp", "--message-size", "1MB", "--mtu", "65537"],
     {"network": "tcp", "message_size": "1MB", "mtu": 65537}, "mtu", "65537"),
    ("buffer-0", ["--network", "tcp", "--message-size", "1MB", "--buffer", "0"],
     {"network": "tcp", "message_size": "1MB", "buffer": 0}, "buffer", "0"),
    ("buffer-negative", ["--network", "tcp", "--message-size", "1MB", "--buffer", "-1MB"],
     {"network": "tcp", "message_size": "1MB", "buffer": "-1MB"}, "buffer", "-1MB"),
    ("buffer-below-one-segment",
     ["--network", "tcp", "--message-size", "1MB", "--buffer", "1000"],
     {"network": "tcp", "message_size": "1MB", "buffer": 1000}, "buffer", "1000"),
    ("reps-0", ["--reps", "0"], {"reps": 0}, "reps", "0"),
    ("seed-negative", ["--seed", "-1"], {"seed": -1}, "seed", "-1"),
    ("unknown-engine", ["--engine", "gpu"], {"engine": "gpu"}, "engine", "gpu"),
    ("unknown-cancel-transfers", ["--cancel-transfers", "drop"],
     {"cancel_transfers": "drop"}, "cancel_transfers", "complete, abort"),
    ("seed-too-large", ["--seed", str(2**64)], {"seed": 2**64}, "seed", str(2**64)),
    ("same-scheme-twice", ["--scheme", "LCC,LCC(4)", "--load", "4"],
     {"scheme": "LCC,LCC(4)", "load": 4}, "scheme", "LCC,LCC(4)"),
]


@pytest.mark.parametrize(("cli_args", "parameter", "value"),
                         [pytest.param(c, p, v, id=i) for i, c, _, p, v in CASES])
def test_cli_rejects(cli_args: list[str], parameter: str, value: str) -> None:
    args = cli_args if "--reps" in cli_args else ["--reps", "1", *cli_args]
    assert_cli_error(args, parameter, value)


@pytest.mark.parametrize(("kwargs", "parameter"),
                         [pytest.param(k, p, id=i) for i, _, k, p, _ in CASES])
def test_api_rejects(kwargs: dict[str, Any], parameter: str) -> None:
    err = assert_api_error(parameter, **kwargs)
    assert err.parameter == parameter


def test_unknown_scheme_suggests_closest_names() -> None:
    out = assert_cli_error(["--reps", "1", "--scheme", "LCC-MC"], "scheme", "LCC-MC")
    hint = out.split("did you mean", 1)[1]
    assert "LCC-MMC" in hint
    err = assert_api_error("scheme", scheme="LCC-MC")
    assert "did you mean" in str(err) and "LCC-MMC" in str(err).split("did you mean", 1)[1]


def test_infeasible_threshold_names_the_scheme() -> None:
    out = assert_cli_error(["--reps", "1", "--scheme", "LCC-MMC", "--workers", "3",
                            "--load", "1"], "load", "1")
    assert "LCC-MMC" in out


# --- output files ---------------------------------------------------------------------


@pytest.mark.parametrize(("option", "parameter", "name"), [
    ("--out", "out", "summary.txt"),
    ("--out", "out", "summary"),
    ("--trace", "trace", "trace.json"),
])
def test_bad_output_suffix_is_rejected_before_simulating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str, parameter: str,
        name: str) -> None:
    calls: list[object] = []

    def no_simulation(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError("simulate must not run when an output path is bad")

    monkeypatch.setattr(pssim.api, "simulate", no_simulation)
    path = tmp_path / name
    assert_cli_error(["--reps", "1", option, str(path)], parameter, name)
    assert calls == []
    assert list(tmp_path.iterdir()) == []


def test_bad_trace_suffix_writes_no_summary(tmp_path: Path) -> None:
    summary, bad = tmp_path / "summary.csv", tmp_path / "trace.txt"
    assert_cli_error(["--reps", "1", "--scheme", "GC", "--workers", "4", "--load", "2",
                      "--out", str(summary), "--trace", str(bad)], "trace", "trace.txt")
    assert list(tmp_path.iterdir()) == []


def test_output_that_is_a_directory_is_rejected_before_simulating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pssim.api, "simulate", lambda *a, **k: pytest.fail("simulated"))
    target = tmp_path / "summary.csv"
    target.mkdir()
    assert_cli_error(["--reps", "1", "--out", str(target)], "out", "summary.csv")


def test_valid_run_writes_summary_and_trace(tmp_path: Path) -> None:
    out, trace = tmp_path / "x.csv", tmp_path / "t.parquet"
    result = invoke("--scheme", "LCC,UC-MMC", "--workers", "4", "--load", "2", "--reps", "3",
                    "--network", "fifo", "--message-size", "1MB", "--master-bandwidth",
                    "1GB/s", "--latency", "50us", "--out", str(out), "--trace", str(trace))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output

    summary = pd.read_csv(out)
    expected = ["scheme", "workers", "load", "rep", "completion_time", "messages",
                "messages_sent", "computations", "bytes"]
    assert set(expected) <= set(summary.columns)
    assert len(summary) == 2 * 3
    assert sorted(summary["scheme"].unique()) == ["LCC", "UC-MMC"]
    assert (summary["workers"] == 4).all() and (summary["load"] == 2).all()
    assert sorted(summary["rep"].unique()) == [0, 1, 2]

    events = pd.read_parquet(trace)
    assert set(["rep", "time", "worker", "event", "computation", "message",
                "bytes"]) <= set(events.columns)
    assert len(events) > 0
    assert set(events["rep"].unique()) <= {0, 1, 2}

    # The table, then a blank line and the run's assumptions.
    table, assumptions = result.output.split("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[0] == "scheme"
    assert [line.split()[0] for line in lines[1:]] == ["LCC", "UC-MMC"]
    assert assumptions.startswith("assumptions: ") and "network: fifo" in assumptions


# --- compute-times files --------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# (id, file contents or None for "do not create", --workers, --load, --reps, parameter,
#  value as printed)
FILE_CASES: list[tuple[str, str | bytes | None, int, int, int, str, str]] = [
    ("missing", None, 3, 2, 1, "compute_times", "times.csv"),
    ("empty-file", "", 3, 2, 1, "compute_times", "times.csv"),
    ("binary-garbage", bytes([0xFF, 0xFE, 0x00, 0x80] * 64), 3, 2, 1, "compute_times",
     "times.csv"),
    ("ragged-rows", "worker,duration\n0,1\n1,1,3,4\n", 3, 2, 1, "compute_times", "times.csv"),
    ("header-only", "worker,duration\n", 3, 2, 1, "compute_times", "no rows"),
    ("no-duration-column", "worker,time\n0,1\n1,1\n2,1\n", 3, 2, 1, "compute_times",
     "duration"),
    ("no-worker-column", "duration\n1\n1\n1\n", 3, 2, 1, "compute_times", "worker"),
    ("duration-nan", "worker,duration\n0,1\n1,nan\n2,1\n", 3, 2, 1, "compute_times", "nan"),
    ("duration-inf", "worker,duration\n0,1\n1,1\n2,inf\n", 3, 2, 1, "compute_times", "inf"),
    ("duration-0", "worker,duration\n0,0\n1,1\n2,1\n", 3, 2, 1, "compute_times",
     "column duration: 0 is not allowed"),
    ("duration-negative", "worker,duration\n0,1\n1,-1\n2,1\n", 3, 2, 1, "compute_times",
     "-1"),
    ("duration-text", "worker,duration\n0,1\n1,fast\n2,1\n", 3, 2, 1, "compute_times",
     "fast"),
    ("worker-negative", "worker,duration\n-1,1\n1,1\n2,1\n", 3, 2, 1, "compute_times", "-1"),
    ("computation-0", "worker,computation,duration\n0,0,1\n", 3, 2, 1, "compute_times",
     "computation"),
    ("duplicate-worker", "worker,duration\n0,1\n0,2\n1,1\n2,1\n", 3, 2, 1, "compute_times",
     "worker"),
    ("missing-worker", "worker,duration\n0,1\n1,2\n", 3, 2, 1, "compute_times", "worker 2"),
    ("missing-computation",
     "worker,computation,duration\n0,1,1\n0,2,1\n1,1,1\n1,2,1\n2,1,1\n", 3, 2, 1,
     "compute_times", "computation 2"),
    ("fewer-reps-than-asked",
     "rep,worker,duration\n0,0,1\n0,1,1\n0,2,1\n1,0,1\n1,1,1\n1,2,1\n", 3, 2, 3,
     "reps", "3"),
    ("missing-worker-in-one-rep",
     "rep,worker,duration\n0,0,1\n0,1,1\n0,2,1\n1,0,1\n1,1,1\n", 3, 2, 2,
     "compute_times", "worker 2"),
]


def _make_file(tmp_path: Path, contents: str | bytes | None) -> Path:
    path = tmp_path / "times.csv"
    if isinstance(contents, bytes):
        path.write_bytes(contents)
    elif contents is not None:
        path.write_text(contents)
    return path


@pytest.mark.parametrize(("contents", "workers", "load", "reps", "parameter", "value"),
                         [pytest.param(*c[1:], id=c[0]) for c in FILE_CASES])
def test_cli_rejects_compute_times(tmp_path: Path, contents: str | bytes | None, workers: int,
                                   load: int, reps: int, parameter: str, value: str) -> None:
    path = _make_file(tmp_path, contents)
    assert_cli_error(["--scheme", "GC", "--workers", str(workers), "--load", str(load),
                      "--reps", str(reps), "--compute-times", str(path)], parameter, value)


@pytest.mark.parametrize(("contents", "workers", "load", "reps", "parameter", "value"),
                         [pytest.param(*c[1:], id=c[0]) for c in FILE_CASES])
def test_api_rejects_compute_times(tmp_path: Path, contents: str | bytes | None, workers: int,
                                   load: int, reps: int, parameter: str, value: str) -> None:
    path = _make_file(tmp_path, contents)
    err = assert_api_error(parameter, scheme="GC", workers=workers, load=load, reps=reps,
                           compute_times=path)
    assert value in str(err)


def test_compute_times_that_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "times.csv"
    folder.mkdir()
    assert_cli_error(["--scheme", "GC", "--workers", "3", "--load", "2", "--reps", "1",
                      "--compute-times", str(folder)], "compute_times", "times.csv")
    assert_api_error("compute_times", scheme="GC", workers=3, load=2, compute_times=folder)


def test_non_finite_duration_is_printed_as_a_plain_number(tmp_path: Path) -> None:
    path = _write(tmp_path / "times.csv", "worker,duration\n0,1\n1,nan\n2,1\n")
    out = assert_cli_error(["--scheme", "GC", "--workers", "3", "--load", "2", "--reps", "1",
                            "--compute-times", str(path)], "compute_times", "nan")
    assert "np." not in out
    assert "row 2, column duration" in out


def test_valid_compute_times_file_runs(tmp_path: Path) -> None:
    """The files above fail for their defect alone: a complete one runs."""
    path = _write(tmp_path / "times.csv",
                  "rep,worker,duration\n0,0,1\n0,1,2\n0,2,3\n1,0,1\n1,1,1\n1,2,1\n")
    result = invoke("--scheme", "GC", "--workers", "3", "--load", "2", "--reps", "2",
                    "--compute-times", str(path))
    assert result.exit_code == 0, result.output
    summary = pssim.run("GC", 3, 2, reps=2, compute_times=path)
    assert summary["completion_time"].tolist() == [4.0, 2.0]


@pytest.mark.parametrize(("args", "parameter", "value"), [
    (["--latency", "nan"], "latency", "nan"),
    (["--reps", "0"], "reps", "0"),
    (["--seed", "-5"], "seed", "-5"),
    (["--master-bandwidth", "0"], "master_bandwidth", "0"),
])
def test_the_analytic_engine_checks_the_options_it_does_not_use(
        args: list[str], parameter: str, value: str) -> None:
    assert_cli_error(["--engine", "analytic", *args], parameter, value)


@pytest.mark.parametrize("command", [["run", "--reps", "1", "--out"],
                                     ["scenario", "timeline", "--out"],
                                     ["sweep", "examples/sweep.toml", "--out"]])
def test_an_output_that_cannot_be_created_fails_first(tmp_path: Path,
                                                      command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / ("x.csv" if command[0] == "run" else "out")
    result = RUNNER.invoke(app, [*command, str(target)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "out" in result.output and str(target) in result.output
