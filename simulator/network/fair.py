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
from simpy import Interrupt

from pssim.network.base import Cluster, Decoded, Discipline, Send, register, uplinks

if TYPE_CHECKING:
    from simpy import Process
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
        # The rate of every transferring flow and since when, for an abort's accounting.
        sharing = (0.0, 0.0)
        # Per worker, the message in its latency and the uplink's process, kept only when
        # an iteration's end aborts them.
        delayed: dict[int, tuple[int, Process]] = {}

        def abort() -> None:
            for worker, (message, process) in list(delayed.items()):
                if cluster.aborted(worker, message):
                    del delayed[worker]
                    cluster.wasted(worker, message, 0.0)  # it has not joined the link
                    process.interrupt()
            rate, start = sharing
            elapsed = env.now - start
            stopped = [f for f in flows if cluster.aborted(f[0], f[1])]
            for f in stopped:
                flows.remove(f)
                cluster.wasted(f[0], f[1], size - (f[2] - rate * elapsed))
                f[3].succeed()  # its uplink takes the next message now
            if stopped and not wake[0].triggered:
                wake[0].succeed()  # the others' rate changes now

        tracking = cluster.aborting(abort)

        def forward(worker: int, message: int) -> Generator[Event, Any, None]:
            if self.latency:
                if tracking:
                    process = env.active_process
                    assert process is not None  # the worker's uplink runs this
                    delayed[worker] = (message, process)
                    try:
                        yield env.at(env.now + self.latency)
                    except Interrupt:
                        return  # aborted: the uplink takes its next message now
                    del delayed[worker]
                else:
                    yield env.at(env.now + self.latency)
            done = env.event()
            joining.append([worker, message, size, done])
            if not wake[0].triggered:
                wake[0].succeed()
            yield done

        def link() -> Generator[Event, Any, None]:
            nonlocal sharing
            while True:
                if not flows and not joining:
                    wake[0] = env.event()
                    yield wake[0]
                flows.extend(joining)
                joining.clear()
                # Max-min fair share with a common per-flow cap: min(b, B / flows).
                rate = min(self.uplink_bandwidth, self.master_bandwidth / len(flows))
                start = env.now
                sharing = (rate, start)
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
        return self.arrays_until(ready, identify, None)

    def arrays_until(self, ready: np.ndarray, identify: bool,
                     decoded: Decoded | None) -> tuple[np.ndarray, np.ndarray]:
        if math.isinf(self.uplink_bandwidth) and math.isinf(self.master_bandwidth):
            return _unbounded(ready, self.latency)
        return share(ready, float(self.message_size or 0.0), self.uplink_bandwidth,
                     self.master_bandwidth, self.latency, decoded)

    def transferred(self, ready: np.ndarray, sent: np.ndarray, received: np.ndarray,
                    until: np.ndarray) -> np.ndarray:
        """Each transferring flow's bytes at ``until``, from the link's state then: the
        link's events up to ``until`` again (:func:`in_flight`), since the rates are not in
        the starts and receptions. A flow in its latency has transferred nothing."""
        if math.isinf(self.uplink_bandwidth) and math.isinf(self.master_bandwidth):
            return np.zeros_like(ready)  # a flow ends the instant it joins
        return in_flight(ready, float(self.message_size or 0.0), self.uplink_bandwidth,
                         self.master_bandwidth, self.latency, until)


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


