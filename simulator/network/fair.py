"""Network ``fair``, flow level (docs/model.md, "Network"): a worker sends its messages one
at a time; each becomes a flow, waits ``latency``, then shares the master's link max-min
fairly with every other transferring flow, capped at its worker's uplink.

Both engines: the SimPy processes change the rates whenever a flow starts or ends; the
vectorized form follows the same events in time order, one per step, for all realizations
at once. It relies on every flow having the same size and the same cap (one
``uplink_bandwidth`` for all workers): then all transferring flows go at one rate and end
in the order they joined. A subclass with unequal flows must declare ``engines`` without
``vectorized``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pssim.network.base import Cluster, Discipline, Send, register, uplinks

if TYPE_CHECKING:
    from simpy.events import Event

#: Tolerance, relative to the message size, below which a fluid flow counts as finished:
#: subtracting rate·elapsed leaves rounding dust on flows that end together.
FLUID_EPS = 1e-9


@register
class Fair(Discipline):
    """Flows share the master's link max-min fairly, each capped at its worker's uplink."""

    name = "fair"
    engines: ClassVar[frozenset[str]] = frozenset({"des", "vectorized"})

    def des(self, cluster: Cluster, workers: int) -> Send:
        env = cluster.env
        size = float(self.message_size or 0.0)
        flows: list[list[Any]] = []  # [worker, message, remaining bytes, done event]
        # Flows that joined since the link last updated: they transferred nothing yet.
        joining: list[list[Any]] = []
        wake = [env.event()]

        def forward(worker: int, message: int) -> Generator[Event, Any, None]:
            if self.latency:
                yield env.at(env.now + self.latency)
            done = env.event()
            joining.append([worker, message, size, done])
            if not wake[0].triggered:
                wake[0].succeed()
            yield done

        def link() -> Generator[Event, Any, None]:
            while True:
                if not flows and not joining:
                    wake[0] = env.event()
                    yield wake[0]
                flows.extend(joining)
                joining.clear()
                # Max-min fair share with a common per-flow cap: min(b, B / flows).
                rate = min(self.uplink_bandwidth, self.master_bandwidth / len(flows))
                start = env.now
                wake[0] = env.event()
                if math.isinf(rate):
                    finished = list(flows)
                else:
                    least = min(f[2] for f in flows)
                    end = start + least / rate
                    yield wake[0] | env.at(end)
                    # The flows due at ``end`` finish when it comes, decided by what they
                    # had left rather than by what rounding leaves them: at large times
                    # ``end`` can even round back to ``start``.
                    due = least * (1 + FLUID_EPS) if env.now >= end else -1.0
                    elapsed = env.now - start
                    finished = []
                    for f in flows:
                        if f[2] <= due:
                            f[2] = 0.0
                        else:
                            f[2] -= rate * elapsed
                        if f[2] <= FLUID_EPS * size:
                            finished.append(f)
                finished.sort(key=lambda f: (f[0], f[1]))
                for f in finished:
                    flows.remove(f)
                    cluster.receive(f[0], f[1])
                    f[3].succeed()

        env.process(link())
        return uplinks(cluster, workers, forward)

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        """Flow starts and receptions of messages ready at ``ready``, per message (see
        :func:`share`)."""
        if math.isinf(self.uplink_bandwidth) and math.isinf(self.master_bandwidth):
            return _unbounded(ready, self.latency)
        return share(ready, float(self.message_size or 0.0), self.uplink_bandwidth,
                     self.master_bandwidth, self.latency)


def _unbounded(ready: np.ndarray, latency: float) -> tuple[np.ndarray, np.ndarray]:
    """Neither the uplinks nor the master's link bound the rate: a flow ends the instant it
    joins, and its worker's next one starts then."""
    sent = np.empty_like(ready)
    received = np.empty_like(ready)
    end = np.full(ready.shape[:2], -np.inf)
    for j in range(ready.shape[2]):
        start = np.maximum(ready[:, :, j], end)
        sent[:, :, j] = start
        end = start + latency
        received[:, :, j] = end
    return sent, received


