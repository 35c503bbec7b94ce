"""Sweeps under faults (docs/sweeps.md): a run never mixes data from different
configurations and never loses finished work."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
import pssim.execution
from pssim import ConfigError
from pssim.analysis import load_sweep
from pssim.cli import app
from pssim.compute import ShiftedExponential
from pssim.execution import Interrupted, WorkerLost, read_meta
from pssim.sweep import load_file, run_sweep
from tests.conftest import toml

ROOT = Path(__file__).resolve().parents[1]


def small(reps: int = 60, chunk_size: int = 20, **fixed: Any) -> dict:
    return {"sweep": {"seed": 3, "reps": reps, "schemes": ["LCC", "UC-MMC"],
                      "chunk_size": chunk_size},
            "grid": {"load": [2, 4]}, "fixed": {"workers": 8, **fixed}}


def chunks(out: Path) -> list[Path]:
    return sorted((out / "data").glob("p*.parquet"))


def test_ctrl_c_keeps_every_finished_chunk_and_serial_writes_as_it_goes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pssim.execution.simulate
    calls = []

    def interrupted_third(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(pssim.execution, "simulate", interrupted_third)
    with pytest.raises(Interrupted) as stop:
        run_sweep(small(), tmp_path, executor="serial")
    assert stop.value.report.chunks_run == 2
    assert len(chunks(tmp_path)) == 2  # written as they finished, and kept
    monkeypatch.setattr(pssim.execution, "simulate", real)
    report = run_sweep(small(), tmp_path, executor="serial", resume=True)
    assert (report.chunks_skipped, report.chunks_run) == (2, 4)
    whole = tmp_path / "whole"
    run_sweep(small(), whole, executor="serial")
    pd.testing.assert_frame_equal(load_sweep(tmp_path), load_sweep(whole), check_exact=True)


@pytest.fixture
def in_flight(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of tasks in flight each time the run waits for one."""
    seen: list[int] = []
    real_wait = pssim.execution.cf.wait

    def wait(pending: Any, **kwargs: Any) -> Any:
        seen.append(len(pending))
        return real_wait(pending, **kwargs)

    monkeypatch.setattr(pssim.execution.cf, "wait", wait)
    return seen


def test_tasks_in_flight_are_bounded_and_local_workers_write_their_chunks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_flight: list[int]) -> None:
    returned: list[object] = []
    real_chunk = pssim.execution.run_chunk

    def spy(*args: Any) -> Any:
        returned.append(real_chunk(*args))
        return returned[-1]

    monkeypatch.setattr(pssim.execution, "run_chunk", spy)
    run_sweep(small(reps=100, chunk_size=10), tmp_path, executor="serial")
    assert len(chunks(tmp_path)) == 20
    assert max(in_flight) == 1  # one at a time, not all 20 at once
    assert returned == [None] * 20  # nothing sent back to the parent to hold


def test_a_process_pool_has_two_tasks_per_worker_in_flight(tmp_path: Path,
                                                          in_flight: list[int]) -> None:
    run_sweep(small(reps=100, chunk_size=10), tmp_path, executor="processes",
              workers_per_host=1)
    assert len(chunks(tmp_path)) == 20
    assert max(in_flight) == 2


def test_resume_refuses_an_edited_input_file_and_reads_it_beside_the_sweep_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    times = folder / "durations.csv"
    times.write_text("worker,duration\n" + "".join(f"{w},{1 + w / 10}\n" for w in range(8)))
    sweep = folder / "sweep.toml"
    sweep.write_text(toml(small(compute_times="durations.csv")))
    monkeypatch.chdir(tmp_path)  # not the sweep file's folder
    out = tmp_path / "out"
    assert run_sweep(load_file(sweep), out, executor="serial").failures == []
    times.write_text(times.read_text().replace("1.5", "9.5"))
    with pytest.raises(ConfigError, match="different sweep"):
        run_sweep(load_file(sweep), out, executor="serial")


def test_a_folder_in_use_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    fd = os.open(tmp_path / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, b"pid 4242 on somehost since 2026-01-01 00:00:00")
        with pytest.raises(ConfigError, match="in use by pid 4242 on somehost"):
            run_sweep(small(), tmp_path, executor="serial")
    finally:
        os.close(fd)
    assert chunks(tmp_path) == []
    assert run_sweep(small(), tmp_path, executor="serial").chunks_run == 6  # released


def test_chunks_of_another_configuration_are_refused_without_sweep_json(tmp_path: Path) -> None:
    run_sweep(small(), tmp_path, executor="serial")
    meta, rows = read_meta(chunks(tmp_path)[0])
    assert len(meta["config_hash"]) == 64 and rows == 20 * 2
    assert meta["pssim_version"] == pssim.execution.provenance.version()
    (tmp_path / "sweep.json").unlink()
    with pytest.raises(ConfigError, match="chunk of another configuration"):
        run_sweep(small(mu=5.0), tmp_path, executor="serial")


