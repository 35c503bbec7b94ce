"""Training runs under network fifo on the vectorized engine (docs/model.md, "Training
runs"): one case computed by hand in which a message of iteration 0 still waits at the
master's link when iteration 1 begins, and the SimPy engine realization by realization and
iteration over random configurations, with and without ties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pssim
from pssim import ConfigError
from pssim.engines import choose
from pssim.network import Fifo, Tcp
from pssim.schemes import PAPER_SCHEMES, feasible
from pssim.training import Training

TIMES = ["start", "end", "completion_time"]
COUNTS = ["iteration", "rep", "messages", "messages_sent", "computations", "late_messages",
          "bytes"]
COLUMNS = ["iteration", "start", "end", "messages", "messages_sent", "computations",
           "late_messages", "wasted_bytes"]


def durations(per_iteration: list[list[float]]) -> pd.DataFrame:
    """One duration per (iteration, worker): r = 1 computation each."""
    return pd.DataFrame([{"iteration": t, "worker": w, "duration": d}
                         for t, row in enumerate(per_iteration) for w, d in enumerate(row)])


@pytest.mark.parametrize("late_policy", ["cancel", "drain"])
@pytest.mark.parametrize(("cancel_transfers", "expected"), [
    # UC-MMC-PG with tau = 0.7 at N = 3, r = 1 needs one message; each takes 1 s on the
    # master's link (1 B at 1 B/s), and the uplinks and the downlink take no time.
    # Iteration 0: messages arrive at 1, 1.25 and 1.5; worker 0's is received at 2 = T0.
    # Worker 1's is served over [2, 3], worker 2's still waits when iteration 1 begins at
    # 2 and is served over [3, 4]. Iteration 1's messages arrive at 2.5 (worker 0) and 4:
    # worker 0's waits behind worker 2's of iteration 0 and is received at 5 = T1, not at
    # 3.5. Iteration 0's two late messages are received by T1; each message began when
    # it was ready, by T1 (all three of iteration 1 at 2.5, 4, 4): 3 sent, 3 computed.
    ("complete", [(0, 0.0, 2.0, 1, 3, 3, 2, 2.0), (1, 2.0, 5.0, 1, 3, 3, 0, 0.0)]),
    # abort: T0 = 2 removes the two messages waiting at the master's link (2 B wasted),
    # so worker 0's of iteration 1 is served at once over [2.5, 3.5]; the others are
    # ready at 4, after T1, and never begin (nothing wasted).
    ("abort", [(0, 0.0, 2.0, 1, 3, 3, 0, 2.0), (1, 2.0, 3.5, 1, 1, 1, 0, 0.0)]),
])
def test_a_message_of_iteration_0_still_waits_when_iteration_1_begins(
        late_policy: str, cancel_transfers: str, expected: list[tuple]) -> None:
    # Under cancel nothing is dropped: every message of iteration 0 began before the model
    # arrived at 2, so both policies give the same rows.
    options = {"pg_tolerance": 0.7, "iterations": 2, "reps": 1, "network": "fifo",
               "message_size": 1.0, "master_bandwidth": 1.0, "late_policy": late_policy,
               "cancel_transfers": cancel_transfers,
               "compute_times": durations([[1, 1.25, 1.5], [0.5, 2, 2]])}
    for engine in ("vectorized", "des"):
        summary = pssim.run("UC-MMC-PG", 3, 1, engine=engine, **options)
        assert [tuple(r) for r in summary[COLUMNS].itertuples(index=False)] == expected


#: The schemes and sizes to draw from: those that can run.
SETTINGS = [(s, n, r) for n in range(2, 9) for r in range(1, 5) for s in PAPER_SCHEMES
            if feasible(s, n, r)]


@st.composite
def training_runs(draw: st.DrawFn) -> dict:
    """K = 2 to 6 iterations at N = 2 to 8 and r = 1 to 4, explicit durations drawn from a
    coarse grid (so that finish times, arrivals, receptions and models tie) or from a
    continuous law; uplinks as fast as, slower or faster than the master's link, or
    unlimited; both late policies, downlinks and ends of transfers."""
    k = draw(st.integers(2, 6))
    scheme, n, r = draw(st.sampled_from(SETTINGS))
    reps = draw(st.integers(1, 3))
    per_computation = draw(st.booleans())
    keys = [(rep, t, w, c) for rep in range(reps) for t in range(k) for w in range(n)
            for c in range(r if per_computation else 1)]
    if draw(st.booleans()):
        values = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0]),
                               min_size=len(keys), max_size=len(keys)))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        values = (0.05 + rng.exponential(1.0, len(keys))).tolist()
    table = pd.DataFrame([{"rep": rep, "iteration": t, "worker": w, "computation": c + 1,
                           "duration": d}
                          for (rep, t, w, c), d in zip(keys, values, strict=True)])
    if not per_computation:
        table = table.drop(columns="computation")
    master = draw(st.sampled_from([1.0, 2.0, 8.0]))
    return {"scheme": scheme, "workers": n, "load": r, "pg_tolerance": 0.2,
            "iterations": k, "reps": reps, "compute_times": table, "network": "fifo",
            "message_size": 0.5, "master_bandwidth": master,
            "uplink_bandwidth": draw(st.sampled_from([master, master / 4, 4 * master,
                                                      math.inf])),
            "latency": draw(st.sampled_from([0.0, 0.25])),
            "late_policy": draw(st.sampled_from(["cancel", "drain"])),
            "cancel_transfers": draw(st.sampled_from(["complete", "abort"])),
            "downlink": draw(st.sampled_from(["broadcast", "unicast"])),
            "downlink_bandwidth": draw(st.sampled_from([math.inf, 1.0, 4.0])),
            "decode_time": draw(st.sampled_from([0.0, 0.25]))}


def agree(config: dict) -> None:
    a = pssim.run(**config, engine="des")
    b = pssim.run(**config, engine="vectorized")
    for column in TIMES:
        np.testing.assert_allclose(b[column], a[column], rtol=1e-9, atol=0, err_msg=column)
    np.testing.assert_allclose(b["wasted_bytes"], a["wasted_bytes"], rtol=1e-9, atol=0)
    pd.testing.assert_frame_equal(a[COUNTS], b[COUNTS])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(training_runs())
def test_vectorized_equals_des_per_realization_and_iteration(config: dict) -> None:
    agree(config)


@pytest.mark.parametrize("options", [
    # A busy link: 40 messages of 4 MB per iteration at 1 GB/s against computations of
    # about 50 ms, so that late messages of one iteration delay the next.
    {"late_policy": "drain"},
    {"late_policy": "cancel", "downlink": "unicast", "downlink_bandwidth": "10GB/s"},
    {"cancel_transfers": "abort", "uplink_bandwidth": "500MB/s", "decode_time": "1ms"},
])
def test_vectorized_equals_des_at_the_benchmark_size(options: dict) -> None:
    agree({"scheme": "LCC-MMC", "workers": 40, "load": 4, "reps": 4, "seed": 3,
           "iterations": 10, "network": "fifo", "message_size": "4MB",
           "master_bandwidth": "1GB/s", "latency": "50us", **options})


def test_auto_runs_fifo_training_runs_on_the_vectorized_engine() -> None:
    fifo = Fifo(message_size=1e6, master_bandwidth=1e9)
    training = Training(iterations=3)
    assert choose("auto", fifo, False, training).name == "vectorized"
    assert choose("auto", fifo, True, training).name == "des"  # a trace needs SimPy
    tcp = Tcp(message_size=1e6, master_bandwidth=1e9)
    assert choose("auto", tcp, False, training).name == "des"
    with pytest.raises(ConfigError, match="not under network 'tcp'"):
        pssim.run("LCC", 4, 2, engine="vectorized", network="tcp", message_size=1e6,
                  master_bandwidth=1e9, iterations=3, reps=1)


def test_blocks_of_realizations_change_nothing() -> None:
    # 600 realizations run as three blocks of at most 256 (vectorized._BLOCK): each
    # realization as the SimPy engine gives it, and the same as when run alone.
    config = {"scheme": "LCC", "workers": 4, "load": 2, "reps": 600, "seed": 11,
              "iterations": 3, "network": "fifo", "message_size": "1MB",
              "master_bandwidth": "100MB/s", "late_policy": "drain"}
    agree(config)
    whole = pssim.run(**config, engine="vectorized")
    alone = pssim.simulate(**{**config, "reps": 1}, first_rep=599, engine="vectorized").summary
    pd.testing.assert_frame_equal(whole.iloc[-3:].reset_index(drop=True),
                                  alone.reset_index(drop=True), check_exact=True)
