"""The SimPy engine: the reference semantics of one iteration (docs/model.md, "Engines").

A long-lived process per worker performs its computations one by one; the network
discipline's processes move the messages; the master counts distinct pieces and ends the
iteration at T, the first instant its decoding rule holds. Events are scheduled at
absolute times taken from the compute model and from the same float expressions the
vectorized engine uses, so that ties resolve the same way (the tests check the engines'
completion times to 1e-9 relative and their counts exactly).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from pssim.engines.base import Engine, Outcome, TraceRow
from pssim.network import Discipline, Send
from pssim.schemes import Scheme

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

    def __init__(self, scheme: Scheme, network: Discipline, labels: list[list[int]],
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

    def started(self, worker: int, message: int) -> None:
        self.sent += 1
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "send_start", -1, message + 1,
                               self.size))

    # -- the workers --------------------------------------------------------------------
    def worker(self, i: int, finish: list[float], send: Send) -> Generator[Event, Any, None]:
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

    def run(self, finish: np.ndarray) -> tuple[float, int, int, int]:
        env = self.env
        send = self.network.des(self, finish.shape[0])
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


class Des(Engine):
    """SimPy: every network discipline, and the event trace."""

    name = "des"

    def unsupported(self, network: Discipline, trace: bool) -> str | None:
        if self.name not in network.engines:
            return f"network {network.name!r} has no SimPy processes"
        return None

    def simulate(self, scheme: Scheme, network: Discipline, finish: np.ndarray,
                 first_rep: int = 0, trace: list[TraceRow] | None = None) -> Outcome:
        out = Outcome.empty(finish.shape[0])
        labels = scheme.labels()
        pieces = int(labels.max()) + 1
        rows = labels.tolist()
        for k in range(finish.shape[0]):
            t, received, sent, computations = _Iteration(
                scheme, network, rows, pieces, first_rep + k, trace).run(finish[k])
            out.completion_time[k] = t
            out.messages[k] = received
            out.messages_sent[k] = sent
            out.computations[k] = computations
        return out