def test_a_damaged_sweep_json_is_rewritten(tmp_path: Path) -> None:
    run_sweep(small(), tmp_path, executor="serial")
    (tmp_path / "sweep.json").write_text("")  # as a kill mid-write once left it
    report = run_sweep(small(), tmp_path, executor="serial")
    assert report.chunks_skipped == 6
    assert json.loads((tmp_path / "sweep.json").read_text())["chunk_size"] == 20


def test_damaged_chunks_are_named_and_redone(tmp_path: Path) -> None:
    run_sweep(small(), tmp_path, executor="serial")
    whole = load_sweep(tmp_path)
    empty, garbage = chunks(tmp_path)[1], chunks(tmp_path)[4]
    empty.write_bytes(b"")
    garbage.write_bytes(b"PAR1 not a parquet file")
    lines: list[str] = []
    report = pssim.execution.run_points(
        [{**p, "scheme": ["LCC", "UC-MMC"], "reps": 60} for p in
         ({"workers": 8, "load": 2}, {"workers": 8, "load": 4})], tmp_path / "other",
        description={"x": 1}, seed=1, executor="serial", chunk_size=20, log=lines.append)
    assert report.chunks_redone == []
    report = run_sweep(small(), tmp_path, executor="serial")
    assert sorted(report.chunks_redone) == sorted([empty.name, garbage.name])
    assert report.chunks_run == 2 and report.chunks_skipped == 4
    assert empty.name in report.describe()
    pd.testing.assert_frame_equal(load_sweep(tmp_path), whole, check_exact=True)


def test_a_sweep_with_failed_points_exits_nonzero_after_writing_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pssim.execution.simulate

    def fail_at_load_4(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("load") == 4:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(pssim.execution, "simulate", fail_at_load_4)
    sweep = tmp_path / "s.toml"
    sweep.write_text(toml(small()))
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "o"),
                                      "--executor", "serial", "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "1 of 2 points failed" in result.output
    assert len(chunks(tmp_path / "o")) == 3  # load 2's chunks


def test_huge_sweeps_are_refused_unless_forced(tmp_path: Path) -> None:
    config = {"sweep": {"reps": 10, "schemes": ["LCC"]},
              "grid": {"workers": list(range(1, 1001)), "load": list(range(1, 1001))}}
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"1e\+06 points.*--force"):
        run_sweep(config, tmp_path)
    assert time.perf_counter() - start < 30  # refused before building a million points
    config = {"sweep": {"reps": 10**9, "schemes": ["all"]}, "fixed": {"workers": 4}}
    with pytest.raises(ConfigError, match="summary rows"):
        run_sweep(config, tmp_path)


@pytest.mark.parametrize(("address", "words"), [
    ("localhost:8786", "tcp://HOST:PORT"),
    ("", "tcp://HOST:PORT"),
    ("tcp://127.0.0.1:9", "none answered within 1 s"),
])
def test_bad_scheduler_addresses_give_one_line(tmp_path: Path, address: str,
                                               words: str) -> None:
    pytest.importorskip("distributed")
    sweep = tmp_path / "s.toml"
    sweep.write_text(toml(small()))
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "o"),
                                      "--executor", "dask", "--scheduler", address,
                                      "--connect-timeout", "1"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.output
    assert time.perf_counter() - start < 20


