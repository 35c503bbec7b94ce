"""Replay pssim's messages over the Linux kernel's TCP and compare completion times
(docs/validation.md).

For each cell (N, r, S, B) and scheme, the message-ready instants of pssim's own network
``none`` run are replayed on fresh loopback TCP connections inside a network namespace
whose master port is shaped to B on the wire (ingress, through an ifb device, with a
tail-drop queue of ``--buffer`` bytes). The master records when each message's last byte
arrives; the scheme's decoding rule on those arrivals gives the kernel's T, which is
compared with the T of every registered pssim network discipline.

Run as root: ``.venv/bin/python benchmarks/validate_tcp.py --quick`` (a smoke run), or a
grid such as ``--workers 8,20 --load 2,4 --bandwidth 100Mbit,400Mbit --size 256KB,1MB``.
The same file is the agent run inside the namespace (``--agent master|sender``).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

#: The master's port inside the namespace (a fresh namespace has no other listener).
PORT = 5001
#: IPv4 (20) + TCP with timestamps (32) bytes per segment, and the Ethernet header (14)
#: that the qdisc counts in skb->len on lo.
TCP_IP_HEADERS = 52
ETHERNET_HEADER = 14
#: Settle time after the connections are up, before a realization's clock starts, so that
#: handshakes and their ACKs are not part of T.
SETTLE = 0.02
#: A replay is disturbed when a first message began later than both of these: seconds,
#: and the share of its T (docs/validation.md, "Senders on time").
LATE_FLOOR = 0.001
LATE_SHARE = 0.01
#: Tolerance of the bulk goodput self-check (relative).
GOODPUT_TOLERANCE = 0.02
SCHEMES = ["GC", "LCC", "LCC-MMC", "LCC-MMC-2", "UC-MMC", "UC-MMC-PG"]


class Usage(Exception):
    """A bad option or a missing prerequisite: one line, exit code 2."""


# --------------------------------------------------------------------------- decoding


def completion_from_arrivals(arrivals: np.ndarray, labels: np.ndarray,
                             threshold: int) -> float:
    """The first instant at which the messages received carry ``threshold`` distinct
    labels; ``arrivals`` (workers, messages) holds inf for a message never received.
    Returns inf when the rule never holds."""
    flat = arrivals.ravel()
    order = np.argsort(flat, kind="stable")
    seen: set[int] = set()
    for k in order:
        t = float(flat[k])
        if not math.isfinite(t):
            break
        seen.add(int(labels.ravel()[k]))
        if len(seen) >= threshold:
            return t
    return math.inf


def ready_instants(finish: np.ndarray, group: int) -> np.ndarray:
    """Message-ready instants (reps, workers, messages) from finish times (reps, workers,
    load): message j goes after computation (j+1)·group, as the engines send it."""
    return finish[..., group - 1::group]


def errors(model: np.ndarray, kernel: np.ndarray) -> tuple[float, float]:
    """(median |(model − kernel)/kernel|, bias = (mean model − mean kernel)/mean kernel).
    ``kernel`` may hold several replays of each realization (reps, replays): every replay
    is an error of its own and counts in the kernel's mean."""
    model, kernel = np.asarray(model, float), np.asarray(kernel, float)
    if kernel.ndim == 2:
        model = np.broadcast_to(model[:, None], kernel.shape)
    rel = (model - kernel) / kernel
    return float(np.median(np.abs(rel))), float((model.mean() - kernel.mean())
                                                / kernel.mean())


def mean_error(model: np.ndarray, kernel: np.ndarray) -> float:
    """Median over realizations of |model − the replays' mean| / the replays' mean: the
    model against what the kernel gives on average for the same ready instants. With K
    replays the kernel's own spread enters divided by √K; with one replay this is the
    median error."""
    model, kernel = np.asarray(model, float), np.asarray(kernel, float)
    if kernel.ndim == 2:
        kernel = kernel.mean(axis=1)
    return float(np.median(np.abs((model - kernel) / kernel)))


def bias_se(model: np.ndarray, kernel: np.ndarray) -> float:
    """The standard error of the bias: the spread over realizations of model T less the
    kernel's (its replays' mean), over √reps and the kernel's mean T; nan for one rep."""
    model, kernel = np.asarray(model, float), np.asarray(kernel, float)
    if kernel.ndim == 2:
        kernel = kernel.mean(axis=1)
    if model.size < 2:
        return math.nan
    diff = model - kernel
    return float(diff.std(ddof=1) / math.sqrt(diff.size) / kernel.mean())


def kernel_floor(kernel: np.ndarray) -> tuple[float, float]:
    """The kernel against itself: every later replay (reps, replays) scored as a model
    against the first, as (median error, bias); nan with one replay. A deterministic
    model cannot be expected to err much less than the kernel varies on the same input: one
    that gave each realization's mean kernel T would score about 1/√2 of this median
    error, were the replays' spread normal."""
    kernel = np.asarray(kernel, float)
    if kernel.ndim != 2 or kernel.shape[1] < 2:
        return math.nan, math.nan
    first, later = kernel[:, :1], kernel[:, 1:]
    rel = (later - first) / first
    return float(np.median(np.abs(rel))), float((later.mean() - first.mean())
                                                / first.mean())


def lateness(ready: np.ndarray, started: np.ndarray, t: float) -> float:
    """How late the testbed began the workers' first messages (seconds): the most, over
    the workers whose first message was ready before T, of its begin (T at the latest)
    less its ready instant. A later message waits for the one before it on its socket,
    so only first messages tell the testbed's own delay."""
    first, begun = ready[:, 0], np.minimum(started[:, 0], t)
    due = first < t
    return float((begun[due] - first[due]).max()) if due.any() else 0.0


def disturbed(late: float, t: float) -> bool:
    """A replay whose first messages began later than 1 ms and 1% of its T: the host
    (its CPUs busy moving packets) did not send when pssim's ready instants say."""
    return late > max(LATE_FLOOR, LATE_SHARE * t)


