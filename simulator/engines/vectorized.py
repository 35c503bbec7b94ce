"""The vectorized engine: the same iterations as the SimPy engine, as array operations over
all realizations at once (DESIGN 2).

Exact where the dynamics have a closed-form recursion: network ``none`` (order statistics
of the ready times) and ``fifo`` (each uplink and the master's link by the Lindley
recursion, in the order of DESIGN's tie rule). Times come from the same float expressions
as in the SimPy engine, so the two agree realization by realization.
"""

from __future__ import annotations

import numpy as np

from pssim.network import Network
from pssim.schemes.base import Scheme

#: Networks this engine reproduces exactly.
NETWORKS = ("none", "fifo")


def simulate(scheme: Scheme, network: Network, finish: np.ndarray) -> np.ndarray:
    """Completion time, messages, messages_sent and computations of each realization of
    ``finish`` (shape (reps, N, r)), as a (reps, 4) float array."""
    if network.kind not in NETWORKS:
        raise ValueError(f"the vectorized engine covers networks {NETWORKS}, "
                         f"not {network.kind!r}")
    g = scheme.group
    # Message j is ready when computation (j+1)·g ends.
    ready = finish if g == 1 else finish[:, :, g - 1 :: g]
    if network.kind == "none":
        sent = received = ready
    else:
        sent, received = _fifo(ready, network, identify=not scheme.count_rule)
    reps = finish.shape[0]
    t = _completion(scheme, received.reshape(reps, -1))
    bound = t[:, None]
    counts: dict[int, np.ndarray] = {}
    out = np.empty((reps, 4))
    out[:, 0] = t
    # Without a network the three arrays are often one and the same: count each once.
    for column, times in ((1, received), (2, sent), (3, finish)):
        if id(times) not in counts:
            counts[id(times)] = np.count_nonzero(times.reshape(reps, -1) <= bound, axis=1)
        out[:, column] = counts[id(times)]
    return out


def _fifo(ready: np.ndarray, network: Network, identify: bool
          ) -> tuple[np.ndarray, np.ndarray]:
    """Send-start and reception times under store-and-forward links.

    Receptions come per message when ``identify``; otherwise as the sorted sequence of
    departures from the master's link, which is all a count rule needs (and avoids the
    stable sort that identifying equal arrivals requires).
    """
    reps, n, m = ready.shape
    up, lat, down = network.uplink_time, network.latency, network.master_time
    sent = np.empty_like(ready)
    end = np.full((reps, n), -np.inf)
    arrival = np.empty_like(ready)
    for j in range(m):  # each uplink sends its worker's messages one at a time, in order
        sent[:, :, j] = np.maximum(ready[:, :, j], end)
        end = sent[:, :, j] + up
        arrival[:, :, j] = end + lat
    # The master's link serves in order of arrival; a stable sort of the (worker, message)
    # flattening breaks equal arrivals by lower worker, then earlier message.
    flat = arrival.reshape(reps, n * m)
    # Position-major (one row per place in the queue) so that each step of the recursion
    # reads one contiguous row.
    if identify:
        # A stable sort is four times slower, and only realizations with equal arrivals
        # need it: sort those again.
        order = np.argsort(flat, axis=1)
        # Flat indices of the messages in queue order, one column per realization.
        where = (order + (np.arange(reps) * (n * m))[:, None]).T
        queue = flat.ravel()[where]
        tied = (queue[1:] == queue[:-1]).any(axis=0)
        if tied.any():
            order = np.argsort(flat[tied], axis=1, kind="stable")
            where[:, tied] = (order + (np.flatnonzero(tied) * (n * m))[:, None]).T
            queue[:, tied] = flat.ravel()[where[:, tied]]
    else:
        queue = np.ascontiguousarray(np.sort(flat, axis=1).T)
    leave = np.empty_like(queue)
    last = np.full(reps, -np.inf)
    for k in range(n * m):
        np.maximum(queue[k], last, out=last)
        last += down
        leave[k] = last
    if not identify:
        return sent, np.ascontiguousarray(leave.T)
    received = np.empty(reps * n * m)
    received[where] = leave
    return sent, received.reshape(reps, n, m)


def _completion(scheme: Scheme, flat: np.ndarray) -> np.ndarray:
    """The instant the master holds ``threshold`` distinct pieces; ``flat`` holds the
    reception times of each realization, per message in (worker, message) order unless
    the scheme is a count rule."""
    if scheme.count_rule:
        first = flat
    else:
        # Earliest reception of each piece, gathering one copy of every piece at a time
        # (pieces with fewer copies repeat their first one, which leaves the minimum alone).
        copies = _copies(scheme.labels().ravel())
        first = flat[:, copies[0]]
        for column in copies[1:]:
            np.minimum(first, flat[:, column], out=first)
    k = scheme.threshold - 1
    return np.partition(first, k, axis=1)[:, k]


def _copies(labels: np.ndarray) -> np.ndarray:
    """Message indices by copy: row c holds, for each piece, the index of its c-th message
    (or of its first when it has fewer)."""
    counts = np.unique(labels, return_counts=True)[1]
    order = np.argsort(labels, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.minimum(np.arange(counts.max())[:, None], counts[None, :] - 1)
    return order[starts[None, :] + rank]
