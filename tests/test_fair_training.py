"""Training runs under network fair on the vectorized engine (docs/model.md, "Training
runs"): a case computed by hand in which iteration 0's late flows share the link with
iteration 1's, and the SimPy engine realization by realization and iteration over random
configurations: ties, latency, uplinks capped below the fair share, many flows at once,
late messages, both late policies, both ends of transfers, both downlinks."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fifo_training import COLUMNS, agree, durations, training_runs

import pssim
from pssim.engines import choose
from pssim.network import Fair
from pssim.training import Training


@pytest.mark.parametrize("late_policy", ["cancel", "drain"])
@pytest.mark.parametrize(("cancel_transfers", "expected"), [
    # UC-MMC-PG with tau = 0.7 at N = 3, r = 1 needs one message; 1 B each on a 1 B/s
    # master's link, uplinks and downlink unlimited. Iteration 0's flows join at 1, 1.25
    # and 1.5, when the clock (bytes per flow) reads 0, 0.25 and 0.375: keys 1, 1.25,
    # 1.375. A third each from 1.5: worker 0's ends at 1.5 + 0.625·3 = 3.375 = T0; then
    # a half each: worker 1's ends at 3.875. Iteration 1 starts at 3.375; worker 0's
    # flow is ready at 3.875, the instant worker 1's ends, and joins with key 1.25 + 1:
    # it shares the link with worker 2's late flow (0.125 B left), which ends at 4.125
    # instead of 4; worker 0's then has 0.875 B left alone and ends at 5 = T1, not at
    # 4.875 as on an idle link. Iteration 0's two late messages are received by T1;
    # iteration 1's other two flows are ready at 5.375, after T1. The late messages'
    # bytes are wasted: 2 B.
    ("complete", [(0, 0.0, 3.375, 1, 3, 3, 2, 2.0), (1, 3.375, 5.0, 1, 1, 1, 0, 0.0)]),
    # abort: T0 = 3.375 stops worker 1's flow (0.25 B short: 0.75 B sent) and worker 2's
    # (0.625 B sent), so iteration 1's first flow has the link alone from 3.875 to 4.875.
    ("abort", [(0, 0.0, 3.375, 1, 3, 3, 0, 1.375), (1, 3.375, 4.875, 1, 1, 1, 0, 0.0)]),
])
def test_late_flows_of_iteration_0_share_the_link_with_iteration_1(
        late_policy: str, cancel_transfers: str, expected: list[tuple]) -> None:
    # Under cancel nothing is dropped: every flow of iteration 0 began before the model
    # arrived at 3.375, so both policies give the same rows.
    options = {"pg_tolerance": 0.7, "iterations": 2, "reps": 1, "network": "fair",
               "message_size": 1.0, "master_bandwidth": 1.0, "late_policy": late_policy,
               "cancel_transfers": cancel_transfers,
               "compute_times": durations([[1, 1.25, 1.5], [0.5, 2, 2]])}
    for engine in ("vectorized", "des"):
        summary = pssim.run("UC-MMC-PG", 3, 1, engine=engine, **options)
        rows = [tuple(r) for r in summary[COLUMNS].itertuples(index=False)]
        assert [r[:1] + r[3:7] for r in rows] == [e[:1] + e[3:7] for e in expected]
        for row, want in zip(rows, expected, strict=True):
            assert [row[1], row[2], row[7]] == pytest.approx([want[1], want[2], want[7]],
                                                             rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("late_policy", "expected"), [
    # UC-MMC-PG, tau = 0.7, N = 2, r = 2: two messages per worker, one needed; 1 B each
    # on a 1 B/s link. Iteration 0: worker 1's computations end at 0.5 and 1, worker 0's
    # at 1 and 2. Worker 1's first flow joins at 0.5 (key 1); at 1 worker 0's joins (the
    # clock at 0.5: key 1.5), half each: worker 1's ends at 2 = T0 and its second, ready
    # at 1, begins then (key 2). Worker 0's second, ready at 2, waits for its uplink,
    # whose flow ends at 3. The model reaches both workers at 2: under cancel that
    # message would begin after it and is dropped, and worker 1's second, begun at 2
    # itself, is not; worker 1's second ends alone at 3.5, and only then does its first
    # of iteration 1 (ready at 2.25) begin, on an idle link: T1 = 4.5. Iteration 0 has 3
    # sent by T0, 4 computations, 2 late (at 3 and 3.5). Under drain the dropped one is
    # sent at 3 (key 2.5): worker 1's second ends at 4, its first of iteration 1 joins
    # then (key 3), worker 0's late one ends at 5 and T1 = 5.5; 3 late messages.
    ("cancel", [(0, 0.0, 2.0, 1, 3, 4, 2, 2.0), (1, 2.0, 4.5, 1, 1, 1, 0, 0.0)]),
    ("drain", [(0, 0.0, 2.0, 1, 3, 4, 3, 3.0), (1, 2.0, 5.5, 1, 1, 1, 0, 0.0)]),
])
def test_a_message_that_would_begin_after_the_next_model_is_dropped_under_cancel(
        late_policy: str, expected: list[tuple]) -> None:
    ends = {(0, 0): [1, 1], (0, 1): [0.5, 0.5], (1, 0): [5, 5], (1, 1): [0.25, 5]}
    table = pd.DataFrame([{"iteration": t, "worker": w, "computation": c + 1, "duration": d}
                          for (t, w), row in ends.items() for c, d in enumerate(row)])
    for engine in ("vectorized", "des"):
        summary = pssim.run("UC-MMC-PG", 2, 2, engine=engine, compute_times=table,
                            pg_tolerance=0.7, iterations=2, reps=1, network="fair",
                            message_size=1.0, master_bandwidth=1.0, late_policy=late_policy)
        assert [tuple(r) for r in summary[COLUMNS].itertuples(index=False)] == expected


def fair_runs() -> st.SearchStrategy[dict]:
    """fifo's random training runs (test_fifo_training.training_runs: coarse grids that
    tie, uplinks slower and faster than the master's link, latency, both late policies,
    ends of transfers and downlinks) under fair, with a longer latency besides."""
    return st.tuples(training_runs(), st.sampled_from([0.0, 0.25, 1.0])).map(
        lambda c: {**c[0], "network": "fair", "latency": c[1]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fair_runs())
def test_vectorized_equals_des_per_realization_and_iteration(config: dict) -> None:
    agree(config)


@pytest.mark.parametrize("options", [
    # A busy link: 40 flows of 4 MB per iteration at 1 GB/s against computations of
    # about 50 ms, so that late flows of one iteration slow the next one's.
    {"late_policy": "drain"},
    {"late_policy": "cancel", "downlink": "unicast", "downlink_bandwidth": "10GB/s"},
    {"late_policy": "cancel", "latency": "20ms", "decode_time": "1ms"},
    {"cancel_transfers": "abort", "uplink_bandwidth": "50MB/s", "decode_time": "1ms"},
    {"late_policy": "drain", "cancel_transfers": "abort", "latency": "5ms"},
])
def test_vectorized_equals_des_at_the_benchmark_size(options: dict) -> None:
    agree({"scheme": "LCC-MMC", "workers": 40, "load": 4, "reps": 4, "seed": 3,
           "iterations": 10, "network": "fair", "message_size": "4MB",
           "master_bandwidth": "1GB/s", "latency": "50us", **options})


def test_auto_runs_fair_training_runs_on_the_vectorized_engine() -> None:
    fair = Fair(message_size=1e6, master_bandwidth=1e9)
    training = Training(iterations=3)
    assert choose("auto", fair, False, training).name == "vectorized"
    assert choose("auto", fair, True, training).name == "des"  # a trace needs SimPy


def test_blocks_of_realizations_change_nothing() -> None:
    # 600 realizations run as three blocks of at most 256 (vectorized._BLOCK): each
    # realization as the SimPy engine gives it, and the same as when run alone.
    config = {"scheme": "UC-MMC", "workers": 5, "load": 2, "reps": 600, "seed": 11,
              "iterations": 3, "network": "fair", "message_size": "1MB",
              "master_bandwidth": "100MB/s", "late_policy": "drain"}
    agree(config)
    whole = pssim.run(**config, engine="vectorized")
    alone = pssim.simulate(**{**config, "reps": 1}, first_rep=599,
                           engine="vectorized").summary
    assert whole.iloc[-3:].reset_index(drop=True).equals(alone.reset_index(drop=True))
    assert math.isfinite(whole["end"].max())
