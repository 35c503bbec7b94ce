"""Network ``fifo``, store-and-forward (docs/model.md, "Network"): each worker's uplink
sends its messages one at a time, each travels ``latency``, then the master's link serves
them whole, in order of arrival (equal arrivals: lower worker, then earlier message).

Exact in both engines: the links are queues whose departures follow the Lindley recursion.
"""

from __future__ import annotations

from collections.abc import Generator
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from simpy import Interrupt

from pssim.network.base import Cluster, DecodingRule, Discipline, Send, register, uplinks

if TYPE_CHECKING:
    from simpy import Process
    from simpy.events import Event

#: Runs after every ordinary event of the same instant (SimPy's NORMAL priority is 1): the
#: master's link picks its next message only once all arrivals of that instant have joined
#: its queue.
_AFTER_INSTANT = 2


@register
class Fifo(Discipline):
    """Store-and-forward links: the master's link is one queue served message by message."""

    name = "fifo"
    engines: ClassVar[frozenset[str]] = frozenset({"des", "vectorized"})
    carries: ClassVar[bool] = True

    def des(self, cluster: Cluster, workers: int) -> Send:
        env = cluster.env
        up, lat, down = self.uplink_time, self.latency, self.master_time
        size = float(self.message_size or 0.0)
        arrivals: list[tuple[float, int, int]] = []
        idle = [env.event()]
        # Where each message in flight is, kept only when an iteration's end aborts them:
        # per worker the message its uplink sends (its start, the uplink's process), the
        # messages in their latency, and the one the master's link serves (its process).
        sending: dict[int, tuple[int, float, Process]] = {}
        travelling: set[tuple[int, int]] = set()
        serving: list[tuple[int, int, Process]] = []

        def abort() -> None:
            now = env.now
            for worker, (message, start, process) in list(sending.items()):
                if cluster.aborted(worker, message):
                    del sending[worker]
                    # The uplink sends at a constant rate: the bytes sent so far.
                    cluster.wasted(worker, message, size * (now - start) / up)
                    process.interrupt()
            for worker, message in sorted(m for m in travelling if cluster.aborted(*m)):
                travelling.remove((worker, message))
                cluster.wasted(worker, message, size)
            kept = []
            for arrival in arrivals:
                if cluster.aborted(arrival[1], arrival[2]):
                    cluster.wasted(arrival[1], arrival[2], size)
                else:
                    kept.append(arrival)
            arrivals[:] = kept
            heapify(arrivals)
            if serving and cluster.aborted(serving[0][0], serving[0][1]):
                worker, message, process = serving.pop()
                cluster.wasted(worker, message, size)
                process.interrupt()

        tracking = cluster.aborting(abort)

        def arrive(worker: int, message: int) -> None:
            heappush(arrivals, (env.now, worker, message))
            if not idle[0].triggered:
                idle[0].succeed()

        def land(worker: int, message: int) -> None:
            if (worker, message) in travelling:  # else aborted in its latency
                travelling.remove((worker, message))
                arrive(worker, message)

        def forward(worker: int, message: int) -> Generator[Event, Any, None] | None:
            if up == 0.0 and lat == 0.0:  # arrives at once: no events to schedule
                arrive(worker, message)
                return None
            return transmit(worker, message)

        def transmit(worker: int, message: int) -> Generator[Event, Any, None]:
            end = env.now + up
            if not tracking:
                yield env.at(end)
                env.at(end + lat).callbacks.append(lambda ev: arrive(worker, message))
                return
            process = env.active_process
            assert process is not None  # the worker's uplink runs this
            sending[worker] = (message, env.now, process)
            try:
                yield env.at(end)
            except Interrupt:
                return  # aborted: the uplink takes its next message now
            del sending[worker]
            travelling.add((worker, message))
            env.at(end + lat).callbacks.append(lambda ev: land(worker, message))

        def master_link() -> Generator[Event, Any, None]:
            while True:
                if not arrivals:
                    idle[0] = env.event()
                    yield idle[0]
                if arrivals[0][0] == env.now:
                    # Others may still arrive at this instant and go first by the tie rule.
                    yield env.at(env.now, _AFTER_INSTANT)
                _, worker, message = heappop(arrivals)
                if tracking:
                    process = env.active_process
                    assert process is not None
                    serving.append((worker, message, process))
                    try:
                        yield env.at(env.now + down)
                    except Interrupt:
                        continue  # aborted: the link serves the next message now
                    serving.pop()
                else:
                    yield env.at(env.now + down)
                cluster.receive(worker, message)

        env.process(master_link())
        return uplinks(cluster, workers, forward)

    def transferred(self, ready: np.ndarray, sent: np.ndarray, received: np.ndarray,
                    until: np.ndarray) -> np.ndarray:
        """What the uplink had sent of each message in flight: all of it once the uplink
        is done (in its latency, queued at or crossing the master's link), else
        size·elapsed/uplink time; the same expressions as the SimPy processes'."""
        size, up = float(self.message_size or 0.0), self.uplink_time
        at = until[:, None, None]
        flying = (sent <= at) & (received > at)
        # Past the uplink whenever it takes no time: no division by 0 is needed then.
        past = sent + up <= at
        with np.errstate(divide="ignore", invalid="ignore"):
            partial = size * (at - sent) / up
        return np.where(flying, np.where(past, size, partial), 0.0)

    def links(self, reps: int, iterations: int, rule: DecodingRule) -> Queues:
        workers, messages = rule.pieces.shape
        return Queues(self, reps, workers, iterations, messages)

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        """Each uplink and the master's link by the Lindley recursion, a compiled loop
        over each realization's queues (:func:`departures`). Receptions come per message
        when ``identify``; otherwise as the sorted departures from the master's link,
        which is all a count rule needs (and avoids the stable sort that identifying equal
        arrivals requires)."""
        reps, n, m = ready.shape
        # Each uplink sends its worker's messages one at a time, in the order they are ready.
        sent = np.empty((reps, n, m))
        arrival = np.empty((reps, n, m))
        _serve(ready.reshape(reps * n, m), self.uplink_time, sent.reshape(reps * n, m),
               arrival.reshape(reps * n, m))
        arrival += self.latency
        # The master's link serves in order of arrival; a stable sort of the (worker,
        # message) flattening breaks equal arrivals by lower worker, then earlier message.
        flat = arrival.reshape(reps, n * m)
        if not identify:
            flat.sort(axis=1)  # in place: the arrivals are not needed in message order
            return sent, departures(flat, self.master_time)
        # Flat indices of the messages in queue order: one gather and one scatter, three
        # times faster than numpy's take_along_axis and put_along_axis.
        size = n * m
        where = np.argsort(flat, axis=1) + size * np.arange(reps)[:, None]
        queue = flat.ravel()[where]
        tied = (queue[:, 1:] == queue[:, :-1]).any(axis=1)
        if tied.any():
            # A stable sort is four times slower, and only realizations with equal
            # arrivals need it: sort those again.
            where[tied] = (np.argsort(flat[tied], axis=1, kind="stable")
                           + size * np.flatnonzero(tied)[:, None])
            queue[tied] = flat.ravel()[where[tied]]
        received = np.empty(reps * size)
        received[where] = departures(queue, self.master_time)
        return sent, received.reshape(reps, n, m)


