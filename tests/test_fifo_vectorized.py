"""The vectorized form of network fifo (docs/model.md, "Network"): the two links' recursion
against the model written out message by message, and the SimPy engine realization by
realization at sizes where many messages reach the master's link at once."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from conftest import tied_durations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pssim import run
from pssim.network import Fifo
from pssim.schemes import PAPER_SCHEMES, feasible

EXACT = ["messages", "messages_sent", "computations"]


def by_hand(net: Fifo, ready: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Send starts and receptions of one realization's messages (ready, shape (N, m)) as
    docs/model.md describes them, one message at a time in plain Python: each uplink sends
    in order, each message travels ``latency``, and the master's link serves whole
    messages by arrival (equal arrivals: lower worker, then earlier message)."""
    workers, m = ready.shape
    sent = np.empty((workers, m))
    queue = []
    for w in range(workers):
        end = -math.inf
        for j in range(m):
            sent[w, j] = max(float(ready[w, j]), end)
            end = sent[w, j] + net.uplink_time
            queue.append((end + net.latency, w, j))
    received = np.empty((workers, m))
    last = -math.inf
    for arrival, w, j in sorted(queue):
        last = max(arrival, last) + net.master_time
        received[w, j] = last
    return sent, received


def agrees_with_by_hand(net: Fifo, ready: np.ndarray) -> None:
    sent, received = net.arrays(ready, identify=True)
    count_sent, sorted_received = net.arrays(ready, identify=False)
    for k in range(ready.shape[0]):
        hand_sent, hand_received = by_hand(net, ready[k])
        assert np.array_equal(sent[k], hand_sent)
        assert np.array_equal(received[k], hand_received)
        assert np.array_equal(count_sent[k], hand_sent)
        assert np.array_equal(sorted_received[k], np.sort(hand_received.ravel()))


RATES = st.sampled_from([0.5, 1.0, 3.0, 10.0, math.inf])


@settings(max_examples=200, deadline=None)
@given(reps=st.integers(1, 4), workers=st.integers(1, 8), m=st.integers(1, 4),
       grid=st.booleans(), seed=st.integers(0, 2**32 - 1), uplink=RATES, master=RATES,
       latency=st.sampled_from([0.0, 0.25, 0.1]))
def test_both_links_are_the_recursion_message_by_message(
        reps: int, workers: int, m: int, grid: bool, seed: int, uplink: float, master: float,
        latency: float) -> None:
    rng = np.random.default_rng(seed)
    # On a grid of halves, messages are ready together, arrive together and reach the
    # master's link just as it finishes a message; otherwise no two times are equal.
    steps = rng.integers(0, 3, (reps, workers, m)) / 2 if grid else rng.exponential(
        1.0, (reps, workers, m))
    ready = np.cumsum(steps, axis=2)
    net = Fifo(message_size=1.0, uplink_bandwidth=uplink, master_bandwidth=master,
               latency=latency)
    agrees_with_by_hand(net, ready)


def test_a_large_cluster_with_a_busy_link() -> None:
    # N = 2,000 at r = 10: 20,000 messages per realization, the master's link busy for
    # 2.4 s against computations of about 0.1 s each, so that its busy periods are long;
    # a coarse grid of ready times makes a third of the arrivals tie.
    rng = np.random.default_rng(7)
    ready = np.cumsum(rng.integers(1, 4, (3, 2000, 10)) * 0.05, axis=2)
    agrees_with_by_hand(Fifo(message_size=1.2e3, master_bandwidth=1e7, latency=1e-3), ready)


@st.composite
def crowded(draw: st.DrawFn) -> dict:
    """Up to 40 workers whose durations lie on a coarse grid, so that many messages reach
    the master's link at the same instant; uplinks as fast as, faster or slower than it."""
    n = draw(st.integers(8, 40))
    r = draw(st.integers(1, 4))
    scheme = draw(st.sampled_from([s for s in PAPER_SCHEMES if feasible(s, n, r)]))
    master = draw(st.sampled_from([1.0, 2.0, 8.0]))
    uplink = draw(st.sampled_from([master, master / 4, 4 * master, math.inf]))
    return {"scheme": scheme, "workers": n, "load": r, "pg_tolerance": 0.2,
            **tied_durations(draw, n, r), "network": "fifo", "message_size": 0.5,
            "uplink_bandwidth": uplink, "master_bandwidth": master,
            "latency": draw(st.sampled_from([0.0, 0.25]))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowded())
def test_vectorized_equals_des_with_many_simultaneous_arrivals(config: dict) -> None:
    a = run(**config, engine="des")
    b = run(**config, engine="vectorized")
    np.testing.assert_allclose(b["completion_time"], a["completion_time"], rtol=1e-9, atol=0)
    pd.testing.assert_frame_equal(a[EXACT], b[EXACT])
