"""The network between the workers and the master (DESIGN 1.4)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pssim.errors import ConfigError
from pssim.units import parse_bandwidth, parse_duration, parse_size

NetworkKind = Literal["none", "fifo", "fair"]
NETWORK_KINDS: tuple[str, ...] = ("none", "fifo", "fair")


@dataclass(frozen=True)
class Network:
    """How messages reach the master.

    ``none``: received the instant they are ready (the paper's model). ``fifo``:
    store-and-forward through the worker's uplink, then ``latency``, then the master's
    shared link in order of arrival. ``fair``: flows share the master's link max-min
    fairly, each capped at its worker's uplink. Sizes are bytes, bandwidths bytes/s,
    times seconds.
    """

    kind: NetworkKind = "none"
    uplink_bandwidth: float = math.inf
    master_bandwidth: float = math.inf
    latency: float = 0.0
    message_size: float | None = None

    @classmethod
    def build(cls, kind: str = "none", *, uplink_bandwidth: Any = math.inf,
              master_bandwidth: Any = math.inf, latency: Any = 0.0,
              message_size: Any = None) -> Network:
        """Validate and convert the parameters (numbers or strings with units)."""
        if kind not in NETWORK_KINDS:
            raise ConfigError("network", kind, f"must be one of {', '.join(NETWORK_KINDS)}")
        up = bandwidth("uplink_bandwidth", uplink_bandwidth)
        master = bandwidth("master_bandwidth", master_bandwidth)
        lat = delay("latency", latency)
        size = None if message_size is None else nbytes("message_size", message_size)
        if size is None and kind != "none":
            raise ConfigError("message_size", None,
                              f"is required with network {kind!r}: the bytes of one message")
        return cls(kind, up, master, lat, size)  # type: ignore[arg-type]

    @property
    def uplink_time(self) -> float:
        """Seconds one message occupies a worker's uplink."""
        return 0.0 if self.message_size is None else self.message_size / self.uplink_bandwidth

    @property
    def master_time(self) -> float:
        """Seconds one message occupies the master's link under ``fifo``."""
        return 0.0 if self.message_size is None else self.message_size / self.master_bandwidth

    def parameters(self) -> dict[str, Any]:
        return {"network": self.kind, "uplink_bandwidth": self.uplink_bandwidth,
                "master_bandwidth": self.master_bandwidth, "latency": self.latency,
                "message_size": math.nan if self.message_size is None else self.message_size}


def bandwidth(parameter: str, value: Any) -> float:
    """Bytes/s > 0 (∞ allowed) from a number or a string with a unit."""
    b = parse_bandwidth(parameter, value)
    if not b > 0:  # also rejects NaN
        raise ConfigError(parameter, value, "must be a bandwidth > 0 bytes/s (inf allowed)")
    return b


def delay(parameter: str, value: Any) -> float:
    """Finite seconds >= 0 from a number or a string with a unit."""
    t = parse_duration(parameter, value)
    if not (math.isfinite(t) and t >= 0):
        raise ConfigError(parameter, value, "must be a finite time >= 0 seconds")
    return t


def nbytes(parameter: str, value: Any) -> float:
    """Finite bytes > 0 from a number or a string with a unit."""
    size = parse_size(parameter, value)
    if not (math.isfinite(size) and size > 0):
        raise ConfigError(parameter, value, "must be a finite size > 0 bytes")
    return size
