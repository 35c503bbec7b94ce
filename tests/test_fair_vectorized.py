"""The vectorized form of network fair (docs/model.md, "Network"): hand-computed flows,
and the SimPy engine realization by realization."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import tied_durations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pssim import run
from pssim.network import Fair
from pssim.network.base import DecodingRule
from pssim.network.fair import share
from pssim.schemes import PAPER_SCHEMES, feasible

EXACT = ["messages", "messages_sent", "computations"]
SCHEMES = (*PAPER_SCHEMES, "LCC(1)", "LCC(2)", "LCC(3)")


def flows(ready: list[list[float]], **link: float) -> tuple[list[float], list[float]]:
    """Starts and receptions of one realization's flows, worker by worker, of 1-byte
    messages on a 1 B/s master's link unless ``link`` says otherwise."""
    options = {"message_size": 1.0, "master_bandwidth": 1.0, **link}
    sent, received = Fair(**options).arrays(np.array([ready], dtype=float), identify=True)
    return sent.ravel().tolist(), received.ravel().tolist()


def test_two_overlapping_flows() -> None:
    # W0 alone from 0 (1 B/s) has 0.5 B left at 0.5; both at 0.5 B/s: W0 ends at 1.5, W1
    # has 0.5 B left and ends alone at 2.
    assert flows([[0.0], [0.5]]) == ([0.0, 0.5], [1.5, 2.0])


def test_three_overlapping_flows() -> None:
    # W0 alone from 0: 0.5 B left at 0.5. W1 joins, 0.5 B/s each until W2 joins at 1.25:
    # W0 has 0.125 B left, W1 0.625 B. A third each: W0 ends at 1.625, W1 has 0.5 B left
    # and W2 0.875 B. A half each: W1 ends at 2.625; W2, 0.375 B left, alone at 3.
    sent, received = flows([[0.0], [0.5], [1.25]])
    assert sent == [0.0, 0.5, 1.25]
    assert received == pytest.approx([1.625, 2.625, 3.0], rel=1e-15)


def test_three_flows_at_a_third_each() -> None:
    # Three flows from 1, a third of the link each, end together; W0's second message,
    # ready at 2, starts when its first ends and then has the link alone; the others' second
    # messages share it from 9, half each.
    sent, received = flows([[1.0, 2.0], [1.0, 9.0], [1.0, 9.0]])
    assert received[0] == received[2] == received[4] == pytest.approx(4.0, rel=1e-15)
    assert sent[1] == received[0] and received[1] == pytest.approx(5.0, rel=1e-15)
    assert received[3] == received[5] == 11.0


def test_cap_below_the_fair_share() -> None:
    # Capped at 0.4 B/s (two flows would get 0.5): W0 0.2 B by 0.5, then both at 0.4 B/s:
    # W0 ends at 2.5, W1 (0.2 B left) at 3; a cap alone: every flow takes 2.5 s.
    assert flows([[0.0], [0.5]], uplink_bandwidth=0.4) == ([0.0, 0.5], [2.5, 3.0])
    assert flows([[0.0], [0.5]], uplink_bandwidth=0.4, master_bandwidth=math.inf) == (
        [0.0, 0.5], [2.5, 3.0])


def test_latency_delays_the_join_not_the_start() -> None:
    # Flows join at 0.5 and 1: W0 alone until 1 (0.5 B), a half each until W0 ends at 2;
    # W1, 0.5 B left, alone ends at 2.5. W0's second message, ready at 0.1, starts at 2
    # and joins at 2.5, alone: received at 3.5.
    sent, received = flows([[0.0, 0.1], [0.5, 9.0]], latency=0.5)
    assert sent == [0.0, 2.0, 0.5, 9.0]
    assert received == [2.0, 3.5, 2.5, 10.5]


def test_a_realization_stops_when_its_master_decodes() -> None:
    # The three overlapping flows above, with a master that decodes at its second
    # reception: the third flow is left unreceived, the first two as before.
    ready = np.array([[[0.0], [0.5], [1.25]]])
    rule = DecodingRule(np.arange(3).reshape(3, 1), threshold=2)
    _, received = share(ready, 1.0, math.inf, 1.0, 0.0, rule)
    assert received.ravel() == pytest.approx([1.625, 2.625, math.inf], rel=1e-15)


def test_unbounded_links_deliver_after_the_latency() -> None:
    sent, received = flows([[1.0, 1.0]], master_bandwidth=math.inf, latency=0.25)
    assert (sent, received) == ([1.0, 1.25], [1.25, 1.5])


@st.composite
def cases(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 10))
    r = draw(st.integers(1, n))
    options = [s for s in SCHEMES if feasible(s, n, r)]
    config: dict = {"scheme": draw(st.sampled_from(options)), "workers": n, "load": r,
                    "seed": draw(st.integers(0, 2**32)), "network": "fair"}
    if draw(st.booleans()):
        # Durations on a coarse grid, so that flows start, join and end together.
        config.update(tied_durations(draw, n, r))
        sizes = st.sampled_from([0.5, 1.0, 2.0])
        rates = st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.0, math.inf])
        delays = st.sampled_from([0.0, 0.25, 0.5])
    else:
        config.update(mu=draw(st.floats(0.5, 50)), alpha=draw(st.floats(0, 0.1)),
                      reps=draw(st.integers(1, 30)))
        sizes = st.floats(1e3, 1e8)
        rates = st.floats(1e6, 1e10) | st.just(math.inf)
        delays = st.floats(0, 0.05)
    config.update(message_size=draw(sizes), uplink_bandwidth=draw(rates),
                  master_bandwidth=draw(rates), latency=draw(delays))
    return config


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_vectorized_equals_des(config: dict) -> None:
    a = run(**config, engine="des")
    b = run(**config, engine="vectorized")
    np.testing.assert_allclose(b["completion_time"], a["completion_time"], rtol=1e-9, atol=0)
    pd.testing.assert_frame_equal(a[EXACT], b[EXACT])


def test_chunking_never_changes_results() -> None:
    base = {"scheme": "LCC-MMC,UC-MMC", "workers": 8, "load": 4, "reps": 60, "seed": 11,
            "network": "fair", "message_size": "1MB", "master_bandwidth": "1Gbps",
            "latency": "20us", "engine": "vectorized"}
    whole = run(**base)
    for chunk in (1, 7):
        pd.testing.assert_frame_equal(run(**base, chunk_size=chunk), whole, check_exact=True)
