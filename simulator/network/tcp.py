"""Network ``tcp`` (docs/model.md, "Network tcp"): every worker holds one TCP connection to
the master; its messages are sent one after another on it, cut into segments that cross a
tail-drop queue of ``buffer`` bytes in front of the master's link, which serves them at
``master_bandwidth`` counting every byte on the wire (headers included).

The senders follow Linux's TCP as the validation harness meets it (docs/validation.md):
an initial window of 10 segments, slow start left by HyStart or by a loss, CUBIC's
window growth and decrease, losses found by later segments' acknowledgements (a FIFO
queue never reorders, so RACK's reordering window is 0 here), tail loss probes, and
retransmission timeouts of at least srtt + 200 ms. The model is deterministic: no draw is
made, and equal instants are taken in a fixed order.

Its events are segments, so the SimPy engine runs it as one process that moves the
segments between the SimPy events that concern the cluster (a message begun or received),
with no SimPy event per segment.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pssim.errors import ConfigError, finite, integer
from pssim.network.base import Cluster, Discipline, Send, register
from pssim.units import nbytes

if TYPE_CHECKING:
    from simpy.events import Event

#: Bytes of headers per segment on the wire: Ethernet (14), IPv4 (20), TCP (20) and the
#: timestamp option (12) that Linux sends on every segment.
HEADERS = 14 + 20 + 20 + 12
#: Bytes of the MTU that are not payload: the IPv4 and TCP headers and the timestamps.
MTU_OVERHEAD = 20 + 20 + 12
#: The MTUs allowed (bytes): IPv4's least datagram every host takes, and loopback's largest.
MTU_RANGE = (576, 65536)
#: The default queue at the master's link (bytes), the validation harness's too.
BUFFER = 1_500_000.0
#: Linux's initial congestion window (segments) and its floor after idle.
INITIAL_WINDOW = 10
#: The least retransmission timeout's variance term (Linux's TCP_RTO_MIN), seconds.
RTO_MIN = 0.2
#: The retransmission timeout before any round trip is measured (TCP_TIMEOUT_INIT).
RTO_INITIAL = 1.0
#: The longest retransmission timeout (TCP_RTO_MAX).
RTO_MAX = 120.0
#: CUBIC: the window's multiplicative decrease and the cubic's constant (segments/s³).
BETA = 717 / 1024
CUBIC_C = 0.4
#: HyStart: the least window it acts at, the most ACK spacing of a train, the RTT samples
#: per round, and the bounds of the delay increase that ends slow start (seconds).
HYSTART_LOW_WINDOW = 16
HYSTART_ACK_DELTA = 0.002
HYSTART_SAMPLES = 8
HYSTART_DELAY_MIN = 0.004
HYSTART_DELAY_MAX = 0.016
#: A loss probe waits 2·srtt and at least this long (TCP_TIMEOUT_MIN); with a single
#: segment in flight it waits the delayed ACK's longest delay more.
TLP_MIN = 0.002
DELAYED_ACK_MAX = 0.2

_OPEN, _RECOVERY, _LOSS = 0, 1, 2


class _Connection:
    """One worker's connection: its stream of segments, its window and its scoreboard."""

    __slots__ = (
        "ack_count",
        "acked",
        "avail",
        "backoff",
        "cwnd",
        "deadline",
        "epoch",
        "flight",
        "found",
        "generation",
        "hystart_rtt",
        "hystart_samples",
        "k",
        "last_ack",
        "last_max",
        "last_send",
        "lost",
        "messages",
        "min_rtt",
        "nxt",
        "ooo",
        "origin",
        "partial",
        "pending",
        "probing",
        "queued_at",
        "rcv_nxt",
        "recover",
        "round_end",
        "round_start",
        "rto",
        "rttvar",
        "srtt",
        "ssthresh",
        "state",
        "tcp_cwnd",
        "tx",
        "una",
        "uplink_free",
        "worker",
    )

    def __init__(self, worker: int) -> None:
        self.worker = worker
        #: Messages written and not yet begun: (message, whether it is new, not begun on
        #: a connection that was reset).
        self.pending: deque[tuple[int, bool]] = deque()
        self.generation = 0
        self.uplink_free = 0.0
        self.reset()

    def reset(self) -> None:
        """A fresh connection: nothing in flight, the initial window."""
        self.generation += 1
        #: Messages begun: (first segment, end segment, message, payload of the last).
        self.messages: deque[tuple[int, int, int, float]] = deque()
        self.partial: dict[int, float] = {}  # payload of segments shorter than a full one
        self.avail = self.nxt = self.una = 0
        self.acked: set[int] = set()
        self.lost: list[int] = []  # heap of segments to send again
        self.flight: deque[tuple[int, int, float]] = deque()  # (tx, segment, sent at)
        self.tx = 0
        self.cwnd = float(INITIAL_WINDOW)
        self.ssthresh = math.inf
        self.state = _OPEN
        self.recover = 0
        self.srtt = 0.0
        self.rttvar = 0.0
        self.rto = RTO_INITIAL
        self.backoff = 0
        self.min_rtt = math.inf
        self.deadline = math.inf
        self.queued_at = math.inf
        self.probing = False
        self.last_send = -math.inf
        self.epoch = -1.0
        self.origin = self.k = self.last_max = self.tcp_cwnd = 0.0
        self.ack_count = 0.0
        self.round_end = 0
        self.round_start = self.last_ack = 0.0
        self.hystart_rtt = math.inf
        self.hystart_samples = 0
        self.found = False
        self.rcv_nxt = 0
        self.ooo: set[int] = set()


