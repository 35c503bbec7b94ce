"""Network fair's link (docs/model.md, "Network"): hand-computed flows in both engines,
and the two engines realization by realization."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import tied_durations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pssim import run, simulate
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


def des_receptions(ready: list[float], **link: float) -> list[float]:
    """When the SimPy engine's master receives each worker's one message, ready at
    ``ready`` (one computation each), on the links of :func:`flows`."""
    table = pd.DataFrame({"worker": range(len(ready)), "duration": ready})
    res = simulate("UC-MMC", len(ready), 1, compute_times=table, reps=1, trace=True,
                   engine="des", network="fair",
                   **{"message_size": 1.0, "master_bandwidth": 1.0, **link})
    assert res.trace is not None
    got = res.trace[res.trace["event"] == "received"].sort_values("worker")
    return got["time"].tolist()


def test_three_overlapping_flows_and_a_cap_in_both_engines() -> None:
    # Caps of 0.4 B/s. W0 alone from 1 at 0.4 B/s: 0.8 B left at 1.5. W1 joins: a half
    # each would be 0.5, so both go at the cap: W0 0.6 B and W1 0.8 B left at 2. W2 joins:
    # a third each, below the cap: W0 ends at 2 + 0.6·3 = 3.8, when W1 has 0.2 B left and
    # W2 0.4 B. Both back at the cap: W1 ends at 3.8 + 0.5 = 4.3; W2, 0.2 B left, alone at
    # the cap, at 4.8.
    expected = [3.8, 4.3, 4.8]
    sent, received = flows([[1.0], [1.5], [2.0]], uplink_bandwidth=0.4)
    assert sent == [1.0, 1.5, 2.0]
    assert received == pytest.approx(expected, rel=1e-15)
    assert des_receptions([1.0, 1.5, 2.0], uplink_bandwidth=0.4) == received


def test_a_flow_ending_as_another_joins_leaves_it_the_whole_link() -> None:
    # W0's flow ends at 2, the instant W1's joins (docs/model.md, "Network", ties under
    # fair: ends first), so W1 has the link alone: 0.5 B left when W2's joins at 2.5, then
    # a half each: W1 ends at 3.5, W2 (0.5 B left) alone at 4.
    received = flows([[1.0], [2.0], [2.5]])[1]
    assert received == [2.0, 3.5, 4.0]
    assert des_receptions([1.0, 2.0, 2.5]) == received


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
    kind = draw(st.sampled_from(["tied", "crowd", "random"]))
    if kind == "tied":
        # Durations on a coarse grid, so that flows start, join and end together.
        config.update(tied_durations(draw, n, r))
        sizes = st.sampled_from([0.5, 1.0, 2.0])
        rates = st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.0, math.inf])
        delays = st.sampled_from([0.0, 0.25, 0.5])
    elif kind == "crowd":
        # Many workers whose messages are ready together: many flows at once, joining
        # and ending at the same instants, with caps above or below the fair share.
        n = draw(st.integers(10, 40))
        r = draw(st.integers(1, 4))
        config.update(workers=n, load=r, scheme=draw(st.sampled_from(
            [s for s in SCHEMES if feasible(s, n, r)])),
            compute_times=pd.DataFrame({"worker": range(n), "duration": draw(
                st.lists(st.sampled_from([1.0, 2.0]), min_size=n, max_size=n))}), reps=1)
        sizes = st.just(1.0)
        rates = st.sampled_from([1.0, 2.0, 7.0, 40.0, math.inf])
        delays = st.sampled_from([0.0, 0.5])
    else:
        config.update(mu=draw(st.floats(0.5, 50)), alpha=draw(st.floats(0, 0.1)),
                      reps=draw(st.integers(1, 30)))
        sizes = st.floats(1e3, 1e8)
        rates = st.floats(1e6, 1e10) | st.just(math.inf)
        delays = st.floats(0, 0.05)
    config.update(message_size=draw(sizes), uplink_bandwidth=draw(rates),
                  master_bandwidth=draw(rates), latency=draw(delays),
                  cancel_transfers=draw(st.sampled_from(["complete", "abort"])))
    return config


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_vectorized_equals_des(config: dict) -> None:
    # One arithmetic in both engines (network/fair.py): the same instants to the bit, and
    # the same bytes in flight at T under abort.
    a = run(**config, engine="des")
    b = run(**config, engine="vectorized")
    pd.testing.assert_frame_equal(a[[*EXACT, "completion_time", "wasted_bytes"]],
                                  b[[*EXACT, "completion_time", "wasted_bytes"]],
                                  check_exact=True)


def test_chunking_never_changes_results() -> None:
    base = {"scheme": "LCC-MMC,UC-MMC", "workers": 8, "load": 4, "reps": 60, "seed": 11,
            "network": "fair", "message_size": "1MB", "master_bandwidth": "1Gbps",
            "latency": "20us", "engine": "vectorized"}
    whole = run(**base)
    for chunk in (1, 7):
        pd.testing.assert_frame_equal(run(**base, chunk_size=chunk), whole, check_exact=True)


def test_only_the_vectorized_fair_loop_imports_the_compiler() -> None:
    # `pssim --help` and the SimPy engine under fair never load numba; the vectorized
    # engine under fair does, on first use.
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from pssim.cli import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "import pssim\n"
        "link = dict(network='fair', message_size=1, master_bandwidth=1)\n"
        "pssim.run('LCC', 4, 2, reps=2, engine='des', **link)\n"
        "print('numba' in sys.modules)\n"
        "pssim.run('LCC', 4, 2, reps=2, engine='vectorized', **link)\n"
        "print('numba' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "True"]
