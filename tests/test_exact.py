"""Small cases computed by hand from docs/model.md, for every scheme and network."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pssim import run, simulate
from tests.conftest import durations

METRICS = ["completion_time", "messages", "messages_sent", "computations"]

# Workers 0, 1, 2 take 1, 2 and 3 s per computation: with r = 2 they finish computations at
# (1, 2), (2, 4) and (3, 6).
THREE = durations([1.0, 2.0, 3.0])


def one(scheme: str, table: pd.DataFrame = THREE, workers: int = 3, load: int = 2,
        **options: object) -> dict[str, float]:
    row = run(scheme, workers, load, compute_times=table, reps=1, **options).iloc[0]
    return {m: row[m] for m in METRICS}


@pytest.mark.parametrize(("scheme", "expected"), [
    # 2N − 1 = 5 messages of 6, one per computation: the 5th at t = 4.
    ("LCC-MMC", (4.0, 5, 5, 5)),
    # N − r + 1 = 2 workers, one message each after both computations: at 2 and 4.
    ("GC", (4.0, 2, 2, 5)),
    # 2⌈3/2⌉ − 1 = 3 messages: every worker's, the last at 6.
    ("LCC", (6.0, 3, 3, 6)),
    ("LCC-MMC-2", (6.0, 3, 3, 6)),
    # Partitions: W0 gives 0 then 1 (t = 1, 2), W1 1 then 2 (2, 4), W2 2 then 0 (3, 6).
    # All three are in by t = 3, after the messages at 1, 2, 2 and 3.
    ("UC-MMC", (3.0, 4, 4, 4)),
])
def test_network_none(scheme: str, expected: tuple[float, int, int, int]) -> None:
    assert one(scheme) == dict(zip(METRICS, expected, strict=True))


def test_partial_gradient_stops_at_its_share_of_partitions() -> None:
    # τ = 0.34: ⌈0.66·3⌉ = 2 partitions, 0 and 1, both in by t = 2 (messages at 1, 2, 2).
    assert one("UC-MMC-PG", pg_tolerance=0.34) == dict(
        zip(METRICS, (2.0, 3, 3, 3), strict=True))


def test_messages_arriving_at_t_all_count() -> None:
    # Four workers, one computation each, three finishing together at t = 1: the rule
    # (2 of 4 partitions) holds at 1, and all three messages of that instant are received.
    got = one("UC-MMC-PG", durations([1.0, 1.0, 1.0, 2.0]), workers=4, load=1,
              pg_tolerance=0.5)
    assert got == dict(zip(METRICS, (1.0, 3, 3, 3), strict=True))


FIFO = {"network": "fifo", "message_size": 1, "uplink_bandwidth": 1, "master_bandwidth": 2,
        "latency": 0.25}


def test_fifo_store_and_forward_with_a_tie_at_the_master() -> None:
    # Uplinks take 1 s per message, then 0.25 s of latency, then 0.5 s on the master's link.
    # W0 sends 1→2 and 2→3 (arrivals 2.25, 3.25); W1 2→3 and 4→5 (3.25, 5.25);
    # W2 3→4 and 6→7 (4.25, 7.25). W0's second and W1's first message both arrive at 3.25:
    # the lower worker goes first. Master link: 2.25→2.75, 3.25→3.75 (W0), 3.75→4.25 (W1),
    # 4.25→4.75, 5.25→5.75: the 5th message, T = 5.75.
    res = simulate("LCC-MMC", 3, 2, compute_times=THREE, reps=1, trace=True, **FIFO)
    row = res.summary.iloc[0]
    assert {m: row[m] for m in METRICS} == dict(zip(METRICS, (5.75, 5, 5, 5), strict=True))
    assert res.trace is not None
    got = res.trace[res.trace["event"] == "received"][["time", "worker", "message"]]
    assert got.values.tolist() == [[2.75, 0, 1], [3.75, 0, 2], [4.25, 1, 1], [4.75, 2, 1],
                                   [5.75, 1, 2]]


@pytest.mark.parametrize(("scheme", "expected"), [
    # GC needs 2 messages: W0's at 2 → uplink 2→3, arrives 3.25, link 3.25→3.75;
    # W1's at 4 → 4→5, 5.25→5.75.
    ("GC", (5.75, 2, 2, 5)),
    # UC-MMC: partition 0 is received at 2.75 (W0), 1 at 3.75 (W0) and 4.25 (W1), 2 at 4.75
    # (W2's first message): T = 4.75 with 4 messages received; 5 sends began by then (W1's
    # second at 4) and 5 computations were done.
    ("UC-MMC", (4.75, 4, 5, 5)),
])
def test_fifo_other_schemes(scheme: str, expected: tuple[float, int, int, int]) -> None:
    assert one(scheme, **FIFO) == dict(zip(METRICS, expected, strict=True))


FAIR = {"network": "fair", "message_size": 1, "master_bandwidth": 1}


@pytest.mark.parametrize(("options", "t"), [
    # W0's flow starts at 1 alone (1 B/s): 0.5 B by 1.5; then both share 0.5 B/s: W0 ends at
    # 2.5, W1 has 0.5 B left at 2.5 and ends alone at 3.0.
    ({}, 3.0),
    # Capped at 0.4 B/s per uplink: W0 0.2 B by 1.5, then 0.4 B/s each (0.8 B/s < 1 B/s):
    # W0 ends at 3.5, W1 has 0.2 B left and ends at 4.0.
    ({"uplink_bandwidth": 0.4}, 4.0),
    # 0.5 s latency: flows join at 1.5 and 2.0; W0 alone until 2.0 (0.5 B), shares until
    # 3.0, W1 then has 0.5 B left and ends at 3.5.
    ({"latency": 0.5}, 3.5),
])
def test_fair_sharing(options: dict[str, float], t: float) -> None:
    got = one("UC-MMC", durations([1.0, 1.5]), workers=2, load=1, **{**FAIR, **options})
    assert got == dict(zip(METRICS, (t, 2, 2, 2), strict=True))


def test_fair_equal_flows_end_together() -> None:
    # Both ready at 1, each at 0.5 B/s: both received at 3.
    assert one("UC-MMC", durations([1.0, 1.0]), workers=2, load=1, **FAIR) == dict(
        zip(METRICS, (3.0, 2, 2, 2), strict=True))


def test_fair_worker_sends_one_flow_at_a_time() -> None:
    # Alone on the 1 B/s link, W0's flows run 1→2 and 2→3 (its second is ready at 2, when
    # its first ends); W1's first runs 10→11.
    # LCC-MMC needs 3 messages: T = 11.
    res = simulate("LCC-MMC", 2, 2, compute_times=durations([1.0, 10.0]), reps=1, trace=True,
                   **FAIR)
    assert res.summary["completion_time"].tolist() == [11.0]
    assert res.trace is not None
    starts = res.trace[res.trace["event"] == "send_start"]["time"].tolist()
    assert starts == [1.0, 2.0, 10.0]


def test_per_computation_durations_accumulate() -> None:
    # W0 takes 1 then 5 (finishes at 1, 6); W1 2 then 3 (2, 5): LCC-MMC (3 of 4) at 5.
    table = durations([[1.0, 5.0], [2.0, 3.0]])
    assert one("LCC-MMC", table, workers=2, load=2)["completion_time"] == 5.0


def test_trace_has_every_event_up_to_t() -> None:
    res = simulate("GC", 3, 2, compute_times=THREE, reps=1, trace=True)
    assert res.trace is not None
    events = res.trace[["time", "worker", "event"]].values.tolist()
    assert events[-1][2] == "complete" and events[-1][0] == 4.0
    assert sorted(e for e in events if e[2] == "compute_done") == [
        [1.0, 0, "compute_done"], [2.0, 0, "compute_done"], [2.0, 1, "compute_done"],
        [3.0, 2, "compute_done"], [4.0, 1, "compute_done"]]
    assert math.isclose(res.summary["completion_time"].iloc[0], 4.0)


@pytest.mark.parametrize("t0", [1.0, 1e6])
@pytest.mark.parametrize(("uplink", "per_flow"), [(math.inf, 1.0 / 7), (0.1, 0.1)])
def test_fair_share_among_many_flows(t0: float, uplink: float, per_flow: float) -> None:
    # Seven workers ready together, one message of 1 B each, a 1 B/s master link: each flow
    # gets min(b, B/7) and all end together, also far from time 0.
    got = one("UC-MMC", durations([t0] * 7), workers=7, load=1, network="fair",
              message_size=1, master_bandwidth=1, uplink_bandwidth=uplink)
    assert got["completion_time"] == pytest.approx(t0 + 1 / per_flow, rel=1e-12)
    assert got["messages"] == 7


def test_fair_terminates_at_large_times_with_short_transfers() -> None:
    # Minutes of compute against microseconds of transfer: the link's timers land on
    # instants that round to the current one, which must still end the flows due.
    summary = run("LCC-MMC", 10, 2, mu=0.001, network="fair", message_size="4MB",
                  master_bandwidth=1e11, reps=20, seed=1)
    none = run("LCC-MMC", 10, 2, mu=0.001, reps=20, seed=1)
    assert (summary["completion_time"] >= none["completion_time"]).all()
    # A work-conserving link delivers the messages ready by the compute-only T within the
    # time it takes to move all N·r = 20 messages.
    bound = none["completion_time"] + 20 * 4e6 / 1e11 * (1 + 1e-9)
    assert (summary["completion_time"] <= bound).all()


def test_rows_beyond_n_r_and_the_reps_asked_for_are_ignored() -> None:
    # A stray worker id of 10^12 must neither matter nor cost memory.
    table = pd.DataFrame({"rep": [0, 0, 0, 5], "worker": [0, 1, 10**12, 0],
                          "duration": [1.0, 2.0, 3.0, 4.0]})
    assert one("GC", table, workers=2, load=1)["completion_time"] == 2.0
