"""Network ``tcp``: bytes on the wire, a link that never idles while segments wait, the
bound of the link's rate, determinism, and aborted transfers (docs/model.md, "Network
tcp")."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import pssim
from pssim.network import Tcp
from pssim.network.tcp import HEADERS, MTU_OVERHEAD

B = 12.5e6  # 100 Mbit/s
SIZE = 1e6


def wire(size: float, mtu: int = 1500) -> float:
    """Bytes on the wire of one message, by hand: payload + 66 bytes per segment."""
    return size + math.ceil(size / (mtu - MTU_OVERHEAD)) * HEADERS


def durations(ready: list[float]) -> pd.DataFrame:
    """One computation per worker, finishing at ``ready[i]``."""
    return pd.DataFrame({"worker": range(len(ready)), "duration": ready})


def run(ready: list[float], **options: object) -> pd.DataFrame:
    config: dict[str, object] = {"scheme": "UC-MMC", "workers": len(ready), "load": 1,
                                 "compute_times": durations(ready), "reps": 1,
                                 "network": "tcp", "message_size": SIZE,
                                 "master_bandwidth": B, **options}
    return pssim.run(**config)  # type: ignore[arg-type]


def test_segments_carry_mtu_minus_52_bytes_and_66_of_headers() -> None:
    assert Tcp(master_bandwidth=B, message_size=SIZE).wire_bytes == 1e6 + 691 * 66
    assert Tcp(master_bandwidth=B, message_size=SIZE, mtu=9000).wire_bytes == (
        1e6 + math.ceil(1e6 / 8948) * 66)


@pytest.mark.parametrize("mtu", [1500, 9000])
def test_a_message_alone_takes_its_bytes_on_the_wire_over_the_link(mtu: int) -> None:
    # Acknowledgements return at once, so the window always keeps segments waiting at
    # the link: it never idles, and the message takes exactly its wire bytes / B.
    out = run([0.1, 0.4], mtu=mtu)
    assert out.completion_time.iloc[0] == pytest.approx(0.4 + wire(SIZE, mtu) / B,
                                                        rel=1e-12)
    assert out.messages.iloc[0] == 2


def test_messages_ready_together_share_a_link_that_never_idles() -> None:
    out = run([0.1, 0.1, 0.1])
    assert out.completion_time.iloc[0] == pytest.approx(0.1 + 3 * wire(SIZE) / B, rel=1e-12)
    fair = run([0.1, 0.1, 0.1], network="fair")
    assert fair.completion_time.iloc[0] == pytest.approx(0.1 + 3 * SIZE / B, rel=1e-12)


def test_no_iteration_beats_the_links_rate_even_with_losses() -> None:
    # A queue of 8 segments at 20 senders overflows: losses, recoveries and timeouts.
    ready = [0.1] * 20
    out = run(ready, buffer=8 * 1514, scheme="UC-MMC", load=2)
    # Each worker sends 2 messages; UC-MMC needs every partition: at least N messages'
    # wire bytes crossed the link after 0.1.
    assert out.completion_time.iloc[0] >= 0.1 + 20 * wire(SIZE) / B
    assert out.messages.iloc[0] >= 20


def test_the_same_seed_gives_the_same_times_to_the_bit() -> None:
    options = {"scheme": "LCC,UC-MMC,GC", "workers": 8, "load": 2, "network": "tcp",
               "message_size": "512KB", "master_bandwidth": "100Mbps", "reps": 5,
               "seed": 3, "buffer": 100_000}
    a = pssim.run(**options)  # type: ignore[arg-type]
    b = pssim.run(**options)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_the_summary_names_mtu_and_buffer() -> None:
    out = run([0.1, 0.2], mtu=9000, buffer="2MB")
    assert (out.mtu.iloc[0], out.buffer.iloc[0], out.network.iloc[0]) == (9000, 2e6, "tcp")


def test_abort_changes_no_single_iteration_metric() -> None:
    options = {"scheme": "all", "workers": 8, "load": 2, "network": "tcp",
               "message_size": "1MB", "master_bandwidth": "100Mbps", "reps": 4, "seed": 5}
    kept = pssim.run(**options)  # type: ignore[arg-type]
    aborted = pssim.run(**options, cancel_transfers="abort")  # type: ignore[arg-type]
    for column in ("completion_time", "messages", "messages_sent", "computations"):
        np.testing.assert_array_equal(kept[column], aborted[column])
    assert (kept.wasted_bytes == 0).all()
    # What was in flight at T had reached the master in whole segments, never more than
    # the messages begun and not received.
    assert (aborted.wasted_bytes >= 0).all()
    assert (aborted.wasted_bytes <= (aborted.messages_sent - aborted.messages) * 1e6).all()
    assert (aborted.wasted_bytes > 0).any()


def test_abort_frees_the_link_for_the_next_iteration() -> None:
    # Two workers, UC-MMC-PG with τ = 0.5: iteration 0 ends at the first message, both
    # begun at 0.1, and the other is still in flight. Iteration 1's first message is
    # ready 1 ms after T_0: with the aborted one gone it has the link to itself.
    table = pd.DataFrame({"iteration": [0, 0, 1, 1], "worker": [0, 1, 0, 1],
                          "duration": [0.1, 0.1, 0.001, 0.5]})
    options = {"scheme": "UC-MMC-PG", "pg_tolerance": 0.5, "workers": 2, "load": 1,
               "compute_times": table, "reps": 1, "network": "tcp",
               "message_size": SIZE, "master_bandwidth": B, "iterations": 2}
    kept = pssim.run(**options)  # type: ignore[arg-type]
    aborted = pssim.run(**options, cancel_transfers="abort")  # type: ignore[arg-type]
    assert kept.late_messages.iloc[0] == 1
    assert aborted.late_messages.sum() == 0
    assert 0 < aborted.wasted_bytes.iloc[0] < SIZE
    assert aborted.completion_time.iloc[0] == kept.completion_time.iloc[0]
    assert aborted.completion_time.iloc[1] == pytest.approx(0.001 + wire(SIZE) / B,
                                                            rel=1e-9)
    # Completed instead, the late message still shares the link with it.
    assert kept.completion_time.iloc[1] > aborted.completion_time.iloc[1]


def test_cubic_keeps_to_its_curve_across_idle_time() -> None:
    """Linux's CA_EVENT_TX_START: a connection in congestion avoidance that sent nothing
    for a while moves its CUBIC epoch on by that time, so that the window does not jump
    along the cubic as if it had been sending; slow start has no epoch to move."""
    from pssim.network.tcp import Stack

    stack = Stack(2, 4 * 1448, 1500, 1.5e6, B, math.inf, 0.0, lambda w, m: True)
    ca, ss = stack.conns
    for c in (ca, ss):
        c.cwnd, c.last_send = 20.0, 1.0
    ca.ssthresh, ca.epoch = 10.0, 0.5
    stack.write(1.3, 0, 0)
    assert ca.epoch == pytest.approx(0.8, abs=1e-15)
    stack.write(1.3, 1, 0)
    assert ss.epoch == -1.0