def _session(sid: int) -> list[int]:
    """The processes of a session, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _slow_sweep(tmp_path: Path) -> tuple[Path, Path]:
    # Seconds of work after the first chunk, so that a signal sent once it appears always
    # finds the sweep running, even on a loaded machine.
    config = small(reps=2000, chunk_size=100)
    config["fixed"]["engine"] = "des"
    config["fixed"]["workers"] = 30
    config["grid"]["load"] = [4, 6, 10]
    sweep = tmp_path / "slow.toml"
    sweep.write_text(toml(config))
    return sweep, tmp_path / "out"


def _start(sweep: Path, out: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "pssim", "sweep", str(sweep), "--out",
                             str(out), "--executor", "processes", "--workers-per-host", "2",
                             "--no-progress"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # Ctrl-C's default, whatever this process inherited or an
                            # earlier test left: an ignored SIGINT is inherited by children.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not chunks(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chunks(out), "no chunk was written"
    return proc


def test_ctrl_c_on_processes_stops_at_once_and_says_how_to_resume(tmp_path: Path) -> None:
    sweep, out = _slow_sweep(tmp_path)
    proc = _start(sweep, out)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    start = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - start < 15
    assert proc.returncode == 130, err
    assert "resume with: pssim sweep" in err and "Traceback" not in err
    assert "leaked semaphore" not in err  # the workers' semaphores are all released
    kept = len(chunks(out))
    assert kept >= 1
    report = run_sweep(load_file(sweep), out, executor="serial", resume=True)
    assert report.chunks_skipped == kept


def test_killing_only_the_parent_ends_its_workers(tmp_path: Path) -> None:
    sweep, out = _slow_sweep(tmp_path)
    proc = _start(sweep, out)
    assert len(_session(proc.pid)) >= 3  # the run, the fork server, the workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session(proc.pid) == []


def test_foreign_chunks_are_refused_whatever_their_names_and_leave_the_folder_to_its_run(
        tmp_path: Path) -> None:
    run_sweep(small(reps=40), tmp_path, executor="serial")
    before = (tmp_path / "sweep.json").read_text()
    with pytest.raises(ConfigError, match="a different sweep"):
        run_sweep(small(reps=60, mu=3.0), tmp_path, executor="serial")
    assert (tmp_path / "sweep.json").read_text() == before
    assert run_sweep(small(reps=40), tmp_path, executor="serial", resume=True
                     ).chunks_skipped == 4
    (tmp_path / "sweep.json").unlink()
    # Other reps give other chunk names; the chunks' hashes still tell the runs apart.
    with pytest.raises(ConfigError, match="chunk of another configuration"):
        run_sweep(small(reps=60, mu=3.0), tmp_path, executor="serial")
    assert not (tmp_path / "sweep.json").exists()
    with pytest.raises(ConfigError, match="chunks of 20: resume with --chunk-size 20"):
        run_sweep(small(reps=40, chunk_size=10), tmp_path, executor="serial")
    assert set(load_sweep(tmp_path)["mu"]) == {10.0}


def test_a_sweep_of_a_durations_file_takes_n_r_and_reps_from_it(tmp_path: Path) -> None:
    config = {"sweep": {"reps": 2, "schemes": ["LCC-MMC", "UC-MMC"]},
              "fixed": {"compute_times": str(ROOT / "examples" / "durations.csv")}}
    report = run_sweep(config, tmp_path / "o", executor="serial")
    assert report.failures == []
    data = load_sweep(tmp_path / "o")
    assert set(data["workers"]) == {6} and set(data["load"]) == {3}
    pd.testing.assert_frame_equal(
        data.drop(columns=["point", "seed"]).reset_index(drop=True),
        pssim.run("LCC-MMC,UC-MMC", compute_times=ROOT / "examples" / "durations.csv",
                  seed=int(data["seed"].iloc[0])).sort_values(["scheme", "rep"])
        .reset_index(drop=True).drop(columns="seed"), check_exact=True)


class DiesInAWorker(ShiftedExponential):
    """A compute model that kills the worker process that uses it (as the kernel's
    out-of-memory killer would)."""

    def __init__(self, parent: int) -> None:
        super().__init__()
        self.parent = parent

    def finish_times(self, *args: Any) -> Any:
        if os.getpid() != self.parent:
            os._exit(1)
        return super().finish_times(*args)


def test_a_dead_worker_stops_the_run_without_blaming_a_point(tmp_path: Path) -> None:
    points = [{"scheme": ["LCC"], "workers": 8, "load": 2, "reps": 40,
               "compute_times": DiesInAWorker(os.getpid())}]
    with pytest.raises(WorkerLost) as stop:
        pssim.execution.run_points(points, tmp_path, description={"x": 1}, seed=1,
                                   executor="processes", workers_per_host=1, chunk_size=10)
    assert stop.value.report.failures == []
    assert not (tmp_path / "failures.json").exists()


def test_notes_of_a_sweep_are_lines_and_ctrl_c_in_a_scenario_says_how_to_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = tmp_path / "s.toml"
    sweep.write_text(toml(small(master_bandwidth="1GB/s")))
    result = CliRunner().invoke(app, ["sweep", str(sweep), "--out", str(tmp_path / "o"),
                                      "--executor", "serial", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "note: master_bandwidth=1e+09 has no effect with network none" in result.output
    assert "Note:" not in result.output

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(pssim.execution, "simulate", interrupted)
    out = tmp_path / "t"
    result = CliRunner().invoke(app, ["scenario", "timeline", "--reps", "2", "--out", str(out),
                                      "--executor", "serial", "--workers", "6"])
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    assert (f"resume with: pssim scenario timeline --workers 6 --reps 2 --seed 0 --out {out}"
            in result.output)


def test_temporary_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    run_sweep(small(), tmp_path, executor="serial")
    stale = tmp_path / "data" / ".p00000_r0000000000-0000000020.parquet.1234abcd.tmp"
    stale.write_bytes(b"half a chunk")
    run_sweep(small(), tmp_path, executor="serial")
    assert not stale.exists()
    assert [p.name for p in (tmp_path / "data").iterdir() if p.name.startswith(".")] == []


def test_hidden_files_in_the_data_folder_are_never_results(tmp_path: Path) -> None:
    run_sweep(small(), tmp_path, executor="serial")
    whole = load_sweep(tmp_path)
    first = chunks(tmp_path)[0]
    # A writer's temporary copy, whole or not, is hidden: readers pass it by.
    (tmp_path / "data" / f".{first.name}.0123abcd.tmp.parquet").write_bytes(
        first.read_bytes())
    pd.testing.assert_frame_equal(load_sweep(tmp_path), whole, check_exact=True)
