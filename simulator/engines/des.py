"""The SimPy engine: the reference semantics of one iteration (DESIGN 1, 2).

A long-lived process per worker performs its computations one by one; a process per link
moves messages; the master counts distinct pieces and ends the iteration at T, the first
instant its decoding rule holds. Events are scheduled at absolute times taken from the
compute model and from the same float expressions the other engines use, so that ties
and results agree bit for bit.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from heapq import heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from pssim.network import Network
from pssim.schemes.base import Scheme

#: Runs after every ordinary event of the same instant: the master's link picks its next
#: message only once all arrivals of that instant have joined its queue.
_AFTER_INSTANT = 2

TraceRow = tuple[int, float, int, str, int, int, float]

#: Tolerance, relative to the message size, below which a fluid flow counts as finished:
#: subtracting rate·elapsed leaves rounding dust on flows that end together.
_FLUID_EPS = 1e-9


_new_event = object.__new__


class _Env(simpy.Environment):
    def at(self, time: float, priority: int = NORMAL) -> Event:
        """An event at the absolute ``time``, not at now + delay: now + (t − now) can miss
        t by an ulp, which would break ties differently from the other engines."""
        # Initialised inline, as simpy.Timeout does, since this runs once per event.
        ev = _new_event(Event)
        ev.env = self
        ev.callbacks = []
        ev._ok = True
        ev._value = None
        heappush(self._queue, (time, priority, next(self._eid), ev))  # type: ignore[misc]
        return ev


class _Iteration:
    """One iteration of the cluster, from time 0 until the master decodes."""

    def __init__(self, scheme: Scheme, network: Network, labels: list[list[int]],
                 pieces: int, rep: int, trace: list[TraceRow] | None) -> None:
        self.env = _Env()
        self.scheme = scheme
        self.network = network
        self.rep = rep
        self.trace = trace
        self.labels = labels
        self.needed = scheme.threshold
        self.seen = [False] * pieces
        self.size = math.nan if network.message_size is None else network.message_size
        self.completion = math.nan
        self.done = self.env.event()
        self.computations = 0
        self.sent = 0
        self.received = 0

    # -- the master ---------------------------------------------------------------------
    def receive(self, worker: int, message: int) -> None:
        self.received += 1
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "received", -1, message + 1,
                               self.size))
        label = self.labels[worker][message]
        if not self.seen[label]:
            self.seen[label] = True
            self.needed -= 1
            if self.needed == 0:
                self.completion = self.env.now
                self.done.succeed()

    # -- the workers --------------------------------------------------------------------
    def worker(self, i: int, finish: list[float], send: Callable[[int, int], None]
               ) -> Generator[Event, Any, None]:
        at = self.env.at
        group = self.scheme.group
        trace = self.trace
        for c, t in enumerate(finish, 1):
            yield at(t)
            self.computations += 1
            if trace is not None:
                trace.append((self.rep, t, i, "compute_done", c, -1, math.nan))
            if c % group == 0:
                send(i, c // group - 1)

    def _start(self, worker: int, message: int) -> None:
        self.sent += 1
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "send_start", -1, message + 1,
                               self.size))

    # -- network none -------------------------------------------------------------------
    def send_direct(self, worker: int, message: int) -> None:
        self._start(worker, message)
        self.receive(worker, message)

    # -- network fifo and fair: the worker's sending side --------------------------------
    def uplink(self, i: int, queue: deque[int], wake: list[Event],
               forward: Callable[[int, int], Generator[Event, Any, None] | None]
               ) -> Generator[Event, Any, None]:
        """Sends worker i's messages one at a time, in order."""
        env = self.env
        while True:
            if not queue:
                wake[i] = env.event()
                yield wake[i]
            message = queue.popleft()
            self._start(i, message)
            step = forward(i, message)
            if step is not None:
                yield from step

    def make_send(self, n: int, forward: Callable[[int, int], Any]) -> Callable[[int, int], None]:
        queues: list[deque[int]] = [deque() for _ in range(n)]
        wake: list[Event] = [self.env.event() for _ in range(n)]
        for i in range(n):
            self.env.process(self.uplink(i, queues[i], wake, forward))

        def send(worker: int, message: int) -> None:
            queues[worker].append(message)
            if not wake[worker].triggered:
                wake[worker].succeed()

        return send

    # -- network fifo -------------------------------------------------------------------
    def fifo(self, n: int) -> Callable[[int, int], None]:
        env = self.env
        up, lat, down = self.network.uplink_time, self.network.latency, self.network.master_time
        arrivals: list[tuple[float, int, int]] = []
        idle = [env.event()]

        def arrive(ev: Event | None, worker: int, message: int) -> None:
            heappush(arrivals, (env.now, worker, message))
            if not idle[0].triggered:
                idle[0].succeed()

        def forward(worker: int, message: int) -> Generator[Event, Any, None] | None:
            if up == 0.0 and lat == 0.0:  # arrives at once: no events to schedule
                arrive(None, worker, message)
                return None
            return transmit(worker, message)

        def transmit(worker: int, message: int) -> Generator[Event, Any, None]:
            end = env.now + up
            yield env.at(end)
            env.at(end + lat).callbacks.append(
                lambda ev: arrive(ev, worker, message))

        def master_link() -> Generator[Event, Any, None]:
            while True:
                if not arrivals:
                    idle[0] = env.event()
                    yield idle[0]
                if arrivals[0][0] == env.now:
                    # Others may still arrive at this instant and go first by the tie rule.
                    yield env.at(env.now, _AFTER_INSTANT)
                _, worker, message = heappop(arrivals)
                yield env.at(env.now + down)
                self.receive(worker, message)

        env.process(master_link())
        return self.make_send(n, forward)

    # -- network fair -------------------------------------------------------------------
    def fair(self, n: int) -> Callable[[int, int], None]:
        env = self.env
        net = self.network
        size = float(net.message_size or 0.0)
        flows: list[list[Any]] = []  # [worker, message, remaining bytes, done event]
        # Flows that joined since the link last updated: they transferred nothing yet.
        joining: list[list[Any]] = []
        wake = [env.event()]

        def forward(worker: int, message: int) -> Generator[Event, Any, None]:
            if net.latency:
                yield env.at(env.now + net.latency)
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
                rate = min(net.uplink_bandwidth, net.master_bandwidth / len(flows))
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
                    due = least * (1 + _FLUID_EPS) if env.now >= end else -1.0
                    elapsed = env.now - start
                    finished = []
                    for f in flows:
                        if f[2] <= due:
                            f[2] = 0.0
                        else:
                            f[2] -= rate * elapsed
                        if f[2] <= _FLUID_EPS * size:
                            finished.append(f)
                finished.sort(key=lambda f: (f[0], f[1]))
                for f in finished:
                    flows.remove(f)
                    self.receive(f[0], f[1])
                    f[3].succeed()

        env.process(link())
        return self.make_send(n, forward)

    def run(self, finish: np.ndarray) -> tuple[float, int, int, int]:
        env = self.env
        n = finish.shape[0]
        kind = self.network.kind
        send = self.send_direct if kind == "none" else getattr(self, kind)(n)
        for i, times in enumerate(finish.tolist()):
            env.process(self.worker(i, times, send))
        env.run(until=self.done)
        t = self.completion
        # Events at T itself still count ("at or before T"): finish the instant.
        while env.peek() <= t:
            env.step()
        if self.trace is not None:
            self.trace.append((self.rep, t, -1, "complete", -1, -1, math.nan))
        return t, self.received, self.sent, self.computations


def simulate(scheme: Scheme, network: Network, finish: np.ndarray, first_rep: int = 0,
             trace: list[TraceRow] | None = None) -> np.ndarray:
    """Run each realization of ``finish`` (shape (reps, N, r)) through the SimPy model.

    Returns a (reps, 4) float array: completion_time, messages, messages_sent,
    computations. Trace rows are appended to ``trace`` when it is given.
    """
    out = np.empty((finish.shape[0], 4))
    labels = scheme.labels()
    pieces = int(labels.max()) + 1
    rows = labels.tolist()
    for k in range(finish.shape[0]):
        out[k] = _Iteration(scheme, network, rows, pieces, first_rep + k, trace).run(finish[k])
    return out
