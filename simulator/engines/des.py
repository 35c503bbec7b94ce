"""The SimPy engine: the reference semantics of one iteration (docs/model.md, "Engines").

A long-lived process per worker performs its computations one by one; the network
discipline's processes move the messages; the master counts distinct pieces and ends the
iteration at T, the first instant its decoding rule holds. Events are scheduled at
absolute times taken from the compute model and from the same float expressions the
vectorized engine uses, so that ties resolve the same way (the tests check the engines'
completion times to 1e-9 relative and their counts exactly).
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from functools import partial
from heapq import heappush
from typing import Any, Protocol

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from pssim.engines.base import Engine, Outcome, TraceRow
from pssim.network import Discipline, Send
from pssim.network.base import Abort
from pssim.schemes import Scheme
from pssim.training import Training

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
                 pieces: int, rep: int, trace: list[TraceRow] | None,
                 aborts: bool = False) -> None:
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
        self.aborts = aborts
        # The discipline's functions that abort transmissions, and what the current abort
        # has stopped: (worker, message, bytes transferred).
        self.stoppers: list[Abort] = []
        self.lost: list[tuple[int, int, float]] = []

    # -- the master ---------------------------------------------------------------------
    def receive(self, worker: int, message: int) -> None:
        self.received += 1
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "received", -1, message + 1,
                               self.size, 0))
        label = self.labels[worker][message]
        if not self.seen[label]:
            self.seen[label] = True
            self.needed -= 1
            if self.needed == 0:
                self.completion = self.env.now
                self.done.succeed()

    def abandoned(self, worker: int, message: int) -> bool:
        return False  # one iteration: nothing is cancelled, and nothing runs after T

    # -- aborted transfers (docs/model.md, "Aborted transfers") --------------------------
    def aborting(self, abort: Abort) -> bool:
        if self.aborts:
            self.stoppers.append(abort)
        return self.aborts

    def aborted(self, worker: int, message: int) -> bool:
        return True  # asked only at T, when the one iteration has ended

    def _iteration(self, message: int) -> tuple[int, int]:
        """The iteration a worker's message belongs to, and its place in it."""
        return 0, message

    def wasted(self, worker: int, message: int, transferred: float) -> None:
        self.lost.append((worker, message, transferred))
        if self.trace is not None:
            t, j = self._iteration(message)
            self.trace.append((self.rep, self.env.now, worker, "aborted", -1, j + 1,
                               transferred, t))

    def abort(self) -> float:
        """Abort the transmissions of the iteration that ended now; their bytes, summed in
        (worker, message) order, as the vectorized engine sums them."""
        for stop in self.stoppers:
            stop()
        total = 0.0
        for _, _, transferred in sorted(self.lost):
            total += transferred
        self.lost.clear()
        return total

    def started(self, worker: int, message: int) -> None:
        self.sent += 1
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "send_start", -1, message + 1,
                               self.size, 0))

    # -- the workers --------------------------------------------------------------------
    def worker(self, i: int, finish: list[float], send: Send) -> Generator[Event, Any, None]:
        at = self.env.at
        group = self.scheme.group
        trace = self.trace
        for c, t in enumerate(finish, 1):
            yield at(t)
            self.computations += 1
            if trace is not None:
                trace.append((self.rep, t, i, "compute_done", c, -1, math.nan, 0))
            if c % group == 0:
                send(i, c // group - 1)

    def run(self, finish: np.ndarray) -> tuple[float, int, int, int, float]:
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
            self.trace.append((self.rep, t, -1, "complete", -1, -1, math.nan, 0))
        aborted = self.abort() if self.aborts else 0.0
        return t, self.received, self.sent, self.computations, aborted


#: After every other event of the same instant, fifo's link included: a model received at
#: R lets everything of its worker at instants up to R happen first (docs/model.md).
_MODEL_PRIORITY = 3
#: After that too: an iteration's end aborts its transmissions once everything of T_t has
#: happened (a message received at T_t counts, one that begins at T_t was sent).
_ABORT_PRIORITY = 4


class Rounds(Protocol):
    """Each worker's finish offsets in each round (an iteration, or a worker's own round
    under a server policy): ``rounds[t][i]``."""

    def __getitem__(self, t: int) -> list[list[float]]: ...


class _Training(_Iteration):
    """K iterations of the cluster, from time 0 until the master decodes the last
    (docs/model.md, "Training runs"). A worker's messages are numbered across iterations
    (iteration t's j-th is t·m + j), so the network's queues order them as the model says:
    earlier iteration first at equal instants."""

    def __init__(self, scheme: Scheme, network: Discipline, labels: list[list[int]],
                 pieces: int, rep: int, trace: list[TraceRow] | None,
                 training: Training) -> None:
        super().__init__(scheme, network, labels, pieces, rep, trace, training.aborts)
        k = training.iterations
        self.training = training
        self.m = scheme.messages_per_worker
        self.group = scheme.group
        self.needed_t = [scheme.threshold] * k
        self.seen_t = [[False] * pieces for _ in range(k)]
        self.start_t = [0.0] * k
        self.end_t = [math.inf] * k
        self.received_t = [0] * k
        self.sent_t = [0] * k
        self.computations_t = [0] * k
        self.late_t = [0] * k
        self.aborted_t = [0.0] * k
        # The last iteration whose transmissions were aborted.
        self.cut = -1

    def _iteration(self, message: int) -> tuple[int, int]:
        return divmod(message, self.m)

    def _counts(self, t: int) -> bool:
        """Whether what happens now counts for iteration t: at or before T_t."""
        return self.env.now <= self.end_t[t]

    # -- the master ---------------------------------------------------------------------
    def receive(self, worker: int, message: int) -> None:
        t, j = self._iteration(message)
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "received", -1, j + 1,
                               self.size, t))
        if not self._counts(t):
            self.late_t[t] += 1  # the run ends at T_{K−1}: nothing later is seen
            return
        self.received_t[t] += 1
        label = self.labels[worker][j]
        if not self.seen_t[t][label]:
            self.seen_t[t][label] = True
            self.needed_t[t] -= 1
            if self.needed_t[t] == 0:
                self.complete(t)

    def complete(self, t: int) -> None:
        now = self.env.now
        self.end_t[t] = now
        if self.trace is not None:
            self.trace.append((self.rep, now, -1, "complete", -1, -1, math.nan, t))
        if self.aborts:
            self.env.at(now, _ABORT_PRIORITY).callbacks.append(partial(self.end_transfers, t))
        if t + 1 == self.training.iterations:
            self.completion = now
            self.done.succeed()
            return
        start = now + self.training.decode_time
        self.start_t[t + 1] = start
        self.send_model(t + 1, start)

    def send_model(self, t: int, start: float) -> None:
        """Send θ_t to every worker over the downlink, from ``start``."""
        for i, at in enumerate(self.training.receptions(start, len(self.last)).tolist()):
            self.env.at(at, _MODEL_PRIORITY).callbacks.append(
                partial(self.model_received, i, t))

    def started(self, worker: int, message: int) -> None:
        t, j = self._iteration(message)
        if self._counts(t):
            self.sent_t[t] += 1
        if self.trace is not None:
            self.trace.append((self.rep, self.env.now, worker, "send_start", -1, j + 1,
                               self.size, t))

    def abandoned(self, worker: int, message: int) -> bool:
        t = self._iteration(message)[0]
        return t <= self.cancelled[worker] or t <= self.cut

    def aborted(self, worker: int, message: int) -> bool:
        return self._iteration(message)[0] <= self.cut

    def end_transfers(self, t: int, event: Event | None = None) -> None:
        self.cut = t
        self.aborted_t[t] = self.abort()

    # -- the workers --------------------------------------------------------------------
    def model_received(self, i: int, t: int, event: Event | None = None) -> None:
        now = self.env.now
        if self.trace is not None:
            self.trace.append((self.rep, now, i, "model_received", -1, -1, math.nan, t))
        if self.training.late_policy == "cancel":
            # Everything of this worker up to now has happened (this event runs last at
            # its instant); what iteration t − 1 has left is dropped.
            self.cancelled[i] = t - 1
            self.begin_computations(i, t, now)
        else:
            self.begin_computations(i, t, max(now, self.last[i]))

    def begin_computations(self, i: int, t: int, begin: float) -> None:
        times = [begin + f for f in self.finishes[t][i]]
        self.last[i] = times[-1]
        # One computation at a time, as a worker performs them: a cancelled iteration
        # then costs one event, not one per computation left.
        self.env.at(times[0]).callbacks.append(partial(self.computed, i, t, 1, times))

    def computed(self, i: int, t: int, c: int, times: list[float],
                 event: Event | None = None) -> None:
        if t <= self.cancelled[i]:
            return
        now = self.env.now
        if now <= self.end_t[t]:
            self.computations_t[t] += 1
        if self.trace is not None:
            self.trace.append((self.rep, now, i, "compute_done", c, -1, math.nan, t))
        if c < len(times):
            self.env.at(times[c]).callbacks.append(partial(self.computed, i, t, c + 1, times))
        if c % self.group == 0:
            self.send(i, t * self.m + c // self.group - 1)

    def run_all(self, finishes: Rounds) -> None:
        env = self.env
        n = len(finishes[0])
        self.finishes = finishes
        self.last = [0.0] * n
        self.cancelled = [-1] * n
        self.send = self.network.des(self, n)
        for i in range(n):
            self.begin_computations(i, 0, 0.0)
        env.run(until=self.done)
        t = self.completion
        # Events at T_{K−1} itself still count ("at or before"): finish the instant.
        while env.peek() <= t:
            env.step()


#: Objects a run of realizations may leave to the young generation before it is collected.
_YOUNG = 20_000


#: How many runs of realizations hold automatic collections off, and whether they were on
#: before the first (threads may run realizations at once).
_pausing = {"runs": 0, "was_on": False}
_pausing_lock = threading.Lock()


@contextmanager
def _collecting_young() -> Iterator[None]:
    """Run realizations with Python's automatic collections off, collecting the youngest
    generation every few realizations instead. Each realization leaves its processes and
    events behind as reference cycles, all young; the automatic collector promotes those
    still alive (a large cluster's realization outlives several young collections) and
    then scans every object of the process, pandas' and numpy's included, over and over:
    that made the cost per event grow with N."""
    with _pausing_lock:
        if _pausing["runs"] == 0:
            _pausing["was_on"] = gc.isenabled()
            gc.disable()
        _pausing["runs"] += 1
    try:
        yield
    finally:
        # What is left young, the automatic collector frees at its next pass.
        with _pausing_lock:
            _pausing["runs"] -= 1
            if _pausing["runs"] == 0 and _pausing["was_on"]:
                gc.enable()


def _tidy() -> None:
    """Collect the young generation once it holds enough to be worth a pass."""
    if gc.get_count()[0] > _YOUNG:
        gc.collect(0)


class Des(Engine):
    """SimPy: every network discipline, training runs, and the event trace."""

    name = "des"

    def unsupported(self, network: Discipline, trace: bool,
                    training: Training | None = None) -> str | None:
        if self.name not in network.engines:
            return f"network {network.name!r} has no SimPy processes"
        return None

    def simulate(self, scheme: Scheme, network: Discipline, finish: list[np.ndarray],
                 first_rep: int = 0, trace: list[TraceRow] | None = None,
                 training: Training | None = None) -> Outcome:
        with _collecting_young():
            return self._simulate(scheme, network, finish, first_rep, trace, training)

    def _simulate(self, scheme: Scheme, network: Discipline, finish: list[np.ndarray],
                  first_rep: int, trace: list[TraceRow] | None,
                  training: Training | None) -> Outcome:
        labels = scheme.labels()
        pieces = int(labels.max()) + 1
        rows = labels.tolist()
        reps = finish[0].shape[0]
        if training is None or training.single:
            out = Outcome.empty(reps)
            aborts = training is not None and training.aborts
            for k in range(reps):
                t, received, sent, computations, aborted = _Iteration(
                    scheme, network, rows, pieces, first_rep + k, trace, aborts
                ).run(finish[0][k])
                _tidy()
                out.completion_time[k] = t
                out.messages[k] = received
                out.messages_sent[k] = sent
                out.computations[k] = computations
                out.aborted_bytes[k] = aborted
            out.start[:] = 0.0
            out.end[:] = out.completion_time
            out.late_messages[:] = 0
            return out
        iterations = training.iterations
        out = Outcome.empty(reps * iterations)
        per_iteration = [f.tolist() for f in finish]
        for k in range(reps):
            sim = _Training(scheme, network, rows, pieces, first_rep + k, trace, training)
            sim.run_all([per_iteration[t][k] for t in range(iterations)])
            _tidy()
            where = slice(k * iterations, (k + 1) * iterations)
            out.start[where] = sim.start_t
            out.end[where] = sim.end_t
            out.completion_time[where] = np.subtract(sim.end_t, sim.start_t)
            out.messages[where] = sim.received_t
            out.messages_sent[where] = sim.sent_t
            out.computations[where] = sim.computations_t
            out.late_messages[where] = sim.late_t
            out.aborted_bytes[where] = sim.aborted_t
        return out
