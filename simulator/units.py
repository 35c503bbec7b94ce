"""Quantities with units: bytes, bytes per second and seconds, from numbers or strings."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from pssim.errors import ConfigError

_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}

# Lower-case "b" means bits, "B" bytes, as in network practice ("10Gbps", "1.25GB/s").
_SIZE_UNITS = {f"{p}{u}": f * (0.125 if u == "b" else 1.0)
               for p, f in _PREFIX.items() for u in ("B", "b")}
_BANDWIDTH_UNITS = {
    **{f"{p}bps": f / 8 for p, f in _PREFIX.items()},
    **{f"{p}B/s": f for p, f in _PREFIX.items()},
    **{f"{p}b/s": f / 8 for p, f in _PREFIX.items()},
}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf)\s*(\S*)\s*$")


def _parse(parameter: str, value: Any, units: dict[str, float], kind: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(parameter, value, f"must be {kind}")
    if isinstance(value, numbers.Real):  # numpy scalars too
        return float(value)
    if isinstance(value, str):
        m = _QUANTITY.match(value)
        if m:
            number, unit = m.groups()
            if unit == "":
                return float(number)
            if unit in units:
                return float(number) * units[unit]
        raise ConfigError(parameter, value, f"must be {kind}")
    raise ConfigError(parameter, value, f"must be {kind}")


def parse_size(parameter: str, value: Any) -> float:
    """Bytes from a number (bytes) or a string such as ``"4MiB"``, ``"4MB"`` or ``"32Mb"``."""
    return _parse(parameter, value, _SIZE_UNITS,
                  "a size in bytes: a number, or a number with a unit "
                  "B, kB, MB, GB, TB, KiB, MiB, GiB, TiB (bytes) or b, kb, Mb, Gb, Tb (bits)")


def parse_bandwidth(parameter: str, value: Any) -> float:
    """Bytes per second from a number or a string such as ``"10Gbps"`` or ``"1.25GB/s"``."""
    return _parse(parameter, value, _BANDWIDTH_UNITS,
                  "a bandwidth in bytes/s: a number, or a number with a unit "
                  "bps, kbps, Mbps, Gbps, Tbps (bits/s) or B/s, kB/s, MB/s, GB/s, TB/s, "
                  "KiB/s, MiB/s, GiB/s (bytes/s)")


def parse_duration(parameter: str, value: Any) -> float:
    """Seconds from a number or a string such as ``"50us"`` or ``"2ms"``."""
    return _parse(parameter, value, _TIME_UNITS,
                  "a time in seconds: a number, or a number with a unit s, ms, us, ns")


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
