"""Sweeps: the same output whatever the executor, chunking or hash seed; resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from pssim import ConfigError
from pssim.analysis import load_sweep
from pssim.sweep import load_file, points, run_sweep, validate
from tests.conftest import toml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sweep.toml"


def example(**sweep: object) -> dict:
    config = tomllib.loads(EXAMPLE.read_text())
    config["sweep"].update(sweep)
    return config


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("serial")
    report = run_sweep(load_file(EXAMPLE), out, executor="serial")
    assert report.failures == [] and report.chunks_run == 8
    return load_sweep(out)


def test_example_sweep_has_every_point_scheme_and_realization(serial: pd.DataFrame) -> None:
    assert len(serial) == 8 * 3 * 2000
    assert not serial.duplicated(["point", "scheme", "rep"]).any()
    points = serial.groupby("point")[["workers", "load", "master_bandwidth"]].first()
    assert sorted(map(tuple, points.values.tolist())) == sorted(
        (w, r, b) for w in (20, 40) for r in (2, 4) for b in (1e8, 1e9))


@pytest.mark.parametrize("how", [{"executor": "processes", "workers_per_host": 2},
                                 {"executor": "dask", "workers_per_host": 2},
                                 {"executor": "serial", "chunk_size": 300},
                                 {"executor": "processes", "workers_per_host": 2,
                                  "chunk_size": 777}])
def test_same_output_whatever_the_executor_and_chunking(serial: pd.DataFrame, tmp_path: Path,
                                                        how: dict) -> None:
    report = run_sweep(load_file(EXAMPLE), tmp_path, **how)
    assert report.failures == []
    pd.testing.assert_frame_equal(load_sweep(tmp_path), serial, check_exact=True)


def test_points_with_the_same_compute_model_share_their_draws(tmp_path: Path) -> None:
    # Without a network the bandwidth changes nothing, so points that differ only in it
    # must give identical realizations; a default mu and mu = 10 are the same model.
    config = example(reps=300, schemes=["LCC-MMC", "UC-MMC"])
    config["grid"] = {"master_bandwidth": ["1MB/s", "1GB/s"], "workers": [10, 12]}
    config["fixed"] = {"network": "none", "alpha": 0.01}
    run_sweep(config, tmp_path / "a", executor="serial")
    data = load_sweep(tmp_path / "a")
    metrics = ["scheme", "rep", "completion_time", "messages", "computations"]
    for n in (10, 12):
        at = data[data["workers"] == n]
        slow, fast = (at[at["master_bandwidth"] == b][metrics].reset_index(drop=True)
                      for b in (1e6, 1e9))
        pd.testing.assert_frame_equal(slow, fast, check_exact=True)
    # Other N, other draws.
    assert data.groupby("workers")["seed"].first().nunique() == 2
    config["fixed"]["mu"] = 10
    run_sweep(config, tmp_path / "b", executor="serial")
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "b"), data, check_exact=True)


def test_points_follow_the_order_of_the_grid_as_written() -> None:
    config = example()
    config["grid"] = {"master_bandwidth": ["1MB/s", "1GB/s"], "load": [2, 4]}
    got = [(p["master_bandwidth"], p["load"]) for p in points(validate(config))]
    assert got == [("1MB/s", 2), ("1MB/s", 4), ("1GB/s", 2), ("1GB/s", 4)]


def test_resume_after_a_kill_equals_an_uninterrupted_sweep(tmp_path: Path) -> None:
    config = example(reps=600, chunk_size=40)
    config["fixed"]["engine"] = "des"  # slow enough to be killed mid-run
    sweep_file = tmp_path / "slow.toml"
    sweep_file.write_text(toml(config))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "pssim", "sweep", str(sweep_file), "--out", str(out),
           "--executor", "serial", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list((out / "data").glob("p*.parquet"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "data").glob("p*.parquet")))
    assert 5 <= done < 8 * 15, "the sweep was not interrupted mid-run"
    report = run_sweep(load_file(sweep_file), out, executor="serial", resume=True)
    assert report.chunks_skipped >= done and report.chunks_run == 8 * 15 - report.chunks_skipped
    whole = tmp_path / "whole"
    run_sweep(load_file(sweep_file), whole, executor="processes", workers_per_host=2)
    resumed = load_sweep(out)
    assert not resumed.duplicated(["point", "scheme", "rep"]).any()
    pd.testing.assert_frame_equal(resumed, load_sweep(whole), check_exact=True)


def test_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    frames = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-m", "pssim", "sweep", str(EXAMPLE),
                        "--out", str(out), "--executor", "serial", "--chunk-size", "700"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        frames.append(load_sweep(out))
    pd.testing.assert_frame_equal(*frames, check_exact=True)


@pytest.mark.parametrize(("change", "key"), [
    (lambda c: c["grid"].update(wrokers=[1]), "grid.wrokers"),
    (lambda c: c["fixed"].update(mu="fast"), "fixed.mu"),
    (lambda c: c["grid"].update(load=[]), "grid.load"),
    (lambda c: c["sweep"].update(reps=0), "sweep.reps"),
    (lambda c: c["sweep"].update(schemes=["LCC-MC"]), "sweep.schemes"),
    (lambda c: c["grid"].update(master_bandwidth=["1GB/s", "fast"]), "grid.master_bandwidth[1]"),
    (lambda c: c.update(extra={"x": 1}), "extra"),
    (lambda c: c["fixed"].update(workers=20), "workers"),
    (lambda c: c["sweep"].update(reps="10"), "sweep.reps"),
    (lambda c: c["fixed"].update(alpha=True), "fixed.alpha"),
])
def test_bad_sweep_files_name_the_key(change, key: str) -> None:  # type: ignore[no-untyped-def]
    config = example()
    change(config)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        validate(config)


def test_every_problem_is_reported_at_once() -> None:
    config = example(reps=-1)
    config["fixed"].update(mu=0, network="fiber")
    with pytest.raises(ConfigError) as err:
        validate(config)
    assert all(k in str(err.value) for k in ("sweep.reps", "fixed.mu", "fixed.network"))


def test_infeasible_points_are_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    config = example(reps=100, schemes=["LCC"])
    config["grid"] = {"workers": [2, 40], "load": [3]}  # a load of 3 needs N >= 3
    report = run_sweep(config, tmp_path, executor="serial")
    assert [f["point"] for f in report.failures] == [0]
    assert "load" in report.failures[0]["error"]
    assert json.loads((tmp_path / "failures.json").read_text())[0]["point"] == 0
    assert set(load_sweep(tmp_path)["point"]) == {1}
    config["grid"]["workers"] = [2]
    with pytest.raises(ConfigError, match="infeasible"):
        run_sweep(config, tmp_path / "none", executor="serial")


def test_a_folder_holding_another_sweep_is_refused(tmp_path: Path) -> None:
    run_sweep(example(reps=50), tmp_path, executor="serial")
    with pytest.raises(ConfigError, match="different sweep"):
        run_sweep(example(reps=60), tmp_path, executor="serial")
    with pytest.raises(ConfigError, match="--chunk-size 5000"):
        run_sweep(example(reps=50), tmp_path, executor="serial", chunk_size=20)
    with pytest.raises(ConfigError, match="no sweep to resume"):
        run_sweep(example(reps=50), tmp_path / "empty", executor="serial", resume=True)