def wire_bytes(size: float, mtu: int) -> float:
    """Bytes on the wire (as the qdisc counts them) of ``size`` payload bytes in full
    segments: size·(mtu+14)/(mtu−52)."""
    return size * (mtu + ETHERNET_HEADER) / (mtu - TCP_IP_HEADERS)


# --------------------------------------------------------------------------- options


def parse_bandwidth(text: str) -> float:
    """Bytes/s from pssim's units, also taking tc's spelling (``100Mbit``)."""
    from pssim.errors import ConfigError
    from pssim.units import bandwidth

    spelled = re.sub(r"bit$", "bps", text.strip())
    try:
        return bandwidth("bandwidth", spelled)
    except ConfigError as err:
        raise Usage(f"--bandwidth {text!r}: {err.allowed} (or tc's 100Mbit)") from None


def parse_size(text: str) -> int:
    from pssim.errors import ConfigError
    from pssim.units import nbytes

    try:
        return int(nbytes("size", text))
    except ConfigError as err:
        raise Usage(f"--size {text!r}: {err.allowed}") from None


def int_list(name: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise Usage(f"--{name} {text!r}: must be comma-separated integers") from None
    if not values or min(values) < 1:
        raise Usage(f"--{name} {text!r}: must be integers >= 1")
    return values


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, not argparse's usage block
        raise Usage(message)


@dataclass
class Options:
    workers: list[int]
    loads: list[int]
    bandwidths: list[float]
    sizes: list[int]
    schemes: list[str]
    reps: int
    mu: float
    alpha: float
    seed: int
    buffer: int
    mtu: int
    cc: str
    out: Path
    max_load: float
    burst: float = 0.005
    replays: int = 1
    attempts: int = 3
    labels: dict[float, str] = field(default_factory=dict)


def parse_options(argv: Sequence[str]) -> Options:
    p = _Parser(prog="validate_tcp.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="8,20,40")
    p.add_argument("--load", default="2,3,4")
    p.add_argument("--bandwidth", default="100Mbit,800Mbit")
    p.add_argument("--size", default="256KB,1MB,4MB")
    p.add_argument("--schemes", default="all")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--attempts", type=int, default=3,
                   help="tries of a replay whose senders began late (the least late kept)")
    p.add_argument("--replays", type=int, default=1,
                   help="times each realization is replayed (2 or more: the kernel's own "
                        "spread on the same input)")
    p.add_argument("--mu", type=float, default=10.0)
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--buffer", type=int, default=1_500_000, help="bottleneck queue, bytes")
    p.add_argument("--mtu", type=int, default=1500)
    p.add_argument("--cc", default="cubic", help="congestion control (TCP_CONGESTION)")
    p.add_argument("--burst", default="5ms",
                   help="the shaper's token bucket, as time at B (at least 4 frames)")
    p.add_argument("--out", default="results/validation")
    p.add_argument("--max-load", type=float, default=float(os.cpu_count() or 1),
                   help="1-minute load average above which a cell is repeated once")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: N=4, r=2, 100Mbit, 64KB, 1 rep")
    a = p.parse_args(list(argv))
    if a.quick:
        a.workers, a.load, a.bandwidth, a.size, a.reps = "4", "2", "100Mbit", "64KB", 1
    bw_texts = [t for t in a.bandwidth.split(",") if t.strip()]
    bandwidths = [parse_bandwidth(t) for t in bw_texts]
    schemes = SCHEMES if a.schemes.strip().lower() == "all" else [
        s.strip() for s in a.schemes.split(",") if s.strip()]
    from pssim.errors import ConfigError
    from pssim.schemes.registry import resolve

    for s in schemes:
        try:
            resolve(s)
        except ConfigError as err:
            raise Usage(f"--schemes {s!r}: {err.allowed}") from None
    if a.reps < 1:
        raise Usage(f"--reps {a.reps}: must be >= 1")
    if a.replays < 1:
        raise Usage(f"--replays {a.replays}: must be >= 1")
    if a.attempts < 1:
        raise Usage(f"--attempts {a.attempts}: must be >= 1")
    if not 576 <= a.mtu <= 65535:
        raise Usage(f"--mtu {a.mtu}: must be between 576 and 65535")
    if a.buffer < a.mtu + ETHERNET_HEADER:
        raise Usage(f"--buffer {a.buffer}: must hold at least one frame ({a.mtu + 14} B)")
    if not (a.mu > 0 and a.alpha >= 0):
        raise Usage("--mu must be > 0 and --alpha >= 0")
    if not re.fullmatch(r"[a-z0-9_]+", a.cc):
        raise Usage(f"--cc {a.cc!r}: must be a congestion control's name (cubic, reno)")
    from pssim.units import parse_duration

    try:
        burst = parse_duration("burst", a.burst)
    except ConfigError as err:
        raise Usage(f"--burst {a.burst!r}: {err.allowed}") from None
    if not 0 < burst < 1:
        raise Usage(f"--burst {a.burst!r}: must be between 0 and 1 s")
    return Options(int_list("workers", a.workers), int_list("load", a.load), bandwidths,
                   [parse_size(t) for t in a.size.split(",") if t.strip()], schemes,
                   a.reps, a.mu, a.alpha, a.seed, a.buffer, a.mtu, a.cc, Path(a.out),
                   a.max_load, burst, a.replays, a.attempts,
                   dict(zip(bandwidths, bw_texts, strict=True)))


def parse_rescore(argv: Sequence[str]) -> tuple[Path, float | None]:
    """``--records FOLDER [--out OUT] [--base-rtt 20us]``'s options."""
    p = _Parser(prog="validate_tcp.py --records FOLDER")
    p.add_argument("--out", default="results/validation-rescored")
    p.add_argument("--base-rtt", default=None,
                   help="the testbed's base round trip, if its settings.json has none")
    a = p.parse_args(list(argv))
    rtt = None
    if a.base_rtt is not None:
        from pssim.errors import ConfigError
        from pssim.units import parse_duration

        try:
            rtt = parse_duration("base_rtt", a.base_rtt)
        except ConfigError as err:
            raise Usage(f"--base-rtt {a.base_rtt!r}: {err.allowed}") from None
        if not 0 <= rtt < 1:
            raise Usage(f"--base-rtt {a.base_rtt!r}: must be between 0 and 1 s")
    return Path(a.out), rtt


def missing_prerequisite(path: str | None = None) -> str | None:
    """What stops the harness from running here (root, ip, tc), or None."""
    if os.geteuid() != 0:
        return "validate_tcp.py needs root (network namespaces and tc); run it with sudo"
    gone = [tool for tool in ("ip", "tc") if shutil.which(tool, path=path) is None]
    if gone:
        return f"validate_tcp.py needs {' and '.join(gone)} (iproute2) on PATH"
    return None


# --------------------------------------------------------------------------- agents
# Each agent is a process inside the namespace that reads one JSON command per line on
# stdin and answers one JSON line on stdout; the master and the senders are separate
# processes so that neither's GIL delays the other's timestamps.


def _reply(out: IO[str], **values: Any) -> None:
    out.write(json.dumps(values) + "\n")
    out.flush()


def _sysctls() -> dict[str, str]:
    values = {}
    for p in sorted(Path("/proc/sys/net/ipv4").glob("tcp_*")):
        with contextlib.suppress(OSError):
            values[p.name] = " ".join(p.read_text().split())
    for p in sorted(Path("/proc/sys/net/core").glob("[rw]mem_*")):
        with contextlib.suppress(OSError):
            values["core." + p.name] = p.read_text().strip()
    for p in sorted(Path("/sys/module/tcp_cubic/parameters").glob("*")):
        with contextlib.suppress(OSError):
            values["cubic." + p.name] = p.read_text().strip()
    return values


def master_agent() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(4096)
    listener.settimeout(10.0)
    _reply(sys.stdout, ok="listening", sysctl=_sysctls())
    buf = bytearray(1 << 22)
    view = memoryview(buf)
    for line in sys.stdin:
        cmd = json.loads(line)
        ports = {int(k): v for k, v in cmd["ports"].items()}  # peer port → worker
        counts, size = cmd["messages"], cmd["size"]
        labels, threshold = cmd["labels"], cmd["threshold"]
        conns: dict[int, socket.socket] = {}
        while len(conns) < len(ports):
            conn, peer = listener.accept()
            conns[ports[peer[1]]] = conn
        _reply(sys.stdout, ok="accepted")
        deadline = time.perf_counter() + cmd["timeout"]
        sel = selectors.DefaultSelector()
        for w, c in conns.items():
            c.setblocking(False)
            sel.register(c, selectors.EVENT_READ, w)
        got = dict.fromkeys(conns, 0)
        arrivals: list[list[float | None]] = [[None] * m for m in counts]
        seen: set[int] = set()
        decoded, open_ = False, len(conns)
        while not decoded and open_ and time.perf_counter() < deadline:
            for key, _ in sel.select(timeout=0.05):
                w = key.data
                try:
                    n = key.fileobj.recv_into(view)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                now = time.perf_counter()
                if n == 0:
                    sel.unregister(key.fileobj)
                    open_ -= 1
                    continue
                before, got[w] = got[w], got[w] + n
                # Message j (0-based) is whole when the count crosses (j+1)·S.
                for j in range(before // size, min(got[w] // size, counts[w])):
                    arrivals[w][j] = now
                    seen.add(labels[w][j])
                if len(seen) >= threshold:
                    decoded = True
        sel.close()
        for c in conns.values():
            # Unread data makes close send a RST, which stops the senders at once.
            c.close()
        _reply(sys.stdout, arrivals=arrivals, decoded=decoded)


def _send_messages(sock: socket.socket, payload: memoryview, t0: float, ready: list[float],
                   started: list[float | None], stop: threading.Event) -> None:
    """One worker: each message written whole, not before its ready instant; the socket
    serializes them as a worker's uplink would."""
    for j, at in enumerate(ready):
        if stop.wait(max(0.0, t0 + at - time.perf_counter())):
            return
        started[j] = time.perf_counter()
        try:
            sock.sendall(payload)
        except OSError:  # the master decoded and reset the connection
            return


def sender_agent() -> None:
    socks: list[socket.socket] = []
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            socks = []
            for _ in range(cmd["workers"]):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cmd["cc"].encode())
                s.connect(("127.0.0.1", PORT))
                socks.append(s)
            cc = socks[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
            _reply(sys.stdout, ports=[s.getsockname()[1] for s in socks],
                   cc=cc.split(b"\0")[0].decode(),
                   mss=socks[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG),
                   sndbuf=socks[0].getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
        elif cmd["cmd"] == "go":
            stop = threading.Event()
            payload = memoryview(bytes(cmd["size"]))
            t0, ready = cmd["t0"], cmd["ready"]
            started: list[list[float | None]] = [[None] * len(r) for r in ready]

            threads = [threading.Thread(target=_send_messages,
                                        args=(socks[w], payload, t0, ready[w], started[w],
                                              stop))
                       for w in range(len(socks))]
            for t in threads:
                t.start()
            sys.stdin.readline()  # "stop": the master has its T
            stop.set()
            for s in socks:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            for t in threads:
                t.join()
            for s in socks:
                s.close()
            _reply(sys.stdout, started=started)


# --------------------------------------------------------------------------- namespace

#: Per replay, the namespace's TCP counters that tell how its senders met losses: the
#: table's name and the kernel's (group and field of /proc/net/netstat or snmp).
TCP_COUNTERS = {"retransmitted": "TcpRetransSegs", "timeouts": "TcpExtTCPTimeouts",
                "loss_probes": "TcpExtTCPLossProbes",
                "recoveries": "TcpExtTCPSackRecovery",
                "lost_retransmits": "TcpExtTCPLostRetransmit"}


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def tcp_counters(text: str) -> dict[str, int]:
    """:data:`TCP_COUNTERS` from the text of /proc/net/netstat and /proc/net/snmp, where
    each group is a line of names and a line of values, both led by "Group:"."""
    values: dict[str, int] = {}
    lines = text.splitlines()
    for names, numbers in zip(lines[::2], lines[1::2], strict=False):
        group, _, keys = names.partition(":")
        for key, value in zip(keys.split(), numbers.partition(":")[2].split(), strict=True):
            values[f"{group}{key}"] = int(value)
    return {name: values[source] for name, source in TCP_COUNTERS.items()}


class _Agent:
    def __init__(self, ns: str, role: str) -> None:
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, str(Path(__file__).resolve()),
             "--agent", role], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            start_new_session=True)  # Ctrl-C reaches the driver, which stops the agents

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"agent exited with code {self.proc.wait()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


#: One-byte exchanges on loopback, printed as their median round trip in seconds.
_PING_PONG = """
import socket, statistics, threading, time
srv = socket.socket()
srv.bind(("127.0.0.1", {port}))
srv.listen(1)
def echo():
    c, _ = srv.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while b := c.recv(64):
        c.sendall(b)
threading.Thread(target=echo, daemon=True).start()
s = socket.create_connection(("127.0.0.1", {port}))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rtts = []
for _ in range({rounds}):
    t = time.perf_counter()
    s.sendall(b"x")
    s.recv(64)
    rtts.append(time.perf_counter() - t)
print(statistics.median(rtts))
"""


def _raise_on_term(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class Testbed:
    """A namespace with its shaped loopback and the two agents."""

    ns: str
    mtu: int
    buffer: int
    cc: str
    ifb: str = "pvifb0"
    master: _Agent | None = None
    sender: _Agent | None = None
    rate: float = 0.0
    shaper: str = "tbf"
    burst_time: float = 0.005
    burst_bytes: int = 0
    #: Half the base round trip (seconds), measured at setup.
    latency: float = 0.0
    sysctl: dict[str, str] = field(default_factory=dict)
    socket_info: dict[str, Any] = field(default_factory=dict)

    def tc(self, *args: str) -> str:
        return _run("tc", "-n", self.ns, *args)

    def base_rtt(self, rounds: int = 300) -> float:
        """The namespace's round trip without the bottleneck: the median of ``rounds``
        one-byte exchanges on an unshaped port (seconds), which every model is given as
        twice its latency."""
        out = _run("ip", "netns", "exec", self.ns, sys.executable, "-c",
                   _PING_PONG.format(port=PORT + 1, rounds=rounds))
        return float(out.strip())

    def setup(self) -> None:
        _run("ip", "netns", "add", self.ns)
        ip = ("ip", "-n", self.ns, "link", "set")
        _run(*ip, "lo", "up", "mtu", str(self.mtu))
        # Wire-sized skbs: no GSO super-packets for the qdisc to count as one.
        _run(*ip, "lo", "gso_max_size", str(self.mtu), "gro_max_size", str(self.mtu))
        _run("ip", "-n", self.ns, "link", "add", self.ifb, "type", "ifb")
        _run(*ip, self.ifb, "up", "mtu", str(self.mtu))
        # Ingress: the queue sits after lo's transmit, which orphans the skb, so the bytes
        # waiting at the bottleneck do not count against the sender's TCP Small Queues
        # limit, as at a switch port. Only segments to the master's port are shaped; ACKs
        # go back unshaped.
        self.tc("qdisc", "add", "dev", "lo", "handle", "ffff:", "ingress")
        self.tc("filter", "add", "dev", "lo", "parent", "ffff:", "protocol", "ip", "prio",
                "1", "u32", "match", "ip", "dport", str(PORT), "0xffff", "action", "mirred",
                "egress", "redirect", "dev", self.ifb)
        self.master = _Agent(self.ns, "master")
        hello = self.master.read()
        self.sysctl = hello["sysctl"]
        self.sender = _Agent(self.ns, "sender")

    def shape(self, rate: float) -> None:
        """The master's port at ``rate`` bytes/s on the wire, tail drop at ``buffer``."""
        if rate == self.rate:
            return
        with contextlib.suppress(RuntimeError):
            self.tc("qdisc", "del", "dev", self.ifb, "root")
        bits = f"{round(rate * 8)}bit"
        frame = self.mtu + ETHERNET_HEADER
        # A bucket of `burst_time` at the rate (at least a few frames), so that the shaper
        # sends back to back at the rate instead of stalling on its timer's resolution.
        self.burst_bytes = max(4 * frame, int(rate * self.burst_time))
        burst = str(self.burst_bytes)
        if self.shaper == "tbf":
            self.tc("qdisc", "add", "dev", self.ifb, "root", "handle", "1:", "tbf",
                    "rate", bits, "burst", burst, "limit", str(self.buffer))
        else:
            # One class: the quantum sets only its dequeue granularity (one frame).
            self.tc("qdisc", "add", "dev", self.ifb, "root", "handle", "1:", "htb",
                    "default", "1")
            self.tc("class", "add", "dev", self.ifb, "parent", "1:", "classid", "1:1",
                    "htb", "rate", bits, "ceil", bits, "burst", burst, "cburst", burst,
                    "quantum", str(frame))
            self.tc("qdisc", "add", "dev", self.ifb, "parent", "1:1", "handle", "10:",
                    "bfifo", "limit", str(self.buffer))
        self.rate = rate

    def counters(self) -> dict[str, int]:
        """The root qdisc's sent bytes, packets, drops (its queue's tail drops, which it
        counts as its own) and backlog."""
        # JSON: the text output rounds the backlog to "23Kb".
        root = json.loads(self.tc("-s", "-j", "qdisc", "show", "dev", self.ifb))[0]
        return {"bytes": int(root["bytes"]), "packets": int(root["packets"]),
                "drops": int(root["drops"]), "backlog": int(root["backlog"])}

    def tcp_counters(self) -> dict[str, int]:
        """The namespace's own TCP counters (its /proc/net/netstat and snmp) that tell how
        the senders recovered from losses: segments sent again, timeouts, loss probes,
        recoveries."""
        return tcp_counters(_run("ip", "netns", "exec", self.ns, "cat", "/proc/net/netstat",
                                 "/proc/net/snmp"))

    def drain(self) -> None:
        """Wait until the bottleneck queue is empty (the last realization's leftovers)."""
        end = time.monotonic() + 10
        while time.monotonic() < end and self.counters()["backlog"] > 0:
            time.sleep(0.01)
        time.sleep(0.005)

    def replay(self, ready: np.ndarray, size: int, labels: np.ndarray, threshold: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """One realization on fresh connections: ready (workers, messages) seconds from
        t0. Returns (arrivals, send starts), seconds from t0, inf where none."""
        assert self.master and self.sender
        workers = ready.shape[0]
        # The kernel caches a destination's RTT (tcp_no_metrics_save = 0), which seeds a
        # new connection's RTO: forgotten, so that realizations stay independent.
        _run("ip", "-n", self.ns, "tcp_metrics", "flush", "all")
        self.sender.send(cmd="connect", workers=workers, cc=self.cc)
        info = self.sender.read()
        self.socket_info = {k: info[k] for k in ("cc", "mss", "sndbuf")}
        bound = wire_bytes(size * ready.size, self.mtu) / self.rate
        self.master.send(ports={str(p): w for w, p in enumerate(info["ports"])},
                         messages=[ready.shape[1]] * workers, size=size,
                         labels=labels.tolist(), threshold=threshold,
                         timeout=float(ready.max()) + 4 * bound + 10.0)
        assert self.master.read()["ok"] == "accepted"
        time.sleep(SETTLE)
        t0 = time.perf_counter() + 0.01
        self.sender.send(cmd="go", t0=t0, size=size, ready=ready.tolist())
        result = self.master.read()
        self.sender.send(cmd="stop")
        started = self.sender.read()["started"]

        def rel(rows: list[list[float | None]]) -> np.ndarray:
            return np.array([[math.inf if v is None else v - t0 for v in r] for r in rows])

        self.drain()
        return rel(result["arrivals"]), rel(started)

    def teardown(self) -> None:
        for agent in (self.sender, self.master):
            if agent is not None:
                agent.close()
        subprocess.run(["ip", "netns", "delete", self.ns], capture_output=True)


@contextlib.contextmanager
def testbed(mtu: int, buffer: int, cc: str, burst: float = 0.005) -> Iterator[Testbed]:
    """A fresh namespace, deleted on the way out whatever happens (SIGTERM included)."""
    previous = signal.signal(signal.SIGTERM, _raise_on_term)
    bed = Testbed(f"pssim-val-{os.getpid()}-{secrets.token_hex(4)}", mtu, buffer, cc,
                  burst_time=burst)
    try:
        bed.setup()
        yield bed
    finally:
        bed.teardown()
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- self-checks


def self_checks(bed: Testbed, rate: float, sizes: Sequence[int]) -> dict[str, Any]:
    """(a) bulk goodput against rate·(mtu−52)/(mtu+14); (b) one message per size on a
    fresh connection against its wire time size·(mtu+14)/(mtu−52)/rate."""
    bed.shape(rate)
    ideal = rate * (bed.mtu - TCP_IP_HEADERS) / (bed.mtu + ETHERNET_HEADER)
    chunk = 1 << 18
    chunks = max(8, int(1.5 * ideal / chunk))  # about 1.5 s of transfer
    ready = np.zeros((1, chunks))
    arr, _ = bed.replay(ready, chunk, np.arange(chunks)[None, :], chunks)
    # Skip the first quarter: slow start and the queue filling are not the steady rate.
    first = chunks // 4
    goodput = chunk * (chunks - 1 - first) / (arr[0, -1] - arr[0, first])
    error = float(goodput / ideal - 1)
    out: dict[str, Any] = {"rate": rate, "bulk_goodput": float(goodput),
                           "bulk_ideal": ideal, "bulk_error": error,
                           "bulk_ok": bool(abs(error) <= GOODPUT_TOLERANCE),
                           "single": []}
    for size in sizes:
        arr, started = bed.replay(np.zeros((1, 1)), size, np.zeros((1, 1), int), 1)
        measured = float(arr[0, 0] - started[0, 0])
        wire = wire_bytes(size, bed.mtu) / rate
        # Loopback's RTT (tens of µs) is far below a frame's time at B, so ACKs return
        # before the bottleneck drains and slow start never leaves the link idle: the
        # ideal is the wire time, less the bucket that an idle link finds full.
        ideal = max(0.0, wire_bytes(size, bed.mtu) - bed.burst_bytes) / rate
        out["single"].append({"size": size, "measured": measured, "wire_time": wire,
                              "ideal_with_bucket": ideal, "ratio": measured / wire})
    return out


# --------------------------------------------------------------------------- cells


@dataclass
class Cell:
    workers: int
    load: int
    rate: float
    size: int

    def name(self, labels: dict[float, str]) -> str:
        return (f"N={self.workers} r={self.load} B={labels.get(self.rate, self.rate)} "
                f"S={self.size}")


def feasible_schemes(names: Sequence[str], workers: int, load: int
                     ) -> tuple[list[Any], list[str]]:
    """The scheme objects that can run at N, r, and notes on those that cannot."""
    from pssim.errors import ConfigError
    from pssim.schemes import make_scheme

    built, notes = [], []
    for name in names:
        try:
            built.append(make_scheme(name, workers, load))
        except ConfigError as err:
            notes.append(f"{name} skipped at N={workers}, r={load}: {err.allowed}")
    return built, notes


def model_times(schemes: Sequence[Any], cell: Cell, opt: Options, mtu: int,
                buffer: int, burst: float = 0.0, latency: float = 0.0
                ) -> dict[str, dict[str, np.ndarray]]:
    """Per discipline and scheme label, pssim's completion time of each rep. Every
    network has the testbed's ``latency`` (half its base round trip); fifo and fair get
    B as a user states it; tcp gets the testbed's link as it is: its MTU, its queue and
    the shaper's token bucket of ``burst`` bytes."""
    import pssim
    from pssim import network as networks

    out: dict[str, dict[str, np.ndarray]] = {}
    for name in networks.names():
        options: dict[str, Any] = {"network": name}
        if name == "tcp":
            options["network"] = networks.Tcp(master_bandwidth=cell.rate,
                                              message_size=cell.size, mtu=mtu,
                                              buffer=buffer, burst=burst, latency=latency)
        elif name != "none":
            options.update(message_size=cell.size, master_bandwidth=cell.rate,
                           latency=latency)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summary = pssim.run([s.label for s in schemes], workers=cell.workers,
                                load=cell.load, reps=opt.reps, seed=opt.seed, mu=opt.mu,
                                alpha=opt.alpha, **options)
        out[name] = {str(label): g.sort_values("rep")["completion_time"].to_numpy()
                     for label, g in summary.groupby("scheme")}
    return out


def cell_ready(schemes: Sequence[Any], cell: Cell, opt: Options) -> dict[str, np.ndarray]:
    """Per scheme label, the ready instants (reps, workers, messages) of pssim's run: the
    compute model's finish times (every message, also those after the network-none T),
    checked against the send_start events of pssim's none trace (those up to T)."""
    import pssim
    from pssim.api import configure, prepare

    cfg = configure([s.label for s in schemes], workers=cell.workers, load=cell.load,
                    reps=opt.reps, seed=opt.seed, mu=opt.mu, alpha=opt.alpha,
                    network="none", engine="des")
    finish = prepare(cfg).compute.finish_times(opt.seed, 0, opt.reps, cell.workers,
                                               cell.load)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trace = pssim.simulate(cfg, trace=True).trace
    assert trace is not None
    out = {}
    for s in schemes:
        ready = ready_instants(finish, s.group)
        sends = trace[(trace.scheme == s.label) & (trace.event == "send_start")]
        expected = ready[sends.rep.to_numpy(), sends.worker.to_numpy().astype(int),
                         sends.message.to_numpy().astype(int) - 1]
        if not np.array_equal(expected, sends.time.to_numpy()):
            raise RuntimeError(f"{s.label}: ready instants disagree with pssim's trace")
        out[s.label] = ready
    return out


def run_cell(bed: Testbed, cell: Cell, schemes: Sequence[Any], opt: Options
             ) -> tuple[list[dict[str, Any]], pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Replay every scheme's realizations of a cell: rows of the table, the raw records,
    each replay's T and TCP counters, and the cell's load, drops and checks."""
    bed.shape(cell.rate)
    ready = cell_ready(schemes, cell, opt)
    began = time.monotonic()
    models = model_times(schemes, cell, opt, bed.mtu, bed.buffer, bed.burst_bytes,
                         bed.latency)
    # A cell can take many minutes: a line per stage, so that a run shows it is alive.
    print(f"  models: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    drops_before = bed.counters()["drops"]
    kernel: dict[str, np.ndarray] = {}
    late_by: dict[str, np.ndarray] = {}
    records = []
    replays: list[dict[str, Any]] = []
    low = []
    retried = 0
    for s in schemes:
        labels = s.labels()
        times = np.empty((opt.reps, opt.replays))
        lates = np.empty((opt.reps, opt.replays))
        for rep in range(opt.reps):
            r = ready[s.label][rep]
            for again in range(opt.replays):
                best: tuple[float, float, np.ndarray, np.ndarray, dict[str, int]] | None = None
                tries = 0
                while tries < opt.attempts:
                    tries += 1
                    before = bed.tcp_counters()
                    arr, started = bed.replay(r, cell.size, labels, s.threshold)
                    after = bed.tcp_counters()
                    t = completion_from_arrivals(arr, labels, s.threshold)
                    late = lateness(r, started, t)
                    if best is None or late < best[0]:
                        best = (late, t, arr, started,
                                {k: after[k] - before[k] for k in TCP_COUNTERS})
                    if not disturbed(late, t):
                        break
                assert best is not None
                late, t, arr, started, losses = best
                replays.append({"scheme": s.label, "rep": rep, "replay": again, "t": t,
                                "late": late, **losses})
                retried += tries > 1
                times[rep, again] = t
                lates[rep, again] = late
                got = np.isfinite(arr) & (arr <= t)
                # Bound: what arrived by T must have crossed the link after the first
                # ready instant, less the shaper's bucket, which a fresh realization
                # finds full.
                bound = float(r.min()) + (wire_bytes(cell.size * got.sum(), bed.mtu)
                                          - bed.burst_bytes) / cell.rate
                if t < bound:
                    low.append(f"{s.label} rep {rep} replay {again}: T={t:.6f} < bound "
                               f"{bound:.6f}")
                for w in range(r.shape[0]):
                    for j in range(r.shape[1]):
                        records.append((s.label, rep, again, w, j + 1, r[w, j],
                                        started[w, j], arr[w, j]))
        kernel[s.label] = times
        late_by[s.label] = lates
        print(f"  {s.label}: {times.size} replays, kernel mean T {times.mean():.4f} s, "
              f"{time.monotonic() - began:.0f} s into the cell", file=sys.stderr, flush=True)
    load_after = os.getloadavg()[0]
    drops = bed.counters()["drops"] - drops_before
    rows = score(cell, schemes, models, kernel, late_by, drops,
                 max(load_before, load_after))
    raw = pd.DataFrame(records, columns=["scheme", "rep", "replay", "worker", "message",
                                         "ready", "sent", "arrival"])
    raw.insert(0, "workers", cell.workers)
    raw.insert(1, "load", cell.load)
    raw.insert(2, "bandwidth", cell.rate)
    raw.insert(3, "size", cell.size)
    counted = pd.DataFrame(replays)
    for i, (key, value) in enumerate((("workers", cell.workers), ("load", cell.load),
                                      ("bandwidth", cell.rate), ("size", cell.size))):
        counted.insert(i, key, value)
    return rows, raw, counted, {"loadavg": max(load_before, load_after),
                                "below_bound": low, "replays_tried_again": retried,
                                "drops": drops}


def score(cell: Cell, schemes: Sequence[Any], models: dict[str, dict[str, np.ndarray]],
          kernel: dict[str, np.ndarray], late: dict[str, np.ndarray], drops: int,
          loadavg: float) -> list[dict[str, Any]]:
    """The table's rows of a cell: per scheme and discipline, the median |error| and the
    bias of the model's T against the kernel's (reps, replays), the bias's standard error,
    the kernel against itself (nan with one replay), and how late the testbed began first
    messages: the most over the replays, and the number of replays it disturbed."""
    rows = []
    for s in schemes:
        floor_error, floor_bias = kernel_floor(kernel[s.label])
        late_max = float(late[s.label].max())
        upset = int(sum(disturbed(v, t) for v, t in zip(late[s.label].ravel(),
                                                        kernel[s.label].ravel(),
                                                        strict=True)))
        for disc, by_scheme in models.items():
            med, bias = errors(by_scheme[s.label], kernel[s.label])
            rows.append({"scheme": s.label, "workers": cell.workers, "load": cell.load,
                         "bandwidth": cell.rate, "size": cell.size, "discipline": disc,
                         "median_error": med,
                         "mean_error": mean_error(by_scheme[s.label], kernel[s.label]),
                         "bias": bias,
                         "bias_se": bias_se(by_scheme[s.label], kernel[s.label]),
                         "kernel_self_error": floor_error,
                         "kernel_self_bias": floor_bias,
                         "late_max": late_max, "disturbed": upset,
                         "kernel_mean": float(kernel[s.label].mean()),
                         "model_mean": float(by_scheme[s.label].mean()),
                         "drops": drops, "loadavg": loadavg})
    return rows


def rescore(folder: Path, out: Path, base_rtt: float | None) -> int:
    """The model side again, from a run's saved kernel records (``--records FOLDER``): no
    namespace, no root; for checking a changed model against the same kernel data."""
    for name in ("settings.json", "records.parquet"):
        if not (folder / name).is_file():
            raise Usage(f"--records {folder}: no {name} there (a folder that a run wrote)")
    settings = json.loads((folder / "settings.json").read_text())
    o = settings["options"]
    records = pd.read_parquet(folder / "records.parquet")
    rtt = base_rtt if base_rtt is not None else settings.get("base_rtt")
    if rtt is None:
        raise Usage(f"--records {folder}: its settings.json has no base_rtt: give --base-rtt")
    opt = parse_options(["--reps", o["reps"], "--mu", o["mu"], "--alpha", o["alpha"],
                         "--seed", o["seed"], "--mtu", o["mtu"], "--buffer", o["buffer"],
                         "--out", str(out)])
    drops = {c["cell"]: c.get("drops", 0) for c in settings["cells"]}
    labels = {float(k): v for k, v in ast.literal_eval(o["labels"]).items()}
    burst_time = float(o["burst"])
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    keys = ["workers", "load", "bandwidth", "size"]
    for (n, r, b, size), part in records.groupby(keys, sort=True):
        cell = Cell(int(n), int(r), float(b), int(size))
        schemes, _ = feasible_schemes(sorted(part["scheme"].unique()), cell.workers,
                                      cell.load)
        frame = opt.mtu + ETHERNET_HEADER
        burst = max(4 * frame, int(cell.rate * burst_time))
        print(f"{cell.name(labels)}", file=sys.stderr, flush=True)
        models = model_times(schemes, cell, opt, opt.mtu, opt.buffer, burst, rtt / 2)
        kernel, late_by = {}, {}
        for s in schemes:
            labels_s = s.labels()
            mine = part[part["scheme"] == s.label]
            if "replay" not in mine.columns:  # a run from before replays: one each
                mine = mine.assign(replay=0)
            replays = int(mine["replay"].max()) + 1
            times = np.empty((mine["rep"].nunique(), replays))
            lates = np.empty_like(times)
            for i, (_, by_rep) in enumerate(mine.groupby("rep", sort=True)):
                for again, g in by_rep.groupby("replay", sort=True):
                    where = g["worker"].to_numpy(), g["message"].to_numpy() - 1
                    arrivals, ready, started = (np.full(labels_s.shape, np.inf)
                                                for _ in range(3))
                    arrivals[where] = g["arrival"].to_numpy()
                    ready[where] = g["ready"].to_numpy()
                    started[where] = g["sent"].to_numpy()
                    t = completion_from_arrivals(arrivals, labels_s, s.threshold)
                    times[i, int(again)] = t
                    lates[i, int(again)] = lateness(ready, started, t)
            kernel[s.label] = times
            late_by[s.label] = lates
        rows += score(cell, schemes, models, kernel, late_by,
                      int(drops.get(cell.name(labels), 0)), math.nan)
    table = pd.DataFrame(rows)
    _write(table, out / "table.csv")
    _write(condensed(table), out / "condensed.csv")
    print(format_table(table, labels))
    return 0


def _write(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.suffix == ".parquet":
        frame.to_parquet(tmp, index=False)
    else:
        frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _write_json(data: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def format_table(table: pd.DataFrame, labels: dict[float, str]) -> str:
    t = table.copy()
    t["cell"] = [f"N={w} r={r} B={labels.get(b, f'{b:g}B/s')} S={s:.0f}" for w, r, b, s
                 in zip(t.workers, t.load, t.bandwidth, t["size"], strict=True)]
    t["median_error"] = t.median_error.map(lambda v: f"{100 * v:.1f}%")
    t["mean_error"] = t.mean_error.map(lambda v: f"{100 * v:.1f}%")
    t["bias"] = t.bias.map(lambda v: f"{100 * v:+.1f}%")
    t["bias_se"] = t.bias_se.map(lambda v: f"{100 * v:.1f}%")
    t["kernel_self_error"] = t.kernel_self_error.map(lambda v: f"{100 * v:.1f}%")
    t["kernel_mean"] = t.kernel_mean.map(lambda v: f"{v:.4f}")
    t["late_max"] = t.late_max.map(lambda v: f"{1e3 * v:.1f}ms")
    return t[["scheme", "cell", "discipline", "median_error", "mean_error", "bias", "bias_se",
              "kernel_self_error", "kernel_mean", "drops", "late_max", "disturbed",
              "loadavg"]].to_string(index=False)


def condensed(table: pd.DataFrame) -> pd.DataFrame:
    """Per cell and discipline: the median over schemes of the median error and of the
    error against the replays' mean, the range of the bias over schemes, and the cell's
    drops."""
    keys = ["workers", "load", "bandwidth", "size", "discipline"]
    g = table.groupby(keys, sort=True)
    out = g.agg(median_error=("median_error", "median"),
                mean_error=("mean_error", "median"), bias_min=("bias", "min"),
                bias_max=("bias", "max"), kernel_mean=("kernel_mean", "mean"),
                kernel_self_error=("kernel_self_error", "median"),
                disturbed=("disturbed", "sum"),
                drops=("drops", "first"), schemes=("scheme", "nunique"))
    return out.reset_index()


def measure(opt: Options) -> int:
    def note(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    opt.out.mkdir(parents=True, exist_ok=True)
    cells = [Cell(n, r, b, s) for n in opt.workers for r in opt.loads
             for b in opt.bandwidths for s in opt.sizes]
    rows: list[dict[str, Any]] = []
    raws: list[pd.DataFrame] = []
    counts: list[pd.DataFrame] = []
    import pssim
    from pssim import provenance

    # Which pssim the model side ran: the harness may run against a snapshot (PYTHONPATH).
    meta: dict[str, Any] = {"options": {k: str(v) for k, v in vars(opt).items()},
                            "pssim": {"path": pssim.__file__, **provenance.stamp()},
                            "cells": []}
    with testbed(opt.mtu, opt.buffer, opt.cc, opt.burst) as bed:
        meta["namespace"] = bed.ns
        meta["sysctl"] = bed.sysctl
        meta["base_rtt"] = bed.base_rtt()
        bed.latency = meta["base_rtt"] / 2
        note(f"base round trip (unshaped, median of 300): {meta['base_rtt'] * 1e6:.1f} µs")
        checks = []
        for b in opt.bandwidths:
            c = self_checks(bed, b, opt.sizes)
            checks.append(c)
            note(f"self-check B={opt.labels.get(b, b)}: bulk goodput "
                 f"{c['bulk_goodput'] * 8e-6:.2f} Mbit/s, ideal B·(mtu−52)/(mtu+14) = "
                 f"{c['bulk_ideal'] * 8e-6:.2f} ({100 * c['bulk_error']:+.2f}%)")
            for one in c["single"]:
                note(f"  one message of {one['size']} B: {one['measured'] * 1e3:.3f} ms, "
                     f"wire time {one['wire_time'] * 1e3:.3f} ms (×{one['ratio']:.3f}), "
                     f"less the full bucket {one['ideal_with_bucket'] * 1e3:.3f} ms")
        meta["self_checks"] = checks
        meta["socket"] = bed.socket_info
        note(f"congestion control (getsockopt): {bed.socket_info.get('cc')}, "
             f"mss {bed.socket_info.get('mss')}")
        _write_json(meta, opt.out / "settings.json")
        if not all(c["bulk_ok"] for c in checks):
            note(f"self-check failed: bulk goodput off by more than "
                 f"{100 * GOODPUT_TOLERANCE:g}% of B·(mtu−52)/(mtu+14)")
            return 1
        for i, cell in enumerate(cells, 1):
            schemes, skipped = feasible_schemes(opt.schemes, cell.workers, cell.load)
            for s in skipped:
                note(f"note: {s}")
            note(f"cell {i} of {len(cells)}: {cell.name(opt.labels)} "
                 f"({len(schemes)} schemes × {opt.reps} reps × {opt.replays} replays)")
            if not schemes:
                continue
            got = run_cell(bed, cell, schemes, opt)
            if got[3]["loadavg"] > opt.max_load or got[3]["below_bound"]:
                note(f"  repeating the cell once: load {got[3]['loadavg']:.2f}, "
                     f"below bound: {got[3]['below_bound']}")
                first = got[3]
                got = run_cell(bed, cell, schemes, opt)
                got[3]["repeated_after"] = first
            cell_rows, raw, counted, info = got
            meta["cells"].append({"cell": cell.name(opt.labels), **info})
            rows += cell_rows
            raws.append(raw)
            counts.append(counted)
            table = pd.DataFrame(rows)
            _write(table, opt.out / "table.csv")
            _write(pd.concat(raws, ignore_index=True), opt.out / "records.parquet")
            _write(pd.concat(counts, ignore_index=True), opt.out / "replays.parquet")
            _write_json(meta, opt.out / "settings.json")
    if rows:
        print(format_table(pd.DataFrame(rows), opt.labels))
        short = condensed(pd.DataFrame(rows))
        _write(short, opt.out / "condensed.csv")
        print(short.to_string(index=False))
    note(f"wrote {opt.out / 'table.csv'}, {opt.out / 'records.parquet'}, "
         f"{opt.out / 'replays.parquet'}, {opt.out / 'settings.json'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--agent"]:
        # The driver's Ctrl-C stops the agents through their stdin and terminate().
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        {"master": master_agent, "sender": sender_agent}[argv[1]]()
        return 0
    if argv[:1] == ["--records"]:
        try:
            if len(argv) < 2:
                raise Usage("--records needs a folder of a previous run")
            rest = parse_rescore(argv[2:])
            return rescore(Path(argv[1]), *rest)
        except Usage as err:
            print(f"validate_tcp.py: {err}", file=sys.stderr)
            return 2
    try:
        opt = parse_options(argv)
        missing = missing_prerequisite()
        if missing:
            raise Usage(missing)
    except Usage as err:
        print(f"validate_tcp.py: {err}", file=sys.stderr)
        return 2
    try:
        return measure(opt)
    except KeyboardInterrupt:
        print("validate_tcp.py: interrupted; namespace deleted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
