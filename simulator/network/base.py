"""What a network discipline is (docs/model.md, "Network"), and what the disciplines share.

A discipline decides when each message that a worker has ready reaches the master. It is
one module holding its parameters, its SimPy processes (:meth:`Discipline.des`) and, where
the dynamics have an exact recursion, its vectorized form (:meth:`Discipline.arrays`).
Which engines reproduce it is declared once, in :attr:`Discipline.engines`; the engines
dispatch on the object and never on its name.

Aborted transfers (``cancel_transfers = abort``, docs/model.md, "Aborted transfers")
reach a discipline through one hook, whatever its links: its SimPy processes call
:meth:`Cluster.aborting` once, with a function that the engine then calls at the end T_t
of every iteration; that function stops each transmission in flight for which
:meth:`Cluster.aborted` holds, reports it with :meth:`Cluster.wasted` and frees what it
occupied at once, so that the others' rates and queues change at T_t. A message that has
not begun is dropped where :meth:`Cluster.abandoned` holds when it would begin
(:func:`uplinks` asks). The vectorized form gives the same bytes with
:meth:`Discipline.transferred`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pssim.errors import ConfigError
from pssim.units import bandwidth, delay, nbytes

if TYPE_CHECKING:
    import numpy as np
    import simpy
    from simpy.events import Event

#: Send one message: ``send(worker, message)``, called the instant it is ready.
Send = Callable[[int, int], None]
#: Stop the transmissions whose iteration has ended: ``abort()``, called by the engine at
#: T_t after every other event of that instant (see :meth:`Cluster.aborting`).
Abort = Callable[[], None]


@dataclass(frozen=True)
class DecodingRule:
    """The master's decoding rule, for a discipline that stops each realization at the
    instant it holds: worker i's message j carries piece ``pieces[i, j]`` (shape (N,
    messages per worker)), and the master decodes once it holds ``threshold`` distinct
    pieces; with ``count_rule``, every message carries a piece of its own."""

    pieces: np.ndarray
    threshold: int
    count_rule: bool = False


class Cluster(Protocol):
    """What a discipline's SimPy processes see of the engine's iteration."""

    @property
    def env(self) -> Clock:
        """The SimPy environment of the iteration."""

    def started(self, worker: int, message: int) -> None:
        """The message's transmission begins now (it counts as sent)."""

    def receive(self, worker: int, message: int) -> None:
        """The master receives the message now."""

    def abandoned(self, worker: int, message: int) -> bool:
        """Whether the message is dropped before its transmission begins: its worker
        cancelled its iteration on the next model, or the iteration has ended under
        ``cancel_transfers = abort``. The uplink asks when the message would begin."""

    def aborting(self, abort: Abort) -> bool:
        """Under ``cancel_transfers = abort``: have ``abort`` called at the end T_t of
        every iteration, after every other event of that instant (a message received at
        T_t itself counts), and return True; otherwise return False, and ``abort`` is
        never called. A discipline calls it once, when its processes start, and needs to
        keep track of its transmissions only when it returns True.

        ``abort()`` must, for each transmission in flight whose message :meth:`aborted`
        names (on an uplink, in its latency, queued at or crossing the master's link):
        report it with :meth:`wasted`, never receive it, and free what it occupied now,
        so that the other transmissions' rates and queues are recomputed at this instant.
        It runs synchronously: after the last iteration nothing runs afterwards."""

    def aborted(self, worker: int, message: int) -> bool:
        """Whether the message's iteration has ended under ``cancel_transfers = abort``:
        its transmission, if in flight, must stop now."""

    def wasted(self, worker: int, message: int, transferred: float) -> None:
        """The message's transmission is aborted now, having transferred ``transferred``
        bytes (docs/model.md, "Metrics", ``wasted_bytes``)."""


