"""Server policies at their edges (docs/model.md, "Server policies"): the memory estimate
against what a run draws and records, every network and option a policy runs through,
sweeps of policies, and the same results whatever the chunking or the executor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
import pssim.api
from pssim.analysis import load_sweep
from pssim.cli import app
from pssim.compute import ComputeModel
from pssim.errors import Note
from pssim.sweep import run_sweep


class Recording(ComputeModel):
    """Worker i takes ``durations[i]`` seconds per computation in every round; records
    the rounds each chunk of realizations asks for."""

    name = "recording"

    def __init__(self, durations: list[float]) -> None:
        self.durations = np.array(durations)
        self.asked: dict[tuple[int, int], set[int]] = {}

    def finish_times(self, seed: int, start: int, stop: int, workers: int, load: int,
                     iteration: int = 0) -> np.ndarray:
        self.asked.setdefault((start, stop), set()).add(iteration)
        finish = self.durations[:, None] * np.arange(1, load + 1)
        return np.broadcast_to(finish, (stop - start, workers, load)).copy()

    def parameters(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize(("server", "k", "ends", "drawn"), [
    # Worker 0 (1 s) pulls and pushes 32 gradients before worker 1 (1000 s) sends one: it
    # draws rounds 0 … 31, K·updates of them, not 4.
    ("k-batch-async", 8, [8.0, 16.0, 24.0, 32.0], 32),
    # Worker 0 takes each version as it comes: a round per update (the last update's
    # model is never sent).
    ("k-async", 1, [1.0, 2.0, 3.0, 4.0], 4),
    ("k-sync", 1, [1.0, 2.0, 3.0, 4.0], 4),
])
def test_the_chunks_hold_every_round_a_worker_draws(
        monkeypatch: pytest.MonkeyPatch, server: str, k: int, ends: list[float],
        drawn: int) -> None:
    # N = 2, r = 1, 4 updates, with a budget of 1 KiB for a chunk's draws.
    budget = 1024
    monkeypatch.setattr(pssim.api, "CHUNK_BUDGET", budget)
    model = Recording([1.0, 1000.0])
    options = {"server": server, "server_k": k, "iterations": 4}
    run = pssim.simulate("UC-MMC", 2, 1, reps=4, compute_times=model, trace=True,
                         **options)
    policy, = pssim.api.prepare(pssim.api.configure("UC-MMC", 2, 1, reps=4,
                                                    **options)).policies or []
    assert run.summary["end"].tolist() == ends * 4
    for (start, stop), rounds in model.asked.items():
        assert (stop - start) * len(rounds) * 2 * 1 * 8 <= budget, (start, stop)
        assert max(rounds) + 1 == drawn <= policy.max_rounds(4)
    per_rep = run.trace.groupby("rep").size()
    assert (per_rep <= policy.max_gradients(4)).all()


# -- a new user's runs ---------------------------------------------------------------------

def one_line_error(args: list[str]) -> str:
    """The one line of a refused command (exit 2, no traceback)."""
    result = CliRunner().invoke(app, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize(("server", "k", "schemes"), [
    ("k-sync", "2", {"UC-MMC"}),
    ("adaptive", "1", {"UC-MMC", "UC-MMC-PG"}),
])
def test_all_schemes_under_a_policy_are_those_it_can_run(server: str, k: str,
                                                         schemes: set[str]) -> None:
    # The default scheme is all: under a policy it runs the paper's schemes whose messages
    # stand alone, and says which it skipped, as it does for a scheme that cannot run at
    # this N and r.
    result = CliRunner().invoke(app, ["run", "--workers", "4", "--load", "2", "--server",
                                      server, "--server-k", k, "--iterations", "3",
                                      "--reps", "4"])
    assert result.exit_code == 0, result.output
    shown = {line.split()[0] for line in result.output.splitlines()[1:]
             if line.split() and line.split()[0].startswith("UC-")}
    assert shown == schemes
    assert "skipped" in result.output and "GC" in result.output
    with pytest.warns(Note, match=f"server {server}"):
        summary = pssim.run("all", 4, 2, server=server, server_k=int(k), iterations=3,
                            reps=2)
    assert set(summary["scheme"]) == schemes


@pytest.mark.parametrize(("args", "parameter", "value"), [
    # The summary's columns are int64: a K or a period beyond it is refused where it
    # enters, never after the run.
    (["--server", "adaptive", "--server-period", str(2**63)], "server_period", str(2**63)),
    (["--server", "k-batch-async", "--server-k", str(2**63)], "server_k", str(2**63)),
    # K·iterations rounds per worker are too many for any machine: K is to blame.
    (["--server", "k-batch-async", "--server-k", str(10**15)], "server_k", str(10**15)),
])
def test_a_k_or_period_too_large_is_one_line(args: list[str], parameter: str,
                                             value: str) -> None:
    line = one_line_error(["run", "--scheme", "UC-MMC", "--workers", "3", "--load", "1",
                           "--iterations", "3", "--reps", "2", *args])
    assert line.startswith(f"Error: invalid {parameter}="), line
    assert value in line, line


def test_too_many_updates_are_blamed_on_iterations_not_k() -> None:
    line = one_line_error(["run", "--scheme", "UC-MMC", "--workers", "3", "--load", "1",
                           "--iterations", str(10**12), "--reps", "2", "--server",
                           "k-batch-async", "--server-k", "3"])
    assert line.startswith(f"Error: invalid iterations={10**12}"), line


def test_a_period_beyond_the_run_keeps_the_first_k() -> None:
    summary = pssim.run("UC-MMC", 3, 1, server="adaptive", server_k=2,
                        server_period=2**63 - 1, iterations=3, reps=2)
    assert summary["server_k"].tolist() == [2] * 6
    assert set(summary["server_period"]) == {2**63 - 1}


# -- reproducibility -----------------------------------------------------------------------

POLICIES = [("k-sync", 3), ("k-batch-sync", 5), ("k-async", 2), ("k-batch-async", 6),
            ("adaptive", 1)]
#: A cluster whose rounds interact: a fifo bottleneck, late gradients on the links, aborted
#: transfers, a unicast downlink and stragglers that persist (Markov) across rounds.
BUSY = {"network": "fifo", "message_size": "1MB", "master_bandwidth": "100MB/s",
        "downlink": "unicast", "downlink_bandwidth": "1GB/s", "decode_time": 0.001,
        "cancel_transfers": "abort", "markov": {"p_slow": 0.2, "p_recover": 0.3,
                                                "factor": 4.0}}


@pytest.mark.parametrize(("server", "k"), POLICIES)
def test_a_policys_summary_and_trace_are_the_same_whatever_the_chunks(server: str,
                                                                      k: int) -> None:
    options = {"server": server, "server_k": k, "iterations": 8, "seed": 5, "trace": True,
               **({"server_period": 2} if server == "adaptive" else {}), **BUSY}
    whole = pssim.simulate("UC-MMC", 4, 2, reps=5, **options)
    single = pssim.simulate("UC-MMC", 4, 2, reps=5, chunk_size=1, **options)
    head = pssim.simulate("UC-MMC", 4, 2, reps=2, **options)
    tail = pssim.simulate("UC-MMC", 4, 2, reps=3, first_rep=2, **options)
    for part in ("summary", "trace"):
        expected = getattr(whole, part)
        pd.testing.assert_frame_equal(getattr(single, part), expected)
        joined = pd.concat([getattr(head, part), getattr(tail, part)], ignore_index=True)
        pd.testing.assert_frame_equal(
            joined.sort_values(["rep"], kind="stable").reset_index(drop=True),
            expected.sort_values(["rep"], kind="stable").reset_index(drop=True))


def test_a_sweep_of_policies_is_the_same_whatever_the_executor_chunks_or_resume(
        tmp_path: Path) -> None:
    sweep = {"sweep": {"seed": 3, "reps": 4, "schemes": ["UC-MMC"]},
             "grid": {"server": [s for s, _ in POLICIES if s != "k-batch-sync"]},
             "fixed": {"workers": 4, "load": 2, "iterations": 6, "server_k": 2, **BUSY}}
    # 6 realization-updates a chunk: one realization each; then 18: three.
    run_sweep(sweep, tmp_path / "serial", executor="serial", chunk_size=6)
    run_sweep(sweep, tmp_path / "processes", executor="processes", workers_per_host=2,
              chunk_size=18)
    serial = load_sweep(tmp_path / "serial")
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "processes"), serial)
    # A sweep killed after some chunks, resumed, gives the same rows.
    chunks = sorted((tmp_path / "serial" / "data").glob("*.parquet"))
    assert len(chunks) == 16
    for chunk in chunks[1::3]:
        chunk.unlink()
    report = run_sweep(sweep, tmp_path / "serial", executor="serial", chunk_size=6,
                       resume=True)
    assert not report.failures
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "serial"), serial)
    # Each point is a run of its configuration with the point's seed (beside points
    # without a period, the sweep's server_period column holds floats).
    first = serial[serial["point"] == 3].drop(columns="point").reset_index(drop=True)
    direct = pssim.run("UC-MMC", 4, 2, reps=4, seed=int(first["seed"].iloc[0]),
                       server="adaptive", server_k=2, iterations=6, **BUSY)
    pd.testing.assert_frame_equal(first[direct.columns], direct, check_dtype=False)


@pytest.mark.parametrize(("server", "k"), [("sync", None), ("k-sync", 2)])
def test_a_period_without_adaptive_gets_a_note(server: str, k: int | None) -> None:
    # server_period is adaptive's alone: elsewhere it changes nothing, and says so.
    with pytest.warns(Note, match=f"server_period=3 has no effect with server {server}"):
        summary = pssim.run("UC-MMC", 3, 1, server=server, server_k=k, server_period=3,
                            iterations=2, reps=2)
    assert len(summary) == 4
