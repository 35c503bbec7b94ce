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
    # Per flow, one row per realization: a first column, then each worker's m flows and
    # one more column, so that a flow's predecessor and successor at its worker are the
    # columns beside it, and a last column that takes the writes of realizations with
    # nothing to write at a step (a scatter to every realization is cheaper than a masked
    # one). Between the workers' flows, nothing is ever ready and everything ended at −∞.
    per_worker = m + 1
    width = n * per_worker + 2
    trash = rows * width + width - 1
    times = np.full((reps, width), inf)
    flow_columns = (1 + np.arange(n)[:, None] * per_worker + np.arange(m)).ravel()
    times[:, flow_columns] = ready.reshape(reps, flows)
    times_flat = times.ravel()
    received = np.full((reps, width), -inf)
    received[:, flow_columns] = inf
    received_flat = received.ravel()
    # Queues, one row per place and one column per realization, read through offsets
    # place·reps + realization. The ready order ends on a row that never joins; the
    # other queues take the writes of realizations that do not write in their last row.
    order = flow_columns[np.argsort(ready.reshape(reps, flows), axis=1)]
    by_ready_flat = np.full((flows + 1, reps), trash)
    by_ready_flat[:flows] = (order + (rows * width)[:, None]).T
    by_ready_flat = by_ready_flat.ravel()
    ready_at_flat = times_flat.take(by_ready_flat)
    ready_join_flat = ready_at_flat + latency
    queued_join_flat = np.full((flows + 1) * reps, inf)
    queued_flow_flat = np.zeros((flows + 1) * reps, dtype=np.int64)
    queue_trash = flows * reps + rows
    # Transferring flows in join order, by their worker's column of ``left``; an empty
    # place names a column that stays +inf, so that an empty link has no flow to end.
    left = np.full((n + 2, reps), inf)
    left_flat = left.ravel()
    left_trash = n * reps + rows
    never = left_trash + reps
    active_flow_flat = np.zeros((flows + 2) * reps, dtype=np.int64)
    active_worker_flat = np.concatenate([np.tile(never, flows + 1), left_trash])
    active_trash = (flows + 1) * reps + rows
    # Offsets of the next place in the ready order, the queue's head and tail, the first
    # flow still transferring and the next to join; how many transfer.
    at_ready = rows.copy()
    at_head = rows.copy()
    at_tail = rows.copy()
    at_first = rows.copy()
    at_joined = rows.copy()
    busy = np.zeros(reps, dtype=np.int64)
    # The link's last update: its time and the flows joined by then.
    last = np.zeros(reps)
    limit = rows.copy()
    dust = FLUID_EPS * size
    for step in range(3 * flows):
        next_ready = ready_join_flat.take(at_ready)
        next_queued = queued_join_flat.take(at_head)
        head = active_worker_flat.take(at_first)
        least = left_flat.take(head)
        rate = np.minimum(cap, link / np.maximum(busy, 1))
        # The first flow ended at the last update if it had rounding dust left.
        ended = (least <= dust) & (at_first < limit)
        end = np.where(ended, last, last + least / rate)
        joins = np.minimum(next_ready, next_queued)
        leaves = end <= joins  # at equal instants, the link updates before flows join
        t = np.minimum(end, joins)
        live = t < inf
        if step % 32 == 0 and not live.any():
            break
        leaves &= live
        # A flow joins: from the queue, or in ready order unless its worker's previous
        # flow had not ended before it became ready (then that flow's end queues it).
        from_queue = (next_queued <= next_ready) & live & ~leaves
        from_ready = live & ~(leaves | from_queue)
        candidate = by_ready_flat.take(at_ready)
        accepted = received_flat.take(candidate - 1) < ready_at_flat.take(at_ready)
        accepted &= from_ready
        joining = from_queue | accepted
        # The link updates when the first flow's timer comes or a flow joins at a new
        # instant, as the SimPy engine's does, with its arithmetic: every transferring
        # flow loses rate·elapsed, and the flows due at the timer lose all they had left.
        update = np.where(leaves, ~ended, joining & (t > last))
        update &= live
        keeps = left > np.where(update & leaves, least * (1 + FLUID_EPS), -inf)
        left -= rate * np.where(update, t - last, 0.0)
        left *= keeps
        limit = np.where(update, at_joined, limit)
        last = np.where(update, t, last)

        # A flow ends: its worker's next message, if already waiting, starts now.
        flow = active_flow_flat.take(at_first)
        received_flat[np.where(leaves, flow, trash)] = t
        left_flat[np.where(leaves, head, left_trash)] = inf
        at_first += leaves * reps
        busy -= leaves
        waiting = leaves & (times_flat.take(flow + 1) <= t)
        place = np.where(waiting, at_tail, queue_trash)
        queued_join_flat[place] = t + latency
        queued_flow_flat[place] = flow + 1
        at_tail += waiting * reps

        new = np.where(from_queue, queued_flow_flat.take(at_head), candidate)
        worker = np.where(joining, (new - trash + width - 2) // per_worker * reps + rows,
                          left_trash)
        left_flat[worker] = size
        place = np.where(joining, at_joined, active_trash)
        active_flow_flat[place] = new
        active_worker_flat[place] = worker
        at_joined += joining * reps
        busy += joining
        at_head += from_queue * reps
        at_ready += from_ready * reps
    # A flow starts when it is ready or, if later, when its worker's previous one ends.
    start = np.maximum(times, np.roll(received, 1, axis=1))[:, flow_columns]
    shape = (reps, n, m)
    return start.reshape(shape), received[:, flow_columns].reshape(shape)