def share(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
          decoded: Decoded | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Starts and receptions of :func:`_follow`."""
    start, received, _ = _follow(ready, size, cap, link, latency, decoded, None)
    return start, received


def in_flight(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
              until: np.ndarray) -> np.ndarray:
    """The bytes each flow transferring at ``until`` (per realization) had transferred
    then, else 0 (see :func:`_follow`)."""
    transferred = _follow(ready, size, cap, link, latency, None, until)[2]
    assert transferred is not None
    return transferred


def _follow(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
            decoded: Decoded | None, until: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Starts and receptions of flows of ``size`` bytes ready at ``ready`` (reps, N, m),
    each capped at ``cap`` B/s, sharing ``link`` B/s max-min fairly after ``latency`` s;
    with ``decoded``, a realization stops after the instant its master decodes (what
    starts or ends later is left +inf), with ``until``, after that instant, and then the
    third array holds the bytes each flow transferring then had transferred, by the SimPy
    processes' expression size − (left − rate·elapsed) (else None).

    The link's events in time order, one per step for every realization at once: the next
    flow to join (each worker's next one joins at max(its ready time, the end of the
    worker's previous flow) + latency) or the next to end. Every transferring flow gets
    min(cap, link / n), so flows end in the order they joined (those that joined together,
    together). The link updates where the SimPy engine's does (at the timer of the first
    flow due, and when a flow joins at a new instant) with the same arithmetic: each
    transferring flow loses rate·elapsed bytes, the flows due at the timer all they had
    left, and a flow with rounding dust left has ended. So both engines see the same
    instants, and ties resolve alike.
    """
    reps, n, m = ready.shape
    flows = n * m
    rows = np.arange(reps)
    inf = np.inf
    # Per worker, one row per realization (worker-major, so that updating every worker's
    # flow is one pass over contiguous rows), and two more rows: one takes the writes of
    # realizations with nothing to write at a step (a scatter to every realization is
    # cheaper than a masked one), the other stays +inf: the link's head when it is empty.
    left = np.full((n + 2, reps), inf)  # bytes left of the worker's transferring flow
    left_flat = left.ravel()
    trash = n * reps + rows
    never = trash + reps
    flow_of = np.zeros((n + 2) * reps, dtype=np.int64)  # the worker's next or current flow
    # When each worker's next flow joins, realization-major for the search of the first,
    # then one place per realization for writes.
    joins_at_flat = np.full(reps * (n + 1), inf)
    joins_at = joins_at_flat[: reps * n].reshape(reps, n)
    joins_at[:] = ready[:, :, 0] + latency
    joins_trash = reps * n + rows
    # Per flow, each worker's m flows and one more, never ready, that the last
    # realization's last worker lends for the writes of realizations without news.
    times = np.full((reps, n, m + 1), inf)
    times[:, :, :m] = ready
    times_flat = times.ravel()
    received = np.full((reps, n, m + 1), inf)
    received_flat = received.ravel()
    # Transferring flows in join order, by their worker's row; empty places name ``never``.
    order = np.concatenate([np.tile(never, flows + 1), trash])
    order_trash = (flows + 1) * reps + rows
    # Offsets place·reps + realization of the first flow still transferring and of the
    # next to join; how many transfer.
    at_first = rows.copy()
    at_joined = rows.copy()
    busy = np.zeros(reps, dtype=np.int64)
    # The link's last update: its time and the flows joined by then.
    last = np.zeros(reps)
    limit = rows.copy()
    dust = FLUID_EPS * size
    # When each realization's master decoded, or stops.
    decoded_at = np.full(reps, inf) if until is None else until.astype(float)
    for step in range(2 * flows):
        worker = joins_at.argmin(axis=1)
        joins = joins_at_flat.take(rows * n + worker)
        head = order.take(at_first)
        least = left_flat.take(head)
        rate = np.minimum(cap, link / np.maximum(busy, 1))
        # The first flow ended at the last update if it had rounding dust left.
        ended = (least <= dust) & (at_first < limit)
        end = np.where(ended, last, last + least / rate)
        leaves = end <= joins  # at equal instants, the link updates before flows join
        t = np.minimum(end, joins)
        live = t <= decoded_at
        live &= t < inf
        if step % 32 == 0 and not live.any():
            break
        leaves &= live
        joining = live & ~leaves
        # As in the SimPy engine: the link updates at the first flow's timer and when a
        # flow joins at a new instant.
        update = np.where(leaves, ~ended, joining & (t > last))
        keeps = left > np.where(update & leaves, least * (1 + FLUID_EPS), -inf)
        left -= rate * np.where(update, t - last, 0.0)
        left *= keeps
        limit = np.where(update, at_joined, limit)
        last = np.where(update, t, last)

        # A flow ends; its worker's next one joins once ready and the latency later.
        ending = np.where(leaves, head, trash)
        left_flat[ending] = inf
        ended_worker = np.where(leaves, head // reps, 0)
        flow = flow_of.take(head)
        at = (rows * n + ended_worker) * (m + 1) + flow
        received_flat[np.where(leaves, at, received_flat.size - 1)] = t
        flow_of[ending] = flow + 1
        nxt = np.maximum(times_flat.take(at + 1), t) + latency
        joins_at_flat[np.where(leaves, rows * n + ended_worker, joins_trash)] = nxt
        at_first += leaves * reps
        busy -= leaves
        if decoded is not None:
            now = decoded(leaves, ended_worker, flow)
            decoded_at = np.where(now, np.minimum(decoded_at, t), decoded_at)

        # A flow joins.
        joined = np.where(joining, worker * reps + rows, trash)
        left_flat[joined] = size
        joins_at_flat[np.where(joining, rows * n + worker, joins_trash)] = inf
        order[np.where(joining, at_joined, order_trash)] = joined
        at_joined += joining * reps
        busy += joining
    # A flow starts when it is ready or, if later, when its worker's previous one ends.
    start = ready.copy()
    np.maximum(start[:, :, 1:], received[:, :, : m - 1], out=start[:, :, 1:])
    if until is None:
        return start, received[:, :, :m].copy(), None
    transferred = np.zeros((reps, n, m))
    # Each worker's transferring flow (finite bytes left) at the link's last update; all
    # share one rate since.
    rate = np.minimum(cap, link / np.maximum(busy, 1))
    moving = np.isfinite(left[:n])
    worker, rep = np.nonzero(moving)
    done = size - (left[:n] - rate * (decoded_at - last))
    transferred[rep, worker, flow_of[worker * reps + rep]] = done[worker, rep]
    return start, received[:, :, :m].copy(), transferred