#: What the stack tells its owner: (kind, worker, message), kind "started" or "received".
Notice = tuple[str, int, int]


class Stack:
    """The senders, the master's link and the receiver of one realization: ``write`` a
    message on a worker's connection, then ``run`` the segments forward in time.

    ``begin(worker, message)`` says whether a message may still begin (False: dropped
    before its first segment); the notices say when a message began and was received.
    """

    def __init__(self, workers: int, size: float, mtu: int, buffer: float,
                 master_bandwidth: float, uplink_bandwidth: float, latency: float,
                 begin: Callable[[int, int], bool], burst: float = 0.0) -> None:
        self.mss = mtu - MTU_OVERHEAD
        self.segments = max(1, math.ceil(size / self.mss))
        self.last_payload = size - (self.segments - 1) * self.mss
        self.buffer = buffer
        self.rate = master_bandwidth
        self.uplink = uplink_bandwidth
        self.latency = latency
        # Segments reach the queue the instant they are sent: no event between.
        self.direct = math.isinf(uplink_bandwidth) and latency == 0.0
        self.begin = begin
        self.conns = [_Connection(i) for i in range(workers)]
        self.now = 0.0
        # The master's link: queued packets (connection, generation, tx, segment, wire
        # bytes) in order, the bytes they hold (the one in service included), and when
        # the head leaves.
        self.queue: deque[tuple[_Connection, int, int, int, float]] = deque()
        self.backlog = 0.0
        self.depart = math.inf
        # The link's token bucket as the instant its tokens were last none (at ``burst``
        # 0, when it last finished a segment), and that instant once the head has left.
        self.burst_time = burst / master_bandwidth
        self.empty_at = -math.inf
        self.empty_after = -math.inf
        # Timed events other than departures: (time, order, kind, connection, data).
        self.events: list[tuple[float, int, int, _Connection, Any]] = []
        self.order = 0
        self.notices: list[Notice] = []

    # -- what the owner calls -----------------------------------------------------------
    def write(self, now: float, worker: int, message: int) -> list[Notice]:
        """The worker writes a message on its connection at ``now``."""
        self.now = now
        c = self.conns[worker]
        c.pending.append((message, True))
        if c.nxt == c.avail and not c.lost:
            self._restart_after_idle(c)
        self._send(c)
        return self._take()

    def next_time(self) -> float:
        """The instant of the next segment event (∞: nothing moves)."""
        return min(self.depart, self.events[0][0] if self.events else math.inf)

    def run(self, until: float) -> list[Notice]:
        """Process the events before ``until`` in time order, stopping after the first that
        gives notices (then ``now`` is its instant)."""
        while not self.notices:
            t = self.next_time()
            if t >= until:
                break
            self.now = t
            # At equal instants the link's departure goes first, then timed events in the
            # order they were scheduled.
            if self.depart <= t:
                self._departure()
            else:
                _, _, kind, c, data = heapq.heappop(self.events)
                if kind == 0:
                    self._arrive(*data)
                elif kind == 1:
                    self._ack(c, *data)
                else:
                    self._timer(c, data)
        return self._take()

    def abort(self, now: float, doomed: Callable[[int, int], bool],
              wasted: Callable[[int, int, float], None]) -> list[Notice]:
        """At ``now``, reset every connection carrying a begun message for which
        ``doomed(worker, message)`` holds: its segments leave the link at once (the one
        in service too), ``wasted`` gets each doomed message's payload bytes that had
        reached the master, and the connection's other messages start again on a fresh
        connection (messages not begun are left to ``begin``)."""
        self.now = now
        reset = []
        for c in self.conns:
            begun = [m for m in c.messages if doomed(c.worker, m[2])]
            if not begun:
                continue
            for first, end, message, last in begun:
                got = sum(last if s == end - 1 else self.mss for s in range(first, end)
                          if s < c.rcv_nxt or s in c.ooo)
                wasted(c.worker, message, float(got))
            # Messages of later iterations begun on the old connection start again from
            # their first byte, as already begun.
            again = deque((m[2], False) for m in c.messages if not doomed(c.worker, m[2]))
            again.extend(c.pending)
            c.pending = again
            c.reset()
            c.uplink_free = now
            reset.append(c)
        if not reset:
            return []
        head = self.queue[0] if self.queue else None
        self.queue = deque(p for p in self.queue if p[0].generation == p[1])
        self.backlog = sum(p[4] for p in self.queue)
        if self.queue and self.queue[0] is not head:
            self._serve()
        elif not self.queue:
            self.depart = math.inf
        for c in reset:
            self._send(c)
        return self._take()

    # -- the sender ---------------------------------------------------------------------
    def _take(self) -> list[Notice]:
        notices, self.notices = self.notices, []
        return notices

    def _payload(self, c: _Connection, segment: int) -> float:
        return c.partial.get(segment, self.mss)

    def _restart_after_idle(self, c: _Connection) -> None:
        """Linux's window restart after an idle period longer than the RTO: the window
        halves for each RTO of idle time, down to the initial window."""
        if not c.flight and c.last_send > -math.inf:
            idle = self.now - c.last_send
            # CUBIC keeps to its curve across idle time: its epoch moves on by the time
            # the connection sent nothing (Linux's CA_EVENT_TX_START).
            if c.epoch >= 0 and idle > 0:
                c.epoch = min(c.epoch + idle, self.now)
            restart = min(float(INITIAL_WINDOW), c.cwnd)
            if idle > c.rto:
                c.ssthresh = max(c.ssthresh, 0.75 * c.cwnd)
                while idle > c.rto and c.cwnd > restart:
                    c.cwnd /= 2
                    idle -= c.rto
                c.cwnd = max(c.cwnd, restart)

    def _next_segment(self, c: _Connection) -> int | None:
        """The segment to send next: a lost one first, else new data (beginning the next
        message written if the stream has none left)."""
        while c.lost:
            s = c.lost[0]
            if s < c.una or s in c.acked:
                heapq.heappop(c.lost)
                continue
            return heapq.heappop(c.lost)
        while c.nxt == c.avail:
            if not c.pending:
                return None
            message, new = c.pending.popleft()
            if new and not self.begin(c.worker, message):
                continue
            first = c.avail
            c.avail += self.segments
            if self.last_payload != self.mss:
                c.partial[c.avail - 1] = self.last_payload
            c.messages.append((first, c.avail, message, self.last_payload))
            if new:
                self.notices.append(("started", c.worker, message))
        s = c.nxt
        c.nxt += 1
        return s

    def _send(self, c: _Connection) -> None:
        while len(c.flight) < c.cwnd:
            s = self._next_segment(c)
            if s is None:
                break
            self._transmit(c, s)
        self._arm(c)

    def _transmit(self, c: _Connection, s: int) -> None:
        c.tx += 1
        c.flight.append((c.tx, s, self.now))
        c.last_send = self.now
        wire = self._payload(c, s) + HEADERS
        packet = (c, c.generation, c.tx, s, wire)
        if self.direct:
            self._arrive(packet)
            return
        leave = max(self.now, c.uplink_free) + wire / self.uplink
        c.uplink_free = leave
        self._at(leave + self.latency, 0, c, (packet,))

    def _at(self, time: float, kind: int, c: _Connection, data: Any) -> None:
        self.order += 1
        heapq.heappush(self.events, (time, self.order, kind, c, data))

    # -- the master's link and the receiver ---------------------------------------------
    def _arrive(self, packet: tuple[_Connection, int, int, int, float]) -> None:
        if packet[0].generation != packet[1]:
            return  # its connection was reset while it travelled
        wire = packet[4]
        if self.backlog + wire > self.buffer:
            return  # tail drop
        self.queue.append(packet)
        self.backlog += wire
        if len(self.queue) == 1:
            self._serve()

    def _serve(self) -> None:
        """The head of the queue leaves once the bucket holds its bytes: at once after an
        idle time if the bucket was full, else its bytes' time at B after the last."""
        empty = max(self.empty_at, self.now - self.burst_time)
        self.empty_after = empty + self.queue[0][4] / self.rate
        self.depart = max(self.now, self.empty_after)

    def _departure(self) -> None:
        c, generation, tx, s, wire = self.queue.popleft()
        self.backlog -= wire
        self.empty_at = self.empty_after
        if self.queue:
            self._serve()
        else:
            self.depart = math.inf
        if c.generation != generation:
            return  # the segment in service when its connection was reset
        if s == c.rcv_nxt:
            c.rcv_nxt += 1
            while c.rcv_nxt in c.ooo:
                c.ooo.discard(c.rcv_nxt)
                c.rcv_nxt += 1
            while c.messages and c.messages[0][1] <= c.rcv_nxt:
                self.notices.append(("received", c.worker, c.messages.popleft()[2]))
        elif s > c.rcv_nxt:
            c.ooo.add(s)
        if self.latency == 0.0:
            self._ack(c, generation, tx, s, c.rcv_nxt)
        else:
            self._at(self.now + self.latency, 1, c, (generation, tx, s, c.rcv_nxt))

    # -- acknowledgements, losses and the window ----------------------------------------
    def _ack(self, c: _Connection, generation: int, tx: int, s: int, cumulative: int) -> None:
        if c.generation != generation:
            return
        now = self.now
        before = c.una
        # Every segment delivered is acknowledged on its own (with SACK), so the sender
        # learns of each once; the cumulative point only tells what it may forget.
        newly = 0
        if s >= c.una and s not in c.acked:
            c.acked.add(s)
            newly = 1
        if cumulative > c.una:
            c.una = cumulative
        # A FIFO link never reorders: what was sent before this segment and is not
        # acknowledged was dropped.
        flight = c.flight
        found_loss = False
        while flight and flight[0][0] < tx:
            _, lost, _ = flight.popleft()
            if lost >= c.una and lost not in c.acked:
                heapq.heappush(c.lost, lost)
                found_loss = True
        if flight and flight[0][0] == tx:
            _, _, sent = flight.popleft()
            self._sample(c, now - sent)
        if c.una > before:
            c.backoff = 0
        if found_loss and c.state == _OPEN:
            self._on_loss(c)
            c.state = _RECOVERY
            c.recover = c.nxt
        elif c.state != _OPEN and c.una >= c.recover:
            c.state = _OPEN
        if c.state != _RECOVERY and newly:
            self._grow(c, newly)
        c.probing = False
        self._send(c)

    def _sample(self, c: _Connection, rtt: float) -> None:
        if c.srtt == 0.0:
            c.srtt, c.rttvar = rtt, rtt / 2
        else:
            c.rttvar = 0.75 * c.rttvar + 0.25 * abs(c.srtt - rtt)
            c.srtt = 0.875 * c.srtt + 0.125 * rtt
        if rtt < c.min_rtt:
            c.min_rtt = rtt
        # Linux bounds the variance term below by TCP_RTO_MIN, not the RTO itself.
        var = 4 * c.rttvar
        rto = c.srtt + (var if var > RTO_MIN else RTO_MIN)
        c.rto = rto if rto < RTO_MAX else RTO_MAX
        if c.cwnd < c.ssthresh and not c.found:
            self._hystart(c, rtt)

    def _hystart(self, c: _Connection, rtt: float) -> None:
        now = self.now
        if c.una > c.round_end:  # a new round of slow start
            c.round_end = c.nxt
            c.round_start = c.last_ack = now
            c.hystart_rtt = math.inf
            c.hystart_samples = 0
        if c.cwnd < HYSTART_LOW_WINDOW:
            return
        if now - c.last_ack <= HYSTART_ACK_DELTA:
            c.last_ack = now
            # Unpaced senders end slow start once a round's ACK train outlasts half the
            # least round trip.
            if now - c.round_start > c.min_rtt / 2:
                c.found = True
        if c.hystart_samples < HYSTART_SAMPLES:
            c.hystart_rtt = min(c.hystart_rtt, rtt)
            c.hystart_samples += 1
        elif c.hystart_rtt >= c.min_rtt + min(max(c.min_rtt / 8, HYSTART_DELAY_MIN),
                                              HYSTART_DELAY_MAX):
            c.found = True
        if c.found:
            c.ssthresh = c.cwnd

    def _grow(self, c: _Connection, acked: int) -> None:
        if c.cwnd < c.ssthresh:
            c.cwnd = min(c.cwnd + acked, max(c.ssthresh, c.cwnd))
            return
        # CUBIC's congestion avoidance, with its TCP-friendly floor.
        now = self.now
        if c.epoch < 0:
            c.epoch = now
            c.ack_count = acked
            c.tcp_cwnd = c.cwnd
            if c.last_max <= c.cwnd:
                c.k, c.origin = 0.0, c.cwnd
            else:
                c.k = ((c.last_max - c.cwnd) / CUBIC_C) ** (1 / 3)
                c.origin = c.last_max
        else:
            c.ack_count += acked
        t = now - c.epoch + (c.min_rtt if math.isfinite(c.min_rtt) else 0.0)
        target = c.origin + CUBIC_C * (t - c.k) ** 3
        count = c.cwnd / (target - c.cwnd) if target > c.cwnd else 100 * c.cwnd
        if c.last_max == 0 and count > 20:
            count = 20
        per = c.cwnd * (2 - BETA) / (3 * BETA)  # ACKs per segment of Reno's growth
        if c.ack_count > per:
            c.tcp_cwnd += c.ack_count / per
            c.ack_count = 0.0
        if c.tcp_cwnd > c.cwnd:
            count = min(count, c.cwnd / (c.tcp_cwnd - c.cwnd))
        c.cwnd += acked / max(count, 2.0)

    def _on_loss(self, c: _Connection) -> None:
        c.epoch = -1.0
        c.last_max = c.cwnd * (1 + BETA) / 2 if c.cwnd < c.last_max else c.cwnd
        c.ssthresh = max(c.cwnd * BETA, 2.0)
        c.cwnd = c.ssthresh
        c.found = True

    # -- timers -------------------------------------------------------------------------
    def _arm(self, c: _Connection) -> None:
        if not c.flight:
            c.deadline = math.inf
            return
        rto = min(c.rto * 2**c.backoff, RTO_MAX) if c.backoff else c.rto
        deadline = c.flight[0][2] + rto
        if c.state == _OPEN and not c.probing and c.srtt > 0:
            pto = 2 * c.srtt + (DELAYED_ACK_MAX if len(c.flight) == 1 else TLP_MIN)
            deadline = min(deadline, c.last_send + max(pto, TLP_MIN))
        c.deadline = deadline
        if deadline < c.queued_at:
            c.queued_at = deadline
            self._at(deadline, 2, c, c.generation)

    def _timer(self, c: _Connection, generation: int) -> None:
        if generation != c.generation or self.now != c.queued_at:
            return
        c.queued_at = math.inf
        if self.now < c.deadline:
            if math.isfinite(c.deadline):
                c.queued_at = c.deadline
                self._at(c.deadline, 2, c, c.generation)
            return
        rto = min(c.rto * 2**c.backoff, RTO_MAX)
        if c.state == _OPEN and not c.probing and self.now < c.flight[0][2] + rto:
            # A tail loss probe: new data if there is any, else the last segment again.
            c.probing = True
            s = self._next_segment(c)
            if s is None:
                s = c.flight[-1][1]
            self._transmit(c, s)
            self._arm(c)
            return
        # The retransmission timeout: everything in flight is taken as lost.
        self._on_loss(c)
        c.cwnd = 1.0
        c.state = _LOSS
        c.recover = c.nxt
        c.backoff += 1
        while c.flight:
            _, s, _ = c.flight.popleft()
            if s >= c.una and s not in c.acked:
                heapq.heappush(c.lost, s)
        c.probing = False
        self._send(c)


