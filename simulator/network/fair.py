"""Network ``fair``, flow level (docs/model.md, "Network"): a worker sends its messages one
at a time; each becomes a flow, waits ``latency``, then shares the master's link max-min
fairly with every other transferring flow, capped at its worker's uplink.

Every flow has the same size and the same cap (one ``uplink_bandwidth`` for all workers),
so all transferring flows go at one rate, min(b, B/n): the link keeps one virtual clock,
the bytes each transferring flow has received since the link was last idle, and a flow
that joins when the clock reads V ends when it reads V + size, its key. Keys grow in join
order, so the flows form a queue and the next to end is its head: O(1) per event instead
of updating every flow's bytes left at every change of rate. The arithmetic is written
once, in the functions below (:func:`share_rate`, :func:`advance`, :func:`finish_time`,
:func:`sent_bytes`): the SimPy processes call them, and the vectorized form
(:mod:`pssim.network.fair_kernel`, compiled) calls their compiled copies, so that both
engines compute every instant with the same floating-point operations. Training runs
carry the link's state from one iteration into the next (:class:`Flows`), through the same
compiled loop.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from simpy import Interrupt

from pssim.network.base import Cluster, DecodingRule, Discipline, Send, register, uplinks

if TYPE_CHECKING:
    from simpy import Process
    from simpy.events import Event

#: Tolerance, relative to the message size, below which a fluid flow counts as finished:
#: a key within it of the clock has ended (keys of flows that joined an instant apart).
FLUID_EPS = 1e-9


def share_rate(flows: int, cap: float, link: float) -> float:
    """Each flow's rate when ``flows`` share ``link`` B/s max-min fairly, each capped at
    ``cap``: with a common cap, min(cap, link / flows)."""
    return min(cap, link / flows)


def advance(clock: float, since: float, now: float, rate: float) -> float:
    """The link's clock at ``now``, having read ``clock`` at ``since`` and run at ``rate``
    since (the bytes every transferring flow received meanwhile)."""
    return clock + rate * (now - since)


def finish_time(since: float, clock: float, key: float, rate: float) -> float:
    """When the flow of ``key`` ends, the clock reading ``clock`` at ``since`` and running
    at ``rate`` until then."""
    return since + (key - clock) / rate


def sent_bytes(size: float, key: float, clock: float) -> float:
    """The bytes a transferring flow of ``key`` has sent when the clock reads ``clock``."""
    return size - (key - clock)


@register
class Fair(Discipline):
    """Flows share the master's link max-min fairly, each capped at its worker's uplink."""

    name = "fair"
    engines: ClassVar[frozenset[str]] = frozenset({"des", "vectorized"})
    carries: ClassVar[bool] = True

    def des(self, cluster: Cluster, workers: int) -> Send:
        env = cluster.env
        size = float(self.message_size or 0.0)
        cap, bandwidth = self.uplink_bandwidth, self.master_bandwidth
        dust = FLUID_EPS * size
        # Transferring flows in join order, [key, worker, message, done event]: keys never
        # decrease along it, so its head ends first.
        flows: deque[list[Any]] = deque()
        # Flows that joined since the link last woke: their keys are set when it does.
        joining: list[list[Any]] = []
        wake = [env.event()]
        # The link's clock, the instant it was set, the rate since and when the head ends.
        clock, since, rate, end = 0.0, 0.0, math.inf, math.inf
        # Per worker, the message in its latency and the uplink's process, kept only when
        # an iteration's end aborts them.
        delayed: dict[int, tuple[int, Process]] = {}

        def abort() -> None:
            for worker, (message, process) in list(delayed.items()):
                if cluster.aborted(worker, message):
                    del delayed[worker]
                    cluster.wasted(worker, message, 0.0)  # it has not joined the link
                    process.interrupt()
            if not flows:
                return
            now = advance(clock, since, env.now, rate)
            kept: deque[list[Any]] = deque()
            for f in flows:
                if cluster.aborted(f[1], f[2]):
                    cluster.wasted(f[1], f[2], sent_bytes(size, f[0], now))
                    f[3].succeed()  # its uplink takes the next message now
                else:
                    kept.append(f)
            if len(kept) < len(flows):
                flows.clear()
                flows.extend(kept)
                if not wake[0].triggered:
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
            joining.append([0.0, worker, message, done])
            if not wake[0].triggered:
                wake[0].succeed()
            yield done

        def link() -> Generator[Event, Any, None]:
            nonlocal clock, since, rate, end
            while True:
                if not flows and not joining:
                    wake[0] = env.event()
                    yield wake[0]
                now = env.now
                if flows:
                    # At the head's instant the clock reads its key, whatever rounding
                    # would make of rate·elapsed (at large times ``end`` can even round
                    # back to the instant the link last woke).
                    clock = flows[0][0] if now >= end else advance(clock, since, now, rate)
                since = now
                # Every flow due now ends before any flow joins (docs/model.md,
                # "Network", ties under fair): those within dust of the clock, and those
                # whose end, at the rate the others leave them, rounds to now.
                finished = []
                while flows:
                    key = flows[0][0]
                    if key - clock <= dust:
                        finished.append(flows.popleft())
                        continue
                    rate = share_rate(len(flows), cap, bandwidth)
                    if finish_time(now, clock, key, rate) > now:
                        break
                    clock = key
                if not flows:
                    clock = 0.0  # an idle link's clock starts afresh, which keeps it small
                finished.sort(key=lambda f: (f[1], f[2]))
                for f in finished:
                    cluster.receive(f[1], f[2])
                    f[3].succeed()
                for f in joining:
                    f[0] = clock + size
                    flows.append(f)
                joining.clear()
                wake[0] = env.event()
                if not flows:
                    end = math.inf
                    continue
                rate = share_rate(len(flows), cap, bandwidth)
                end = finish_time(since, clock, flows[0][0], rate)
                yield wake[0] | env.at(end)

        env.process(link())
        return uplinks(cluster, workers, forward)

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        """Flow starts and receptions of messages ready at ``ready``, per message (see
        :func:`share`)."""
        return share(ready, *self._link())

    def arrays_until(self, ready: np.ndarray, identify: bool,
                     rule: DecodingRule) -> tuple[np.ndarray, np.ndarray]:
        return share(ready, *self._link(), rule)

    def transferred(self, ready: np.ndarray, sent: np.ndarray, received: np.ndarray,
                    until: np.ndarray) -> np.ndarray:
        """Each transferring flow's bytes at ``until``, from the link's clock then: the
        link's events up to ``until`` again (:func:`in_flight`), since the clock is not in
        the starts and receptions. A flow in its latency has transferred nothing."""
        return in_flight(ready, *self._link(), until)

    def links(self, reps: int, iterations: int, rule: DecodingRule) -> Flows:
        return Flows(self, reps, iterations, rule)

    def _link(self) -> tuple[float, float, float, float]:
        return (float(self.message_size or 0.0), self.uplink_bandwidth,
                self.master_bandwidth, self.latency)


class Flows:
    """fair's link across the iterations of a training run, all realizations at once
    (docs/model.md, "Training runs", which says why this is exact).

    Iteration t + 1's messages are ready only after T_t, so the link's events up to T_t
    involve the messages of iterations up to t alone. Each iteration continues the
    compiled event loop of a single iteration (:func:`fair_kernel.carry`) from the state
    the one before left at its end: the transferring flows with their keys and the link's
    clock, the flows in their latency, and each uplink's flow and the messages it has yet
    to begin (of every iteration so far: under drain an uplink may still be sending those
    of earlier ones). Later iterations fill in the starts and receptions of earlier
    messages that were still to come at their iteration's end; the arrays :meth:`send`
    returns hold the final ones once the last iteration has run."""

    def __init__(self, fair: Fair, reps: int, iterations: int, rule: DecodingRule) -> None:
        from pssim.network import fair_kernel

        self._kernel = fair_kernel
        self._link = fair._link()
        n, m = rule.pieces.shape
        self._pieces = np.ascontiguousarray(rule.pieces, dtype=np.int64)
        self._rule = (not rule.count_rule, rule.threshold)
        # Per realization and message of every iteration, its ready, start and reception
        # instants side by side (+inf until known), as the single iteration's loop has
        # them; each iteration's are set when it is sent, so the memory is written once.
        self._flow = np.empty((reps, iterations, n, m, 3))
        # When the model after each iteration reached each worker, under cancel (which
        # drops what had not begun by then); +inf where nothing is dropped.
        self._model = np.full((reps, iterations, n), np.inf)
        self._state = fair_kernel.state(reps, n)
        self._step = 0

    def send(self, ready: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The next iteration's messages, ready at ``ready`` (shape (reps, N, messages per
        worker)): their starts and receptions as known at its end (those at or before it
        are final; the arrays are filled in as later iterations run)."""
        t = self._step
        self._flow[:, t, :, :, 0] = ready
        self._flow[:, t, :, :, 1:] = np.inf
        size, cap, bandwidth, latency = self._link
        self._kernel.carry(self._flow, self._model, t, size, cap, bandwidth, latency,
                           self._pieces, *self._rule, *self._state)
        self._step += 1
        return self._flow[:, t, :, :, 1], self._flow[:, t, :, :, 2]

    def end(self, end: np.ndarray, aborts: bool, model: np.ndarray | None) -> None:
        """The iteration just sent ended at ``end``: with ``aborts`` its flows stop there,
        and its messages not begun are dropped (the link is left idle, as every iteration
        before it was aborted too); ``model``, under cancel, drops its messages that had
        not begun when the next model reached their worker."""
        t = self._step - 1
        clocks, counts, _, _, join_at, join_worker, current, freed = self._state
        if aborts:
            self._kernel.abort(self._flow, np.ascontiguousarray(end), clocks, counts,
                               join_worker, current, freed)
        elif model is not None:
            self._model[:, t] = model
            self._kernel.drop(self._flow, self._model, t, counts, join_at, join_worker,
                              current)