def share(ready: np.ndarray, size: float, cap: float, link: float,
          latency: float) -> tuple[np.ndarray, np.ndarray]:
    """Starts and receptions of flows of ``size`` bytes ready at ``ready`` (reps, N, m),
    each capped at ``cap`` B/s, sharing ``link`` B/s max-min fairly after ``latency`` s.

    The link's events in time order, one per step for every realization at once: the next
    flow to join (from the ready times in sorted order, or from the queue of flows whose
    worker was still sending when they became ready, which fills in order of departure)
    or the next to end. Every transferring flow gets min(cap, link / n), so flows end in
    the order they joined, and the link's state is V, the bytes each flow received since
    time 0: a flow that joined at V_j has size − (V − V_j) left. The link updates where
    the SimPy engine's does (a join at a new instant, or the timer of the first flow due),
    with the same expressions for the rate, the timer and the rounding-dust rule, so that
    the two agree to rounding in V and flows that end together are seen together.
    """
    reps, n, m = ready.shape
    flows = n * m
    rows = np.arange(reps)
    inf = np.inf
    # Per flow, one row per realization, plus a last column that takes the writes of the
    # realizations with nothing to write at a step: a scatter to every realization is
    # cheaper than a masked one.
    width = flows + 1
    base = rows * width
    times = np.full((reps, width), inf)
    times[:, :flows] = ready.reshape(reps, flows)
    times_flat = times.ravel()
    sent = np.full((reps, width), np.nan)
    sent_flat = sent.ravel()
    received = np.full((reps, width), inf)
    received_flat = received.ravel()
    # Queues, one row per place and one column per realization, with a last row for the
    # writes of realizations that do not write (never read: no queue holds every flow).
    by_ready = np.empty((flows + 1, reps), dtype=np.int64)
    by_ready[:flows] = np.argsort(times[:, :flows], axis=1).T
    by_ready[flows] = flows
    by_ready_flat = by_ready.ravel()
    ready_join = np.take_along_axis(times, by_ready.T, axis=1).T + latency
    ready_join_flat = np.ascontiguousarray(ready_join).ravel()
    queued_join = np.full((flows + 1, reps), inf)
    queued_join_flat = queued_join.ravel()
    queued_flow_flat = np.zeros((flows + 1) * reps, dtype=np.int64)
    active_flow_flat = np.zeros((flows + 1) * reps, dtype=np.int64)
    active_v_flat = np.zeros((flows + 1) * reps)
    # Next place to read in the ready order, the queue's head and tail, the first flow
    # still transferring and the number that joined; the flows transferring.
    p = np.zeros(reps, dtype=np.int64)
    head_q = np.zeros(reps, dtype=np.int64)
    tail_q = np.zeros(reps, dtype=np.int64)
    first = np.zeros(reps, dtype=np.int64)
    joined = np.zeros(reps, dtype=np.int64)
    busy = np.zeros(reps, dtype=np.int64)
    # The link's last update: its time, V after and before it, the bound below which a
    # flow was due then (−1: woken by a join, none due) and how many flows had joined.
    last = np.zeros(reps)
    v = np.zeros(reps)
    v_before = np.zeros(reps)
    due = np.full(reps, -1.0)
    limit = np.zeros(reps, dtype=np.int64)
    dust = FLUID_EPS * size
    for _ in range(3 * flows):
        next_ready = ready_join_flat[p * reps + rows]
        next_queued = queued_join_flat[head_q * reps + rows]
        head = first * reps + rows
        head_v = active_v_flat[head]
        on = busy > 0
        rate = np.minimum(cap, link / np.maximum(busy, 1))
        left = size - (v - head_v)
        # The first flow ended at the last update if the SimPy engine's would have.
        ended = on & (first < limit) & ((size - (v_before - head_v) <= due) | (left <= dust))
        end = np.where(ended, last, np.where(on, last + left / rate, inf))
        joins = np.minimum(next_ready, next_queued)
        leaves = end <= joins  # at equal instants, the link updates before flows join
        t = np.where(leaves, end, joins)
        live = t < inf
        if not live.any():
            break
        update = live & np.where(leaves, ~ended, t > last)
        v_before = np.where(update, v, v_before)
        v = np.where(update & on, v + rate * (t - last), v)
        due = np.where(update, np.where(leaves, left * (1 + FLUID_EPS), -1.0), due)
        limit = np.where(update, joined, limit)
        last = np.where(update, t, last)

        # A flow ends: its worker's next message, if already waiting, starts now.
        leaving = leaves & live
        flow = active_flow_flat[head]
        received_flat[base + np.where(leaving, flow, flows)] = t
        first += leaving
        busy -= leaving
        after = flow + 1
        waiting = leaving & (after % m != 0)
        waiting &= times_flat[base + np.where(waiting, after, flows)] <= t
        place = np.where(waiting, tail_q, flows) * reps + rows
        queued_join_flat[place] = t + latency
        queued_flow_flat[place] = after
        sent_flat[base + np.where(waiting, after, flows)] = t
        tail_q += waiting

        # A flow joins: from the queue, or in ready order unless its worker's previous
        # flow had not ended when it became ready (then that flow's end queued it).
        from_queue = live & ~leaves & (next_queued <= next_ready)
        from_ready = live & ~leaves & ~from_queue
        candidate = by_ready_flat[p * reps + rows]
        opens = candidate % m == 0
        before = received_flat[base + np.where(opens, flows, candidate - 1)]
        ready_at = times_flat[base + candidate]
        accepted = from_ready & (opens | (before < ready_at))
        sent_flat[base + np.where(accepted, candidate, flows)] = ready_at
        joining = from_queue | accepted
        new = np.where(from_queue, queued_flow_flat[head_q * reps + rows], candidate)
        place = np.where(joining, joined, flows) * reps + rows
        active_flow_flat[place] = new
        active_v_flat[place] = v
        joined += joining
        busy += joining
        head_q += from_queue
        p += from_ready
    shape = (reps, n, m)
    return sent[:, :flows].reshape(shape), received[:, :flows].reshape(shape)
