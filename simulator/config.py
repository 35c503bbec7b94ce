"""The configuration of a run: one frozen, validated object (docs/model.md, "Configuration").

Every parameter is a field here, with its validation; its default, help text and kind are
plain data in :mod:`pssim.fields` (which the command line reads without importing pydantic).
The Python API (``simulate``, ``run``), the command line's options, the sweep file's schema
and the saved ``config.json`` all derive from these two, so a new parameter is one more
field and one more entry.
Fields hold plain values (names, numbers, paths); which scheme, compute model or network
discipline a name stands for is resolved by the layers above, through their registries.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from pssim.errors import ConfigError, finite, integer
from pssim.fields import SPECS
from pssim.units import bandwidth, delay, nbytes

#: The largest seed: the summary's seed column is int64.
MAX_SEED = 2**63 - 1

ENGINES = ("auto", "des", "vectorized", "analytic")
GRANULARITIES = ("per_iteration", "per_computation")


def _checked(check: Any) -> Any:
    # The field's own name is not known to a BeforeValidator; ``info.field_name`` is.
    def validate(value: Any, info: Any) -> Any:
        return check(info.field_name, value)

    return BeforeValidator(validate)


def _count(low: int, high: int | None = None) -> Any:
    return _checked(lambda name, v: integer(name, v, low=low, high=high))


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else integer(name, value, low=1)


def _column_count(name: str, value: Any) -> int | None:
    # A summary column (int64): refused where it enters, not after the run.
    return None if value is None else integer(name, value, low=1, high=MAX_SEED)


def _tolerance(name: str, value: Any) -> float:
    tau = finite(name, value, low=0.0)
    if tau >= 1:
        raise ConfigError(name, value, "must be in [0, 1)")
    return tau


def _names(name: str, value: Any) -> tuple[str, ...]:
    """Scheme names from a comma-separated string or a sequence of strings."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(s, str) for s in items):
        raise ConfigError(name, value, "must be a scheme name, a comma-separated list of "
                          "names, or a list of names")
    names = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    if not names:
        raise ConfigError(name, value, "must name at least one scheme (or all)")
    return names


def _choice(options: tuple[str, ...]) -> Any:
    def check(name: str, value: Any) -> str:
        if value not in options:
            raise ConfigError(name, value, f"must be one of {', '.join(options)}")
        return str(value)

    return check


def _field(name: str) -> Any:
    """The field ``name`` with its default and help text from :data:`pssim.fields.SPECS`."""
    return Field(SPECS[name].default, description=SPECS[name].help)


def _name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(name, value, "must be a name")
    return value.strip()


def _optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else finite(name, value, low=0.0, low_open=True)


