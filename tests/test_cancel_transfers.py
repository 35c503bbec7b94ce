"""Transfers aborted at the end of their iteration (docs/model.md, "Aborted transfers"):
small training runs computed by hand, the single iteration unchanged, and the bytes
wasted equal in both engines."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
from pssim.cli import app
from pssim.config import check_field
from pssim.schemes import PAPER_SCHEMES

COLUMNS = ["iteration", "start", "end", "completion_time", "messages", "messages_sent",
           "computations", "late_messages", "wasted_bytes"]


def durations(per_iteration: list[list[float]]) -> pd.DataFrame:
    """One duration per (iteration, worker): r = 1 computation each."""
    return pd.DataFrame([{"iteration": t, "worker": w, "duration": d}
                         for t, row in enumerate(per_iteration) for w, d in enumerate(row)])


def rows(summary: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in summary[COLUMNS].itertuples(index=False)]


# UC-MMC-PG with tau = 0.7 at N = 3, r = 1 needs ⌈0.9⌉ = 1 partition: the first message
# received ends an iteration. 2-byte messages, uplinks of 2 B/s (1 s a message), the
# master's link 1 B/s (2 s a message), no latency; the model is free and instant.
FIFO = {"scheme": "UC-MMC-PG", "workers": 3, "load": 1, "pg_tolerance": 0.7,
        "iterations": 2, "reps": 1, "network": "fifo", "message_size": 2,
        "uplink_bandwidth": 2, "master_bandwidth": 1, "engine": "des",
        "compute_times": durations([[1, 1.5, 3.5], [0.5, 10, 10]])}


def test_fifo_abort_frees_the_links_at_the_end_of_the_iteration() -> None:
    # Iteration 0: worker 0's message crosses its uplink 1–2 and the master's link 2–4:
    # T0 = 4. Worker 1's (uplink 1.5–2.5) waits and begins service at 4; worker 2's is
    # half-way through its uplink (3.5–4.5). Both are aborted at 4: worker 1's had left
    # its uplink (2 bytes), worker 2's had sent 2·0.5/1 = 1 byte; 3 bytes wasted.
    # Iteration 1 begins at 4: worker 0's message, ready at 4.5, crosses its uplink
    # 4.5–5.5 and finds the master's link free: 5.5–7.5 = T1. Workers 1 and 2 are ready
    # only at 14, after the run.
    abort = pssim.run(**FIFO, cancel_transfers="abort")
    assert rows(abort) == [(0, 0.0, 4.0, 4.0, 1, 3, 3, 0, 3.0),
                           (1, 4.0, 7.5, 3.5, 1, 1, 1, 0, 0.0)]
    # Complete: the late messages hold the master's link 4–6 (worker 1) and 6–8
    # (worker 2, in the queue at 4.5 before worker 0's at 5.5), which leaves at 10 = T1:
    # 2.5 s later. The two late messages waste 2 × 2 bytes.
    complete = pssim.run(**FIFO)
    assert rows(complete) == [(0, 0.0, 4.0, 4.0, 1, 3, 3, 2, 4.0),
                              (1, 4.0, 10.0, 6.0, 1, 1, 1, 0, 0.0)]
    assert (complete["cancel_transfers"] == "complete").all()
    assert (abort["cancel_transfers"] == "abort").all()


def test_the_trace_shows_each_aborted_transmission_with_its_bytes() -> None:
    trace = pssim.simulate(**FIFO, cancel_transfers="abort", trace=True).trace
    assert trace is not None
    aborted = trace[trace["event"] == "aborted"].sort_values("worker")
    assert aborted[["time", "worker", "message", "bytes", "iteration"]].values.tolist() == [
        [4.0, 1, 1, 2.0, 0], [4.0, 2, 1, 1.0, 0]]
    # Aborted, never received; the transmission that comes after begins at 4.5.
    assert set(trace.loc[trace["event"] == "received", "worker"]) == {0}
    complete = pssim.simulate(**FIFO, trace=True).trace
    assert complete is not None and "aborted" not in set(complete["event"])


# The same scheme at N = 2; 2-byte messages, uncapped uplinks, the master's link 2 B/s.
FAIR = {"scheme": "UC-MMC-PG", "workers": 2, "load": 1, "pg_tolerance": 0.5,
        "iterations": 2, "reps": 1, "network": "fair", "message_size": 2,
        "master_bandwidth": 2, "engine": "des",
        "compute_times": durations([[1, 1.5], [0.25, 10]])}


def test_fair_abort_gives_the_whole_link_to_the_flows_left() -> None:
    # Iteration 0: worker 0's flow has the link alone from 1 (2 B/s): 1 byte by 1.5; then
    # worker 1's joins and each gets B/2 = 1 B/s: worker 0's ends at 2.5 = T0, worker 1's
    # has transferred 1 byte. Aborted then: 1 byte wasted. Worker 0's flow of iteration 1
    # joins at 2.75 and has the whole link: 2 bytes at 2 B/s, T1 = 3.75.
    abort = pssim.run(**FAIR, cancel_transfers="abort")
    assert rows(abort) == [(0, 0.0, 2.5, 2.5, 1, 2, 2, 0, 1.0),
                           (1, 2.5, 3.75, 1.25, 1, 1, 1, 0, 0.0)]
    # Complete: worker 1's flow (1 byte left) goes at 2 B/s until 2.75, then shares B/2
    # with the new flow until it ends at 3.25, late; the new flow has 1.5 bytes left and
    # ends at 3.25 + 0.75 = 4 = T1. One late message: 2 bytes wasted.
    complete = pssim.run(**FAIR)
    assert rows(complete) == [(0, 0.0, 2.5, 2.5, 1, 2, 2, 1, 2.0),
                              (1, 2.5, 4.0, 1.5, 1, 1, 1, 0, 0.0)]


def test_a_flow_aborted_in_its_latency_has_transferred_nothing() -> None:
    one = {**{k: v for k, v in FAIR.items() if k != "compute_times"}, "iterations": 1,
           "latency": 1, "cancel_transfers": "abort"}
    # Worker 0's flow joins at 1 + 1 and has the link alone until worker 1's joins at
    # 2.5 (1 byte), then 1 B/s: it ends at 3.5 = T, when worker 1's has transferred 1.
    joined = pssim.run(**one, compute_times=durations([[1, 1.5]]))
    assert rows(joined) == [(0, 0.0, 3.5, 3.5, 1, 2, 2, 0, 1.0)]
    # Begun at 2.5, worker 1's flow would join at 3.5: at T = 3 (worker 0's, alone) it is
    # in its latency. Sent, aborted with 0 bytes.
    res = pssim.simulate(**one, compute_times=durations([[1, 2.5]]), trace=True)
    assert rows(res.summary) == [(0, 0.0, 3.0, 3.0, 1, 2, 2, 0, 0.0)]
    assert res.trace is not None
    aborted = res.trace[res.trace["event"] == "aborted"]
    assert aborted[["time", "worker", "bytes"]].values.tolist() == [[3.0, 1, 0.0]]


SINGLE = ["completion_time", "messages", "messages_sent", "computations", "bytes",
          "late_messages", "start", "end"]


@pytest.mark.parametrize("network", ["fifo", "fair"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_single_iteration_is_unchanged_and_both_engines_waste_the_same(
        network: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    base = {"scheme": "all", "workers": int(rng.integers(4, 11)), "load": 4, "reps": 40,
            "seed": seed, "network": network, "message_size": float(rng.uniform(1e5, 1e7)),
            "master_bandwidth": float(rng.uniform(1e7, 1e9)),
            "uplink_bandwidth": float(rng.choice([rng.uniform(1e7, 1e9), math.inf])),
            "latency": float(rng.choice([0.0, rng.uniform(0, 0.01)]))}
    runs = {(engine, policy): pssim.run(**base, engine=engine, cancel_transfers=policy)
            for engine in ("des", "vectorized") for policy in ("complete", "abort")}
    reference = runs["des", "complete"]
    for (engine, _), summary in runs.items():
        pd.testing.assert_frame_equal(summary[SINGLE], runs[engine, "complete"][SINGLE],
                                      check_exact=True)
        assert set(summary["scheme"]) == set(reference["scheme"])
    assert (reference["wasted_bytes"] == 0).all()
    wasted = runs["des", "abort"]["wasted_bytes"]
    pd.testing.assert_series_equal(runs["vectorized", "abort"]["wasted_bytes"], wasted,
                                   check_exact=True)
    # At most what was sent by T and not received (up to the rounding of the sum).
    assert (wasted >= 0).all()
    in_flight = runs["des", "abort"]["messages_sent"] - runs["des", "abort"]["messages"]
    assert (wasted <= in_flight * base["message_size"] * (1 + 1e-12)).all()
    assert (wasted > 0).any()


@pytest.mark.parametrize("network", ["none", "fifo", "fair"])
@pytest.mark.parametrize("policy", ["cancel", "drain"])
def test_training_runs_under_abort_have_no_late_messages(network: str, policy: str) -> None:
    links = ({} if network == "none" else
             {"master_bandwidth": "200MB/s", "uplink_bandwidth": "1GB/s", "latency": "1ms"})
    base = {"scheme": ",".join(PAPER_SCHEMES), "workers": 8, "load": 4, "reps": 10,
            "seed": 5, "iterations": 4, "late_policy": policy, "network": network,
            "message_size": "1MB", "engine": "des", **links}
    abort = pssim.run(**base, cancel_transfers="abort")
    complete = pssim.run(**base)
    assert (abort["late_messages"] == 0).all()
    assert (complete["wasted_bytes"] == complete["late_messages"] * 1e6).all()
    # The first iteration's completion does not depend on what happens after it.
    first = abort["iteration"] == 0
    pd.testing.assert_series_equal(abort.loc[first, "end"], complete.loc[first, "end"])
    if network == "none":
        # Nothing is ever in flight: nothing to waste, and both engines agree.
        assert (abort["wasted_bytes"] == 0).all()
        vectorized = pssim.run(**{**base, "engine": "vectorized"}, cancel_transfers="abort")
        pd.testing.assert_frame_equal(vectorized, abort, check_exact=False, rtol=1e-9)
    else:
        assert (abort["wasted_bytes"] > 0).any()


def test_no_message_size_gives_no_wasted_bytes() -> None:
    summary = pssim.run("LCC", 4, 2, reps=3, iterations=2, cancel_transfers="abort")
    assert summary["wasted_bytes"].isna().all()


def test_the_command_line_and_sweeps_take_cancel_transfers() -> None:
    result = CliRunner().invoke(app, ["run", "--scheme", "LCC", "--workers", "4", "--load",
                                      "2", "--reps", "2", "--iterations", "2", "--network",
                                      "fifo", "--message-size", "1MB",
                                      "--master-bandwidth", "1GB/s",
                                      "--cancel-transfers", "abort"])
    assert result.exit_code == 0, result.output
    assert check_field("cancel_transfers", "abort") == "abort"