@register
@dataclass(frozen=True)
class Tcp(Discipline):
    """One TCP connection per worker through a tail-drop queue at the master's link."""

    mtu: int = 1500
    buffer: float = BUFFER
    #: A token bucket at the master's link, bytes: after an idle time it lets this many
    #: bytes through at once, as a shaper does (the validation harness's tbf); 0, the
    #: default, is a link that sends every byte at B.
    burst: float = 0.0

    name = "tcp"
    engines: ClassVar[frozenset[str]] = frozenset({"des"})

    def __post_init__(self) -> None:
        super().__post_init__()
        mtu = integer("mtu", self.mtu, low=MTU_RANGE[0], high=MTU_RANGE[1])
        object.__setattr__(self, "mtu", mtu)
        buffer = nbytes("buffer", self.buffer)
        if buffer < mtu + 14:
            raise ConfigError("buffer", self.buffer, f"must hold at least one full segment "
                              f"on the wire, {mtu + 14} bytes at mtu={mtu}")
        object.__setattr__(self, "buffer", buffer)
        burst = finite("burst", self.burst, low=0.0)
        object.__setattr__(self, "burst", burst)

    @property
    def wire_bytes(self) -> float:
        """Bytes one message puts on the wire: its payload plus its segments' headers."""
        size = float(self.message_size or 0.0)
        return size + math.ceil(size / (self.mtu - MTU_OVERHEAD)) * HEADERS

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "mtu": self.mtu, "buffer": self.buffer,
                "burst": self.burst}

    def des(self, cluster: Cluster, workers: int) -> Send:
        env = cluster.env
        stack = Stack(workers, float(self.message_size or 0.0), self.mtu, self.buffer,
                      self.master_bandwidth, self.uplink_bandwidth, self.latency,
                      lambda worker, message: not cluster.abandoned(worker, message),
                      self.burst)
        wake = [env.event()]

        def tell(notices: list[Notice]) -> None:
            for kind, worker, message in notices:
                if kind == "started":
                    cluster.started(worker, message)
                else:
                    cluster.receive(worker, message)

        def link() -> Generator[Event, Any, None]:
            while True:
                # Segments move on their own until the next SimPy event, which may write
                # a message: run them up to it, stopping at each notice.
                horizon = env.peek()
                notices = stack.run(horizon)
                if notices:
                    if stack.now > env.now:
                        yield env.at(stack.now)
                    tell(notices)
                    continue
                wake[0] = env.event()
                if math.isinf(stack.next_time()):
                    yield wake[0]
                else:
                    # After the events of that instant, which may write messages.
                    yield wake[0] | env.at(horizon, _AFTER_INSTANT)

        def send(worker: int, message: int) -> None:
            tell(stack.write(env.now, worker, message))
            if not wake[0].triggered:
                wake[0].succeed()

        def abort() -> None:
            tell(stack.abort(env.now, cluster.aborted, cluster.wasted))
            if not wake[0].triggered:
                wake[0].succeed()

        cluster.aborting(abort)

        env.process(link())
        return send


#: After every other event of an instant, the engine's model arrivals and aborts included:
#: segments due at an instant move once everything that may write or abort has run.
_AFTER_INSTANT = 99
