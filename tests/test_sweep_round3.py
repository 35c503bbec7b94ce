"""Sweeps and samples against foreign files, full disks, read-only folders and SIGTERM
(docs/sweeps.md, "Resuming, and faults")."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
import pssim.execution
import pssim.files
from pssim import ConfigError
from pssim.analysis import load_sweep
from pssim.cli import app
from pssim.errors import Note
from pssim.execution import Interrupted, Report
from pssim.sweep import PARAMETERS, load_file, run_sweep
from tests.conftest import toml
from tests.test_sweep_faults import ROOT, _session, _slow_sweep, _start, chunks, small


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def sweep_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["sweep", *args, "--no-progress"])


# --- 2. foreign files in data/ -------------------------------------------------------

def test_load_sweep_reads_only_its_own_chunks_and_names_the_others(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_sweep(small(), out, executor="serial")
    whole = load_sweep(out)
    data = out / "data"
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(data / "results.parquet")
    # A chunk named for a point the sweep does not have, and one renamed to another
    # realization range of a point it has.
    shutil.copy(chunks(out)[0], data / "p00099_r0000000000-0000000020.parquet")
    shutil.copy(chunks(out)[3], data / "p00000_r0000000060-0000000080.parquet")
    # A chunk of another sweep, under a name of its own.
    other = tmp_path / "other"
    run_sweep(small(chunk_size=10, mu=5.0), other, executor="serial")
    shutil.copy(chunks(other)[0], data / chunks(other)[0].name)
    with pytest.warns(Note, match=r"left out 4 file\(s\).*p00099_r0000000000-0000000020"
                                  r".*results\.parquet"):
        found = load_sweep(out)
    pd.testing.assert_frame_equal(found, whole, check_exact=True)

    # Without sweep.json the chunks' own hash says which are the sweep's; two hashes and
    # nothing to choose between them is refused.
    (out / "sweep.json").unlink()
    with pytest.raises(ConfigError, match=r"chunks of 2 runs and no sweep\.json"):
        load_sweep(out)
    (data / chunks(other)[0].name).unlink()
    with pytest.warns(Note, match=r"left out 3 file\(s\)"):
        pd.testing.assert_frame_equal(load_sweep(out), whole, check_exact=True)


def test_a_sweep_into_a_folder_with_foreign_files_is_refused_naming_them(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    pd.DataFrame({"x": [1.0]}).to_parquet(out / "data" / "notes.parquet")
    result = sweep_cli(str(_file(tmp_path, small())), "--out", str(out),
                       "--executor", "serial")
    assert result.exit_code == 2, result.output
    assert lines(result.output) == [
        f"Error: invalid out={str(out)!r}: holds 1 file(s) in data/ that are no chunks of "
        "this sweep (notes.parquet); move them away or choose another folder"]
    assert not (out / "sweep.json").exists() and chunks(out) == []

    # A stray chunk of this very sweep, for a point it does not have.
    run_sweep(small(), tmp_path / "good", executor="serial")
    (out / "data" / "notes.parquet").unlink()
    stray = out / "data" / "p00007_r0000000000-0000000020.parquet"
    shutil.copy(chunks(tmp_path / "good")[0], stray)
    with pytest.raises(ConfigError, match=r"no chunks of this sweep \(p00007_r"):
        run_sweep(small(), out, executor="serial")
    stray.unlink()
    assert run_sweep(small(), out, executor="serial").chunks_run == 6


def _file(folder: Path, config: dict) -> Path:
    path = folder / "sweep.toml"
    path.write_text(toml(config))
    return path


# --- 5. a full disk ------------------------------------------------------------------

def _disk_full(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_disk_that_fills_mid_sweep_stops_in_one_line_keeping_every_chunk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = pssim.execution.write_parquet
    written: list[Path] = []

    def fills_after_two(frame: Any, path: Path, meta: Any) -> None:
        if len(written) == 2:
            _disk_full()
        real(frame, path, meta)
        written.append(path)

    monkeypatch.setattr(pssim.execution, "write_parquet", fills_after_two)
    sweep, out = _file(tmp_path, small()), tmp_path / "out"
    result = sweep_cli(str(sweep), "--out", str(out), "--executor", "serial")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "failed" not in result.output
    [line] = lines(result.output)
    assert line.startswith(f"no space left on the disk of {out}: 2 chunks finished in this "
                           f"run are kept in {out / 'data'}; resume with: pssim sweep ")
    assert chunks(out) == sorted(written)
    assert not (out / "failures.json").exists()  # no point is blamed

    monkeypatch.setattr(pssim.execution, "write_parquet", real)
    again = shlex.split(line.split("resume with: ")[1])
    assert again[:2] == ["pssim", "sweep"] and "--resume" in again
    result = CliRunner().invoke(app, [*again[1:], "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "4 chunks run, 2 already done" in result.output
    run_sweep(small(), tmp_path / "whole", executor="serial")
    pd.testing.assert_frame_equal(load_sweep(out), load_sweep(tmp_path / "whole"),
                                  check_exact=True)


def test_a_full_disk_at_the_start_of_a_sweep_is_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first write of a sweep is the holder's line in its lock file.
    monkeypatch.setattr(os, "pwrite", _disk_full)
    sweep, out = _file(tmp_path, small()), tmp_path / "out"
    result = sweep_cli(str(sweep), "--out", str(out), "--executor", "serial")
    assert result.exit_code == 1, result.output
    assert lines(result.output) == [
        f"no space left on the disk of {out}: 0 chunks finished in this run are kept in "
        f"{out / 'data'}; resume with: pssim sweep {sweep} --out {out} --executor serial"]
    monkeypatch.undo()
    result = sweep_cli(str(sweep), "--out", str(out), "--executor", "serial")
    assert result.exit_code == 0, result.output


@contextlib.contextmanager
def _mounted(point: Path, *options: str) -> Iterator[None]:
    """A mount for the length of a test; skipped where mounting is not allowed."""
    point.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *options, str(point)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")
    try:
        yield
    finally:
        # Lazily: a file still open on it must not leave the mount behind.
        subprocess.run(["umount", "--lazy", str(point)], check=True)


def test_a_really_full_disk_is_one_line_and_nothing_is_lost(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with _mounted(disk, "-t", "tmpfs", "-o", "size=200k", "tmpfs"):
        out = disk / "out"
        sweep = _file(tmp_path, small(reps=2000, chunk_size=50))
        result = sweep_cli(str(sweep), "--out", str(out), "--executor", "serial")
        assert result.exit_code == 1, result.output
        [line] = lines(result.output)
        assert line.startswith(f"no space left on the disk of {out}: ")
        kept = chunks(out)
        assert kept and f"{len(kept)} chunks finished" in line
        moved = tmp_path / "moved"
        shutil.copytree(out, moved)
    report = run_sweep(load_file(sweep), moved, executor="serial", resume=True)
    assert report.chunks_skipped == len(kept)
    run_sweep(load_file(sweep), tmp_path / "whole", executor="serial")
    pd.testing.assert_frame_equal(load_sweep(moved), load_sweep(tmp_path / "whole"),
                                  check_exact=True)


def test_a_really_full_disk_at_the_start_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with _mounted(disk, "-t", "tmpfs", "-o", "size=64k", "tmpfs"):
        with pytest.raises(OSError, match="No space left"), (disk / "fill").open("wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
        sweep, out = _file(tmp_path, small()), disk / "out"
        result = sweep_cli(str(sweep), "--out", str(out), "--executor", "serial")
        assert result.exit_code == 1, result.output
        assert lines(result.output) == [
            f"no space left on the disk of {out}: 0 chunks finished in this run are kept "
            f"in {out / 'data'}; resume with: pssim sweep {sweep} --out {out} --executor "
            "serial"]


# --- 6. a read-only output folder ----------------------------------------------------

def test_a_read_only_folder_with_a_writable_data_folder_is_refused_before_simulating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    elsewhere = tmp_path / "writable"
    elsewhere.mkdir()
    calls: list[int] = []
    monkeypatch.setattr(pssim.execution, "simulate",
                        lambda *a, **k: calls.append(1))  # never reached
    sweep = _file(tmp_path, small())
    # As root sees it: a read-only mount of the folder, with data/ mounted writable.
    with _mounted(out, "--bind", "-o", "ro", str(out)), \
            _mounted(out / "data", "--bind", str(elsewhere)):
        with pytest.raises(OSError, match="Read-only file system"):
            (out / "probe").write_text("x")
        (out / "data" / "probe").write_text("x")  # data/ is writable
        (out / "data" / "probe").unlink()
        result = sweep_cli(str(sweep), "--out", str(out), "--executor", "serial")
    assert result.exit_code == 2, result.output
    assert lines(result.output) == [f"Error: invalid out={str(out)!r}: must be in a "
                                    "writable folder"]
    assert calls == [] and list(elsewhere.iterdir()) == []


def test_a_folder_that_denies_writing_is_refused_before_simulating(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a user other than root sees a folder of mode 555 whose data/ is writable: the
    check asks the system (os.access), so the test makes the system say no."""
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        False if Path(path) == out and mode & os.W_OK else real(path, mode, **kw)))
    with pytest.raises(ConfigError, match="must be in a writable folder"):
        run_sweep(small(), out, executor="serial")
    assert sorted(p.name for p in out.iterdir()) == ["data"]