class Links(Protocol):
    """The links of a training run's realizations, iteration after iteration."""

    def send(self, ready: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Send-start and reception times (shape (reps, N, messages per worker)) of the
        next iteration's messages, ready at ``ready``; both are per message, final at or
        before the iteration's end, and may be revised later after it (the arrays
        returned are then updated in place)."""

    def end(self, end: np.ndarray, aborts: bool, model: np.ndarray | None) -> None:
        """The iteration last sent ended at ``end`` (per realization): its transmissions
        stop there if ``aborts``; ``model``, under ``late_policy = cancel``, is when each
        worker receives the next model (its messages not begun by then are dropped)."""


class Clock(Protocol):
    """The SimPy environment, with events at absolute times."""

    @property
    def now(self) -> float: ...

    def at(self, time: float, priority: int = ...) -> Event: ...

    def peek(self) -> float: ...

    def event(self) -> Event: ...

    def process(self, generator: Generator[Event, Any, Any]) -> simpy.Process: ...

    @property
    def active_process(self) -> simpy.Process | None: ...


@dataclass(frozen=True)
class Discipline(ABC):
    """How messages reach the master. Sizes are bytes, bandwidths bytes/s, times seconds;
    strings with units are accepted and converted (``"10Gbps"``, ``"4MB"``, ``"50us"``)."""

    uplink_bandwidth: float = math.inf
    master_bandwidth: float = math.inf
    latency: float = 0.0
    message_size: float | None = None

    #: The name a configuration gives (``network = "fifo"``), and the summary shows.
    name: ClassVar[str]
    #: The engines that reproduce this discipline exactly.
    engines: ClassVar[frozenset[str]] = frozenset({"des"})
    #: Whether messages need a size (every discipline with a finite link does).
    needs_size: ClassVar[bool] = True
    #: Whether a message's delivery never depends on other messages (no queue, no shared
    #: link): then iterations of a training run interact only through the model, and the
    #: vectorized engine runs them.
    independent_messages: ClassVar[bool] = False
    #: Whether :meth:`links` carries the links' state from one iteration of a training
    #: run into the next, all realizations at once: then the vectorized engine runs
    #: training runs under the discipline although its messages wait for one another.
    carries: ClassVar[bool] = False
    #: The link parameters the discipline uses; setting another one gets a note.
    uses: ClassVar[frozenset[str]] = frozenset({"uplink_bandwidth", "master_bandwidth",
                                                "latency"})

    def __post_init__(self) -> None:
        convert = {"uplink_bandwidth": bandwidth, "master_bandwidth": bandwidth,
                   "latency": delay, "message_size": nbytes}
        for field, check in convert.items():
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, check(field, value))
        if self.message_size is None and self.needs_size:
            raise ConfigError("message_size", None, f"is required with network "
                              f"{self.name!r}: the bytes of one message")
        for link, seconds in (("uplink_bandwidth", self.uplink_time),
                              ("master_bandwidth", self.master_time)):
            if not math.isfinite(seconds):
                raise ConfigError("message_size", self.message_size,
                                  f"would take longer than 1e308 s to cross {link}="
                                  f"{getattr(self, link):g} B/s: times must be finite")

    @property
    def uplink_time(self) -> float:
        """Seconds one message occupies a worker's uplink."""
        return 0.0 if self.message_size is None else self.message_size / self.uplink_bandwidth

    @property
    def master_time(self) -> float:
        """Seconds one message occupies the master's link when it is served whole."""
        return 0.0 if self.message_size is None else self.message_size / self.master_bandwidth

    def parameters(self) -> dict[str, Any]:
        """The discipline's columns of the summary."""
        return {"network": self.name, "uplink_bandwidth": self.uplink_bandwidth,
                "master_bandwidth": self.master_bandwidth, "latency": self.latency,
                "message_size": math.nan if self.message_size is None else self.message_size}

    @abstractmethod
    def des(self, cluster: Cluster, workers: int) -> Send:
        """Start the discipline's SimPy processes for one iteration of ``workers`` workers
        and return the function a worker calls when a message is ready."""

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        """Send-start and reception times of messages ready at ``ready`` (shape (reps, N,
        messages per worker)), for disciplines whose ``engines`` include ``vectorized``.

        Receptions are per message when ``identify``; otherwise they may come as any
        per-realization permutation (a count rule needs only their multiset).
        """
        raise NotImplementedError(f"network {self.name!r} has no vectorized form")

    def arrays_until(self, ready: np.ndarray, identify: bool,
                     rule: DecodingRule) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`arrays`, for a discipline that may stop each realization once the master
        has decoded by ``rule``: then starts and receptions after that instant may be left
        +inf. By default, all of them are computed."""
        return self.arrays(ready, identify)

    def links(self, reps: int, iterations: int, rule: DecodingRule) -> Links:
        """The links of ``reps`` training runs of ``iterations`` iterations, for
        disciplines that :attr:`carries`; ``rule`` is the master's decoding rule, whose
        pieces (N, messages per worker) give the messages' shape."""
        raise NotImplementedError(f"network {self.name!r} carries no state across "
                                  "iterations")

    def transferred(self, ready: np.ndarray, sent: np.ndarray, received: np.ndarray,
                    until: np.ndarray) -> np.ndarray:
        """The bytes each message had transferred at ``until`` (one instant per
        realization) if its transmission was in flight then (begun at or before it, not
        received by it), else 0, shape (reps, N, messages per worker): what aborting at
        ``until`` wastes, as the SimPy processes' ``abort`` reports it, to the bit.
        ``sent`` and ``received`` are :meth:`arrays_until`'s, per message, of messages
        ready at ``ready``."""
        raise NotImplementedError(f"network {self.name!r} has no vectorized form")


def uplinks(cluster: Cluster, workers: int,
            forward: Callable[[int, int], Generator[Event, Any, None] | None]) -> Send:
    """Each worker's uplink as one long-lived process that sends its messages one at a time,
    in the order they became ready; ``forward`` carries one message onward and returns the
    events the uplink waits for before its next message (None: none)."""
    env = cluster.env
    queues: list[deque[int]] = [deque() for _ in range(workers)]
    wake: list[Event] = [env.event() for _ in range(workers)]

    def uplink(i: int) -> Generator[Event, Any, None]:
        queue = queues[i]
        while True:
            if not queue:
                wake[i] = env.event()
                yield wake[i]
            message = queue.popleft()
            if cluster.abandoned(i, message):
                continue
            cluster.started(i, message)
            step = forward(i, message)
            if step is not None:
                yield from step

    for i in range(workers):
        env.process(uplink(i))

    def send(worker: int, message: int) -> None:
        queues[worker].append(message)
        if not wake[worker].triggered:
            wake[worker].succeed()

    return send


_REGISTRY: dict[str, type[Discipline]] = {}


def register(cls: type[Discipline]) -> type[Discipline]:
    """Make a discipline available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def build(network: str | Discipline = "none", *, uplink_bandwidth: Any = math.inf,
          master_bandwidth: Any = math.inf, latency: Any = 0.0,
          message_size: Any = None, **options: Any) -> Discipline:
    """The discipline registered as ``network`` with these link parameters and those of
    ``options`` that it has (``mtu``, ``buffer`` of ``tcp``); an object already built is
    returned as it is."""
    if isinstance(network, Discipline):
        return network
    cls = _REGISTRY.get(network) if isinstance(network, str) else None
    if cls is None:
        raise ConfigError("network", network, f"must be one of {', '.join(_REGISTRY)} (or "
                          "a Discipline object)")
    own = {f.name for f in fields(cls)}
    return cls(uplink_bandwidth, master_bandwidth, latency, message_size,
               **{k: v for k, v in options.items() if k in own})

