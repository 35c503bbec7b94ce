"""The kernel-TCP validation harness (benchmarks/validate_tcp.py, docs/validation.md)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import pssim

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "validate_tcp.py"


def _load() -> ModuleType:
    # benchmarks/ is no package: the harness is loaded from its path.
    spec = importlib.util.spec_from_file_location("validate_tcp", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["validate_tcp"] = module
    spec.loader.exec_module(module)
    return module


vt = _load()


@pytest.mark.parametrize(("workers", "load"), [(4, 2), (6, 4), (5, 3)])
def test_perfect_network_gives_network_none_completion_time(workers: int, load: int) -> None:
    """Arrivals at the ready instants: the harness's decoding gives pssim's none T, bit
    for bit, for every feasible scheme."""
    opt = vt.parse_options(["--workers", str(workers), "--load", str(load), "--reps", "7",
                            "--seed", "3"])
    schemes, _ = vt.feasible_schemes(vt.SCHEMES, workers, load)
    assert len(schemes) >= 4
    cell = vt.Cell(workers, load, 12.5e6, 10_000)
    ready = vt.cell_ready(schemes, cell, opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = pssim.run([s.label for s in schemes], workers=workers, load=load, reps=7,
                            seed=3, mu=10.0, alpha=0.01, network="none")
    for s in schemes:
        expected = summary[summary.scheme == s.label].sort_values("rep").completion_time
        got = [vt.completion_from_arrivals(ready[s.label][rep], s.labels(), s.threshold)
               for rep in range(7)]
        assert got == expected.tolist(), s.label


def test_decoding_counts_distinct_labels_and_ignores_missing_messages() -> None:
    labels = np.array([[0, 1], [1, 2], [2, 0]])
    arrivals = np.array([[0.5, 0.1], [0.2, 0.3], [math.inf, 0.9]])
    # In time order: labels 1 (0.1), 1 (0.2, a duplicate), 2 (0.3), 0 (0.5).
    assert vt.completion_from_arrivals(arrivals, labels, 3) == 0.5
    assert vt.completion_from_arrivals(arrivals, labels, 2) == 0.3
    assert vt.completion_from_arrivals(arrivals, np.arange(6).reshape(3, 2), 6) == math.inf


def test_ready_instants_take_every_group_th_finish_time() -> None:
    finish = np.arange(1.0, 13.0).reshape(1, 3, 4)
    assert vt.ready_instants(finish, 2).tolist() == [[[2.0, 4.0], [6.0, 8.0], [10.0, 12.0]]]
    assert vt.ready_instants(finish, 4).tolist() == [[[4.0], [8.0], [12.0]]]


def test_median_error_and_bias_on_a_hand_computed_case() -> None:
    # Relative errors 0.1, −0.1, 0.25: median |error| 0.1. Means 4/3 and 1.2: bias 1/9.
    median, bias = vt.errors(np.array([1.1, 0.9, 2.0]), np.array([1.0, 1.0, 1.6]))
    assert median == pytest.approx(0.1)
    assert bias == pytest.approx(1 / 9)


def test_every_replay_is_an_error_of_its_own_and_counts_in_the_kernels_mean() -> None:
    # Model 1.0 and 2.0 against replays (1.0, 1.25) and (2.5, 2.0): errors 0, −0.2, −0.2,
    # 0, median 0.1; means 1.5 and 1.6875: bias −1/9.
    median, bias = vt.errors(np.array([1.0, 2.0]), np.array([[1.0, 1.25], [2.5, 2.0]]))
    assert median == pytest.approx(0.1)
    assert bias == pytest.approx(1.5 / 1.6875 - 1)


def test_the_error_against_the_replays_mean_on_a_hand_computed_case() -> None:
    # Model 1.0 and 2.0 against replays (1.0, 1.25) and (2.5, 2.0), means 1.125 and 2.25:
    # errors −1/9 and −1/9; one replay each: the median error itself.
    kernel = np.array([[1.0, 1.25], [2.5, 2.0]])
    assert vt.mean_error(np.array([1.0, 2.0]), kernel) == pytest.approx(1 / 9)
    model, one = np.array([1.1, 0.9, 2.0]), np.array([[1.0], [1.0], [1.6]])
    assert vt.mean_error(model, one) == vt.errors(model, one)[0]


def test_tcp_counters_are_read_by_group_and_name() -> None:
    text = ("TcpExt: SyncookiesSent TCPLossProbes TCPLostRetransmit TCPSackRecovery "
            "TCPTimeouts\nTcpExt: 0 7 2 5 3\n"
            "Ip: Forwarding InReceives\nIp: 1 900\n"
            "Tcp: RtoAlgorithm RetransSegs OutRsts\nTcp: 1 41 6\n")
    assert vt.tcp_counters(text) == {"retransmitted": 41, "timeouts": 3, "loss_probes": 7,
                                     "recoveries": 5, "lost_retransmits": 2}


def test_bias_standard_error_on_a_hand_computed_case() -> None:
    # Differences from the replays' means: 0.1, −0.1, 0.3 (sd 0.2), over √3 and the
    # kernel's mean 1.2.
    model = np.array([1.1, 0.9, 1.9])
    kernel = np.array([[1.0, 1.0], [0.9, 1.1], [1.5, 1.7]])
    assert vt.bias_se(model, kernel) == pytest.approx(0.2 / math.sqrt(3) / 1.2)
    assert math.isnan(vt.bias_se(np.array([1.0]), np.array([[1.0, 2.0]])))


def test_kernel_floor_scores_later_replays_against_the_first() -> None:
    # Later replays 1.1 against 1.0 and 1.8, 2.2 against 2.0: errors 0.1, 0.1, 0.1.
    kernel = np.array([[1.0, 1.1, 1.1], [2.0, 1.8, 2.2]])
    median, bias = vt.kernel_floor(kernel)
    assert median == pytest.approx(0.1)
    assert bias == pytest.approx((6.2 / 4) / 1.5 - 1)
    assert all(math.isnan(v) for v in vt.kernel_floor(np.array([[1.0], [2.0]])))


def test_lateness_counts_first_messages_ready_before_t() -> None:
    ready = np.array([[0.10, 0.20], [0.30, 0.40], [0.90, 1.00]])
    started = np.array([[0.102, 0.35], [0.3005, 0.60], [np.inf, np.inf]])
    # Worker 0 began 2 ms late, worker 1 0.5 ms; its second message waited for its first
    # (0.2 s), which is the socket's doing; worker 2's was ready after T = 0.8.
    assert vt.lateness(ready, started, 0.8) == pytest.approx(0.002)
    # Ready before T and not begun by it: late by T less its ready instant.
    assert vt.lateness(ready, started, 0.95) == pytest.approx(0.05)


def test_a_replay_is_disturbed_beyond_1ms_and_1_percent_of_t() -> None:
    assert not vt.disturbed(0.0009, 0.05)
    assert vt.disturbed(0.0011, 0.05)
    assert not vt.disturbed(0.019, 2.0)  # 1% of 2 s is 20 ms
    assert vt.disturbed(0.021, 2.0)


def test_wire_bytes_count_headers_of_full_segments() -> None:
    assert vt.wire_bytes(1448, 1500) == pytest.approx(1514)
    assert vt.wire_bytes(1448 * 1000, 9000) == pytest.approx(1448 * 1000 * 9014 / 8948)


def test_bandwidth_takes_pssim_units_and_tc_spelling() -> None:
    assert vt.parse_bandwidth("100Mbit") == 12.5e6
    assert vt.parse_bandwidth("100Mbps") == 12.5e6
    assert vt.parse_bandwidth("1GB/s") == 1e9


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_without_root_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert vt.main(["--quick"]) == 2
    assert "needs root" in _one_line(capsys)


def test_without_tc_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    fake_ip = tmp_path / "ip"
    fake_ip.write_text("#!/bin/sh\n")
    fake_ip.chmod(0o755)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert vt.main(["--quick"]) == 2
    line = _one_line(capsys)
    assert "needs tc" in line and "ip" not in line.split("needs", 1)[1].replace("iproute2", "")


@pytest.mark.parametrize("args", [["--bandwidth", "fast"], ["--size", "-1MB"],
                                  ["--workers", "8,x"], ["--schemes", "XYZ"],
                                  ["--reps", "0"], ["--replays", "0"], ["--attempts", "0"],
                                  ["--nonsense"]])
def test_bad_options_one_line_and_exit_2(args: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert vt.main(args) == 2
    _one_line(capsys)


def _can_run_kernel() -> bool:
    if os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("tc")):
        return False
    return subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


kernel = pytest.mark.skipif(not _can_run_kernel(), reason="needs root, ip netns and tc")


@kernel
def test_quick_run_writes_its_table_and_deletes_its_namespace(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--replays", "2",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "table.csv")
    assert set(table.scheme) == set(vt.SCHEMES)
    assert {"none", "fifo", "fair"} <= set(table.discipline)
    assert (table.kernel_mean > 0).all()
    raw = pd.read_parquet(tmp_path / "records.parquet")
    assert {"scheme", "rep", "worker", "message", "ready", "arrival"} <= set(raw.columns)
    assert set(raw.replay) == {0, 1}
    # A row per scheme, realization and replay: its T (the table's kernel mean is theirs)
    # and the namespace's TCP counters over it, all moved forward or not at all.
    counted = pd.read_parquet(tmp_path / "replays.parquet")
    assert len(counted) == len(vt.SCHEMES) * 2
    assert (counted[list(vt.TCP_COUNTERS)] >= 0).all().all()
    means = counted.groupby("scheme")["t"].mean()
    kernel_means = table.groupby("scheme")["kernel_mean"].first()
    np.testing.assert_allclose(means.sort_index(), kernel_means.sort_index(), rtol=1e-12)
    # Two replays of the same input: the kernel against itself is a finite figure.
    assert np.isfinite(table.kernel_self_error).all()
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["self_checks"][0]["bulk_ok"] is True
    assert settings["namespace"].startswith("pssim-val-")
    assert settings["namespace"] not in _namespaces()
    assert 0 < settings["base_rtt"] < 0.01
    # The model side again from the saved kernel records, without a namespace: the same
    # kernel times and, for the same seed, the same model times to the bit.
    again = tmp_path / "again"
    assert vt.main(["--records", str(tmp_path), "--out", str(again)]) == 0
    redone = pd.read_csv(again / "table.csv")
    # Other tests may have registered disciplines of their own in this process.
    redone = redone[redone.discipline.isin(set(table.discipline))]
    keys = ["scheme", "discipline"]
    before = table.sort_values(keys).reset_index(drop=True)
    after = redone.sort_values(keys).reset_index(drop=True)
    for column in ("kernel_mean", "model_mean", "median_error", "mean_error", "bias",
                   "bias_se", "kernel_self_error", "kernel_self_bias", "late_max",
                   "disturbed"):
        np.testing.assert_array_equal(after[column], before[column])


def test_records_of_a_folder_that_no_run_wrote(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert vt.main(["--records", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "settings.json" in err[0], err


@kernel
def test_sigterm_deletes_the_namespace(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    prefix = f"pssim-val-{proc.pid}-"
    for _ in range(300):  # the namespace appears once pssim is imported
        if prefix in _namespaces() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert prefix in _namespaces()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert prefix not in _namespaces()


def test_condensed_takes_the_median_over_schemes_and_the_range_of_the_bias() -> None:
    base = {"workers": 4, "load": 2, "bandwidth": 1.0, "size": 10, "discipline": "fifo",
            "kernel_mean": 1.0, "drops": 3}
    table = pd.DataFrame([{**base, "scheme": s, "median_error": e, "mean_error": e / 2,
                           "bias": b, "kernel_self_error": f, "disturbed": 1}
                          for s, e, b, f in (("GC", 0.1, -0.2, 0.01), ("LCC", 0.3, 0.1, 0.05),
                                             ("UC-MMC", 0.2, 0.05, 0.02))])
    row = vt.condensed(table).iloc[0]
    assert (row.median_error, row.mean_error) == (0.2, 0.1)
    assert (row.bias_min, row.bias_max) == (-0.2, 0.1)
    assert row.kernel_self_error == 0.02
    assert row.disturbed == 3
    assert (row.drops, row.schemes) == (3, 3)


def test_the_documented_kernel_run_scores_as_its_table(tmp_path: Path) -> None:
    # The kernel's arrivals of a run docs/validation.md reports (N = 8, r = 3, 100 Mbit/s,
    # 2 and 4 MB): every model scored on them again gives the table as written then, to
    # the bit, so that a change to a discipline that moves its error shows here.
    run = ROOT / "benchmarks" / "validation" / "2026-12-04-e"
    assert vt.main(["--records", str(run), "--out", str(tmp_path)]) == 0
    keys = ["workers", "load", "bandwidth", "size", "scheme", "discipline"]
    written = pd.read_csv(run / "table.csv").sort_values(keys).reset_index(drop=True)
    redone = pd.read_csv(tmp_path / "table.csv")
    redone = redone[redone.discipline.isin(set(written.discipline))]
    redone = redone.sort_values(keys).reset_index(drop=True)
    assert len(redone) == len(written) == 40
    for column in ("kernel_mean", "model_mean", "median_error", "bias", "bias_se",
                   "kernel_self_error", "kernel_self_bias", "late_max", "disturbed", "drops"):
        np.testing.assert_array_equal(redone[column], written[column], err_msg=column)