def _speeds(name: str, value: Any) -> tuple[float, ...] | None:
    """Per-worker factors from a comma-separated string or a sequence of numbers."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    if hasattr(items, "tolist") and not isinstance(items, list | tuple):
        # A numpy array or a pandas Series: its numbers as Python's, and shown as a list.
        if getattr(items, "ndim", 1) != 1:
            raise ConfigError(name, items.tolist(), "must be a list of numbers >= 1, one "
                              "per worker (a 1-D array)")
        items = items.tolist()
    if not isinstance(items, list | tuple) or not items:
        raise ConfigError(name, value, "must be a list of numbers >= 1, one per worker")
    return tuple(finite(f"{name}[{i}]", v, low=1.0) for i, v in enumerate(items))


#: The keys of each slowdown table, in the order its short form ("0.1:3") gives them,
#: with what each allows (docs/model.md, "Straggler models").
TABLES: dict[str, dict[str, tuple[float, float | None]]] = {
    "persistent": {"fraction": (0.0, 1.0), "factor": (1.0, None)},
    "markov": {"p_slow": (0.0, 1.0), "p_recover": (0.0, 1.0), "factor": (1.0, None)},
    "shared": {"sigma": (0.0, None)},
    "groups": {"size": (1, None), "sigma": (0.0, None)},
}
#: The keys of slowdown tables that are counts (integers), not measurements.
COUNTS = {("groups", "size")}


def _table(name: str, value: Any) -> dict[str, float] | None:
    """A slowdown's parameters: a table with exactly its keys, or its short form, the
    values in order separated by colons ('0.05:0.3:4')."""
    if value is None:
        return None
    keys = TABLES[name]
    short = ":".join(k.upper() for k in keys)
    given = value
    if len(keys) == 1 and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # shared = 0.2: the short form, as a TOML number
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) != len(keys):
            raise ConfigError(name, value, f"must be {short} ({len(keys)} number(s) "
                              "separated by ':') or a table of " + ", ".join(keys))
        value = dict(zip(keys, parts, strict=True))
    if not isinstance(value, dict):
        raise ConfigError(name, value, f"must be {short} or a table of {', '.join(keys)}")
    unknown = [k for k in value if k not in keys]
    missing = [k for k in keys if k not in value]
    if unknown or missing:
        problem = (f"has the unknown key {unknown[0]}" if unknown
                   else f"lacks {', '.join(missing)}")
        raise ConfigError(name, value, f"{problem}; it must give exactly "
                          f"{', '.join(keys)}")
    out: dict[str, float] = {}
    for key, (low, high) in keys.items():
        if (name, key) in COUNTS:
            out[key] = integer(f"{name}.{key}", value[key], low=int(low))
            continue
        x = finite(f"{name}.{key}", value[key], low=low)
        if high is not None and x > high:
            raise ConfigError(f"{name}.{key}", value[key], f"must be in [{low:g}, {high:g}]")
        out[key] = x
    if name == "markov" and out["p_slow"] + out["p_recover"] == 0:
        raise ConfigError(name, given, "must have p_slow + p_recover > 0 (else the chain "
                          "has no stationary law)")
    return out


def _plugin(name: str, value: Any) -> Any:
    """A registered name, or an object of the layer above (a compute model, a network
    discipline) passed as it is."""
    if isinstance(value, str):
        return value.strip()
    if value is None or isinstance(value, bool | int | float):
        raise ConfigError(name, value, "must be a name or an object of its kind")
    return value


def _decode_time(name: str, value: Any) -> float | str:
    """Seconds (a number or a time with a unit), or ``model``: a cost computed from the
    learning problem by ``pssim train`` (docs/model.md, "Coded gradient descent")."""
    if isinstance(value, str) and value.strip().lower() == "model":
        return "model"
    try:
        return delay(name, value)
    except ConfigError as err:
        raise ConfigError(name, value, f"{err.allowed}, or model") from None


def _source(name: str, value: Any) -> Any:
    """A path to a file of durations, a table or a compute-model object, or None."""
    if value is None or isinstance(value, Path):
        return value
    if isinstance(value, str):
        return Path(value)
    if isinstance(value, bool | int | float):
        raise ConfigError(name, value, "must be a path to a CSV or Parquet file, a table "
                          "or a compute model")
    return value


class Config(BaseModel):
    """A run: schemes, compute model, network, realizations, seed and engine.

    Sizes are bytes, bandwidths bytes/s, times seconds; strings with units are accepted
    (``"10Gbps"``, ``"4MiB"``, ``"50us"``) and stored converted. Unknown fields and bad
    values raise :class:`~pssim.errors.ConfigError` naming the field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    scheme: Annotated[tuple[str, ...], _checked(_names)] = _field("scheme")
    workers: Annotated[int, _count(1)] = _field("workers")
    load: Annotated[int, _count(1)] = _field("load")
    polynomials: Annotated[int | None, _checked(_optional_count)] = _field("polynomials")
    pg_tolerance: Annotated[float, _checked(_tolerance)] = _field("pg_tolerance")
    mu: Annotated[float, _checked(
        lambda n, v: finite(n, v, low=0.0, low_open=True))] = _field("mu")
    alpha: Annotated[float, _checked(lambda n, v: finite(n, v, low=0.0))] = _field("alpha")
    family: Annotated[str, _checked(_name)] = _field("family")
    shape: Annotated[float | None, _checked(_optional_positive)] = _field("shape")
    rate: Annotated[float | None, _checked(_optional_positive)] = _field("rate")
    mu_log: Annotated[float | None, _checked(
        lambda n, v: None if v is None else finite(n, v))] = _field("mu_log")
    sigma_log: Annotated[float | None, _checked(_optional_positive)] = _field("sigma_log")
    scale: Annotated[float | None, _checked(_optional_positive)] = _field("scale")
    granularity: Annotated[str, _checked(_choice(GRANULARITIES))] = _field("granularity")
    speeds: Annotated[tuple[float, ...] | None, _checked(_speeds)] = _field("speeds")
    persistent: Annotated[dict[str, float] | None, _checked(_table)] = _field("persistent")
    markov: Annotated[dict[str, float] | None, _checked(_table)] = _field("markov")
    shared: Annotated[dict[str, float] | None, _checked(_table)] = _field("shared")
    groups: Annotated[dict[str, int | float] | None, _checked(_table)] = _field("groups")
    compute_times: Annotated[Any, _checked(_source)] = _field("compute_times")
    network: Annotated[Any, _checked(_plugin)] = _field("network")
    uplink_bandwidth: Annotated[float, _checked(bandwidth)] = _field("uplink_bandwidth")
    master_bandwidth: Annotated[float, _checked(bandwidth)] = _field("master_bandwidth")
    latency: Annotated[float, _checked(delay)] = _field("latency")
    message_size: Annotated[float | None, _checked(
        lambda n, v: None if v is None else nbytes(n, v))] = _field("message_size")
    mtu: Annotated[int, _checked(lambda n, v: integer(n, v, low=576, high=65536))] = _field("mtu")
    buffer: Annotated[float, _checked(nbytes)] = _field("buffer")
    iterations: Annotated[int, _count(1)] = _field("iterations")
    late_policy: Annotated[str, _checked(_choice(("cancel", "drain")))] = _field("late_policy")
    cancel_transfers: Annotated[str, _checked(_choice(("complete", "abort")))] = _field(
        "cancel_transfers")
    downlink: Annotated[str, _checked(_choice(("broadcast", "unicast")))] = _field("downlink")
    downlink_bandwidth: Annotated[float, _checked(bandwidth)] = _field("downlink_bandwidth")
    model_size: Annotated[float | None, _checked(
        lambda n, v: None if v is None else nbytes(n, v))] = _field("model_size")
    decode_time: Annotated[float | str, _checked(_decode_time)] = _field("decode_time")
    master_flops: Annotated[float, _checked(
        lambda n, v: finite(n, v, low=0.0, low_open=True))] = _field("master_flops")
    server: Annotated[str, _checked(lambda n, v: _name(n, v).lower())] = _field("server")
    server_k: Annotated[int | None, _checked(_column_count)] = _field("server_k")
    server_period: Annotated[int, _count(1, MAX_SEED)] = _field("server_period")
    reps: Annotated[int, _count(1)] = _field("reps")
    seed: Annotated[int, _count(0, MAX_SEED)] = _field("seed")
    engine: Annotated[str, _checked(_choice(ENGINES))] = _field("engine")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise _config_error(err) from None

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied and validated."""
        return Config(**{**self.fields(), **changes})

    def fields(self) -> dict[str, Any]:
        """The fields as given to the constructor (a shallow copy, values as stored)."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values, for ``config.json`` and Parquet metadata: ∞ as ``"inf"``,
        paths and objects as their text."""
        return {name: _plain(value) for name, value in self.fields().items()}


def check_field(name: str, value: Any) -> Any:
    """Validate one field alone (as a sweep file gives it); return the converted value."""
    if name not in Config.model_fields:
        raise ConfigError(name, value, f"is not a parameter; known: "
                          f"{', '.join(Config.model_fields)}")
    return getattr(Config(**{name: value}), name)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _config_error(err: ValidationError) -> ConfigError:
    """The first problem as a ConfigError: our own checks raise one already; pydantic's
    (an unknown field, say) are put in the same words."""
    first = err.errors()[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return cause
    name = ".".join(str(p) for p in first["loc"]) or "config"
    if first["type"] == "extra_forbidden":
        return ConfigError(name, first["input"], f"is not a parameter; known: "
                           f"{', '.join(Config.model_fields)}")
    return ConfigError(name, first.get("input"), first["msg"])