class Queues:
    """fifo's links across the iterations of a training run, all realizations at once
    (docs/model.md, "Training runs", which says why this is exact).

    Each uplink and the master's link is one queue across iterations, served by arrival,
    and iteration t + 1's messages are ready only after T_t; so T_t depends on the
    messages of iterations up to t alone. Each iteration runs :meth:`Fifo.arrays`'s
    Lindley recursion from the links' state past T_{t-1}: when each uplink and the
    master's link are free, and the master's queue of earlier messages whose service had
    not begun by T_{t-1}, merged with the new ones in arrival order (equal arrivals:
    lower worker, then earlier iteration, then earlier message). The later iterations
    revise those earlier messages' receptions; :attr:`received` holds the final ones once
    the last iteration has run."""

    def __init__(self, fifo: Fifo, reps: int, workers: int, iterations: int,
                 messages: int) -> None:
        self.fifo = fifo
        # By iteration, so that what one iteration touches lies together in memory; a
        # message's key is its flat index in its realization's row.
        self.received = np.full((reps, iterations, workers, messages), np.inf)
        self._rows = self.received.reshape(reps, -1)
        self._uplinks = np.full(reps * workers, -np.inf)
        self._master = np.full(reps, -np.inf)
        self._waiting = np.empty((reps, 0))
        self._keys = np.empty((reps, 0), dtype=np.int64)
        self._counts = np.zeros(reps, dtype=np.int64)
        self._step = 0

    def send(self, ready: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next iteration's messages, ready at ``ready`` (shape (reps, N, messages per
        worker)): their send-start times, and their receptions as known so far (those
        at or before this iteration's end are final)."""
        fifo, t = self.fifo, self._step
        reps, n, m = ready.shape
        sent = np.empty((reps, n, m))
        leave = np.empty((reps, n, m))
        _serve(ready.reshape(reps * n, m), fifo.uplink_time, sent.reshape(reps * n, m),
               leave.reshape(reps * n, m), self._uplinks)
        self._sent, self._leave = sent, leave
        arrival = leave + fifo.latency
        # One compiled pass per realization puts the new messages among those waiting
        # by the tie rule: sorting both again, on two keys, is several times slower.
        from pssim.network.lindley import deliver, merge

        width = self._waiting.shape[1] + n * m
        queue = np.empty((reps, width))
        self._queue_keys = np.empty((reps, width), dtype=np.int64)
        arrival = arrival.reshape(reps, n * m)
        merge(self._waiting, self._keys, self._counts, arrival, np.argsort(arrival, axis=1),
              np.arange(t * n * m, (t + 1) * n * m), self.received, queue,
              self._queue_keys)
        self._queue = queue
        self._start = np.empty(queue.shape)
        self._departure = np.empty(queue.shape)
        _serve(queue, fifo.master_time, self._start, self._departure, self._master)
        deliver(self._queue_keys, self._departure, self._rows)
        self._step += 1
        return sent, self.received[:, t]

    def end(self, end: np.ndarray, aborts: bool, model: np.ndarray | None) -> None:
        """The iteration just sent ended at ``end`` (per realization): keep the links'
        state past it. With ``aborts`` its transmissions stop there, and the next
        iteration finds every link free; ``model`` (per realization and worker, under
        ``late_policy = cancel``) is when the next model arrives, which drops the messages
        whose transmission had not begun by then."""
        reps = end.shape[0]
        if aborts:
            # Iterations before were aborted at their end too: nothing is left in flight.
            self._uplinks[:] = -np.inf
            self._master[:] = -np.inf
            self._waiting = np.empty((reps, 0))
            self._keys = np.empty((reps, 0), dtype=np.int64)
            self._counts[:] = 0
            return
        sent, leave = self._sent, self._leave
        m = leave.shape[2]
        if model is None:
            self._uplinks = leave[:, :, -1].reshape(-1)
        else:
            dropped = sent > model[:, :, None]
            self.received[:, self._step - 1][dropped] = np.inf
            # A prefix of each uplink's messages began: the last of them frees it.
            begun = (m - np.count_nonzero(dropped, axis=2)).reshape(-1)
            last = leave.reshape(-1)[np.arange(begun.size) * m + np.maximum(begun - 1, 0)]
            self._uplinks = np.where(begun > 0, last, self._uplinks)
        from pssim.network.lindley import backlog

        waiting = np.empty(self._queue.shape)
        keys = np.empty(self._queue.shape, dtype=np.int64)
        backlog(self._queue, self._queue_keys, self._start, self._departure, end,
                self._rows, model is not None, self._master, waiting, keys, self._counts)
        width = int(self._counts.max(initial=0))
        self._waiting, self._keys = waiting[:, :width], keys[:, :width]


def departures(queue: np.ndarray, service: float) -> np.ndarray:
    """Departures from a link that serves each row's arrivals in that order, one at a
    time, for ``service`` seconds each: D_k = max(a_k, D_{k-1}) + service, one compiled
    step per position. The max-plus form of the same recursion, D_k = (k+1)·service +
    max_{j≤k}(a_j − j·service), needs no loop but rounds differently, which would change
    results; the sequential form keeps them bit for bit."""
    leave = np.empty(queue.shape)
    _serve(queue, service, leave, leave)
    return leave


def _serve(arrival: np.ndarray, service: float, start: np.ndarray, leave: np.ndarray,
           free: np.ndarray | None = None) -> None:
    # Imported here: runs that never serve a fifo queue never load numba.
    from pssim.network.lindley import lindley

    if free is None:
        free = np.full(arrival.shape[0], -np.inf)
    lindley(np.ascontiguousarray(arrival, dtype=np.float64), float(service),
            np.ascontiguousarray(free, dtype=np.float64), start, leave)