# --- 8. SIGTERM and orphaned temporaries of pssim sample -----------------------------

def _temporaries(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


def test_sigterm_during_a_sample_removes_its_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "durations.parquet"
    proc = subprocess.Popen([sys.executable, "-m", "pssim", "sample", "--out", str(out),
                             "--workers", "40", "--load", "5", "--reps", "2000000"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not _temporaries(tmp_path, out.name) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _temporaries(tmp_path, out.name), "no temporary file appeared"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert _temporaries(tmp_path, out.name) == [] and not out.exists()
    result = CliRunner().invoke(app, ["sample", "--out", str(out), "--workers", "4",
                                      "--load", "2", "--reps", "3"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 3 * 4 * 2


def test_sigterm_stops_a_sweep_as_ctrl_c_does(tmp_path: Path) -> None:
    sweep, out = _slow_sweep(tmp_path)
    proc = _start(sweep, out)
    proc.send_signal(signal.SIGTERM)  # to the run alone, as kill does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "leaked semaphore" not in err
    assert f"resume with: pssim sweep {sweep} --out {out} --resume --workers-per-host 2" in err
    deadline = time.monotonic() + 15
    while _session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _session(proc.pid) == []
    kept = len(chunks(out))
    assert run_sweep(load_file(sweep), out, executor="serial", resume=True
                     ).chunks_skipped == kept
    # A worker stopped while writing leaves its temporary to the next run, which removes it.
    assert list((out / "data").glob(".*.tmp")) == []


def test_a_sample_removes_the_orphaned_temporaries_of_its_own_file_only(
        tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    orphan = tmp_path / ".d.csv.0123456789ab.tmp"
    live = tmp_path / ".d.csv.fedcba987654.tmp"
    others = [tmp_path / ".e.csv.0123456789ab.tmp", tmp_path / ".d.csv.mine.tmp",
              tmp_path / "d.csv.0123456789ab.tmp"]
    for path in (orphan, live, *others):
        path.write_bytes(b"half a file")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as the writer of a concurrent run holds it
        result = CliRunner().invoke(app, ["sample", "--out", str(out), "--workers", "4",
                                          "--load", "2", "--reps", "3"])
    finally:
        os.close(fd)
    assert result.exit_code == 0, result.output
    assert f"note: removed {orphan}, left by a run killed while writing d.csv" in result.output
    assert not orphan.exists()
    assert live.exists() and all(p.exists() for p in others)
    assert len(pd.read_csv(out)) == 3 * 4 * 2


# --- 9. one rule for Parquet suffixes ------------------------------------------------

@pytest.mark.parametrize("name", ["d.pq", "d.PARQUET", "d.Pq"])
def test_a_sample_in_any_parquet_suffix_replays_with_compute_times(tmp_path: Path,
                                                                   name: str) -> None:
    out = tmp_path / name
    result = CliRunner().invoke(app, ["sample", "--out", str(out), "--workers", "6",
                                      "--load", "2", "--reps", "4", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"PAR1"  # Parquet, whatever the case of the suffix
    reference = tmp_path / "reference.parquet"
    shutil.copy(out, reference)
    replay = pssim.run("LCC-MMC,UC-MMC", compute_times=out)
    pd.testing.assert_frame_equal(replay, pssim.run("LCC-MMC,UC-MMC",
                                                    compute_times=reference),
                                  check_exact=True)
    assert set(replay["rep"]) == {0, 1, 2, 3}


# --- low items -----------------------------------------------------------------------

def test_a_dask_scheduler_that_does_not_answer_leaves_no_folder(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "out"
    result = sweep_cli(str(_file(tmp_path, small())), "--out", str(out), "--executor",
                       "dask", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1")
    assert result.exit_code == 2, result.output
    assert "none answered within 1 s" in result.output
    assert not out.exists()


def test_repeated_grid_values_are_run_with_a_note(tmp_path: Path) -> None:
    config = small()
    config["grid"]["load"] = [2, 4, 2]
    with pytest.warns(Note, match=r"1 point\(s\) repeat an earlier one \(2 repeats 0\)"):
        report = run_sweep(config, tmp_path, executor="serial")
    assert report.points == 3 and report.chunks_run == 9
    data = load_sweep(tmp_path).drop(columns="point")
    first = data[data.index < 120].reset_index(drop=True)
    third = data[data.index >= 240].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, third, check_exact=True)


def test_the_resume_hint_repeats_the_executor_options(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "my out"

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise Interrupted(Report(out, 2))

    monkeypatch.setattr(pssim.sweep, "run_sweep", stopped)
    sweep = _file(tmp_path, small())
    result = sweep_cli(str(sweep), "--out", str(out), "--executor", "dask", "--scheduler",
                       "tcp://10.0.0.5:8786", "--workers-per-host", "3", "--chunk-size",
                       "7")
    assert result.exit_code == 130, result.output
    hint = result.output.split("resume with: ")[1].strip()
    assert shlex.split(hint) == ["pssim", "sweep", str(sweep), "--out", str(out),
                                 "--executor", "dask", "--scheduler", "tcp://10.0.0.5:8786",
                                 "--workers-per-host", "3", "--chunk-size", "7"]
    (out / "data").mkdir(parents=True)
    (out / "sweep.json").write_text("{}")
    result = sweep_cli(str(sweep), "--out", str(out))
    assert shlex.split(result.output.split("resume with: ")[1]) == [
        "pssim", "sweep", str(sweep), "--out", str(out), "--resume"]


def test_docs_list_every_key_a_sweep_point_takes() -> None:
    text = (ROOT / "docs" / "sweeps.md").read_text()
    listed = re.search(r"keys\s+also\s+in\s+`\[stragglers\]`:(.*?)\.\n", text, re.S)
    assert listed is not None
    assert re.findall(r"`(\w+)`", listed[1]) == list(PARAMETERS)



def test_a_temporary_taken_for_an_orphan_before_its_lock_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fcntl.flock
    created: list[Path] = []

    def removed_first(fd: int, operation: int) -> None:
        if not created:
            # Another run's remove_orphans, between this writer's open and its lock.
            created.extend(tmp_path.glob(".out.txt.*.tmp"))
            assert pssim.files.remove_orphans(tmp_path / "out.txt") == created
        real(fd, operation)

    monkeypatch.setattr(pssim.files.fcntl, "flock", removed_first)
    pssim.files.write_atomically(tmp_path / "out.txt", lambda tmp: tmp.write_text("whole"))
    assert len(created) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert (tmp_path / "out.txt").read_text() == "whole"


def test_a_file_system_without_locks_still_takes_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(pssim.files.fcntl, "flock", no_locks)
    pssim.files.write_atomically(tmp_path / "out.txt", lambda tmp: tmp.write_text("whole"))
    orphan = tmp_path / ".out.txt.0123456789ab.tmp"
    orphan.write_text("half")
    assert pssim.files.remove_orphans(tmp_path / "out.txt") == []  # cannot tell: kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [orphan.name, "out.txt"]