def share(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
          rule: DecodingRule | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Starts and receptions of flows of ``size`` bytes ready at ``ready`` (reps, N, m),
    each capped at ``cap`` B/s, sharing ``link`` B/s max-min fairly after ``latency`` s;
    with ``rule``, each realization stops after the instant its master decodes (what
    starts or ends later is left +inf)."""
    start, received, _ = _follow(ready, size, cap, link, latency, rule, None)
    return start, received


def in_flight(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
              until: np.ndarray) -> np.ndarray:
    """The bytes each flow transferring at ``until`` (one instant per realization) had
    sent then, by the SimPy processes' expression (:func:`sent_bytes`), else 0."""
    return _follow(ready, size, cap, link, latency, None, until)[2]


def _follow(ready: np.ndarray, size: float, cap: float, link: float, latency: float,
            rule: DecodingRule | None, until: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts, receptions, and the bytes sent by ``until`` by the flows then transferring
    (no realizations without ``until``), from the compiled event loop of
    :mod:`pssim.network.fair_kernel`."""
    # Compiled on first use (then cached on disk): nothing else pays for the compiler.
    from pssim.network import fair_kernel

    reps, n, m = ready.shape
    times = np.ascontiguousarray(ready, dtype=np.float64)
    start = np.empty((reps, n, m))
    received = np.empty((reps, n, m))
    transferred = np.zeros((reps, n, m) if until is not None else (0, n, m))
    if rule is None:
        pieces, threshold = np.zeros((n, m), dtype=np.int64), 0
    else:
        pieces, threshold = np.ascontiguousarray(rule.pieces, dtype=np.int64), rule.threshold
    # Where every message carries a piece of its own, counting them is the rule.
    distinct = rule is not None and not rule.count_rule
    stop = (np.full(reps, np.inf) if until is None
            else np.ascontiguousarray(until, dtype=np.float64))
    fair_kernel.follow(times, size, cap, link, latency, pieces, distinct, threshold, stop,
                       start, received, transferred)
    return start, received, transferred
