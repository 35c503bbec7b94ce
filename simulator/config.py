"""The configuration of a run: one frozen, validated object (docs/model.md, "Configuration").

Every parameter is declared once, here, with its help text and unit. The Python API
(``simulate``, ``run``), the command line's options, the sweep file's schema and the saved
``config.json`` all derive from :class:`Config`, so a new parameter is one more field.
Fields hold plain values (names, numbers, paths); which scheme, compute model or network
discipline a name stands for is resolved by the layers above, through their registries.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.config import JsonDict

from pssim.errors import ConfigError, finite, integer
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


def _straggler(kind: str) -> JsonDict:
    """A field of the straggler model: a key of the [stragglers] table."""
    return {"kind": kind, "group": "stragglers"}


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

    scheme: Annotated[tuple[str, ...], _checked(_names)] = Field(
        ("all",), description="Scheme name, comma-separated list run on common random "
        "numbers, LCC(p), or 'all' (GC, LCC, LCC-MMC, LCC-MMC-2, UC-MMC, UC-MMC-PG).",
        json_schema_extra={"kind": "names"})
    workers: Annotated[int, _count(1)] = Field(
        40, description="Number of workers N.", json_schema_extra={"kind": "int"})
    load: Annotated[int, _count(1)] = Field(
        4, description="Computation load r per worker, 1..N.",
        json_schema_extra={"kind": "int"})
    polynomials: Annotated[int | None, _checked(_optional_count)] = Field(
        None, description="Polynomials p of the LCC family (must divide the load); default "
        "p = r.", json_schema_extra={"kind": "int"})
    pg_tolerance: Annotated[float, _checked(_tolerance)] = Field(
        0.05, description="UC-MMC-PG tolerance τ in [0, 1): it stops at ⌈(1−τ)N⌉ "
        "partitions.", json_schema_extra={"kind": "float"})
    mu: Annotated[float, _checked(lambda n, v: finite(n, v, low=0.0, low_open=True))] = Field(
        10.0, description="Straggling rate μ > 0 of the exponential family (1/seconds).",
        json_schema_extra=_straggler("float"))
    alpha: Annotated[float, _checked(lambda n, v: finite(n, v, low=0.0))] = Field(
        0.01, description="Minimum duration α >= 0 of one computation (seconds).",
        json_schema_extra=_straggler("float"))
    family: Annotated[str, _checked(_name)] = Field(
        "exponential", description="Straggler family of the random part Y of a duration "
        "X = (alpha + Y)·slowdowns: exponential (mu), gamma (shape, rate), lognormal "
        "(mu_log, sigma_log) or pareto (shape, scale).", json_schema_extra=_straggler("str"))
    shape: Annotated[float | None, _checked(_optional_positive)] = Field(
        None, description="Shape > 0 of the gamma or pareto family.",
        json_schema_extra=_straggler("float"))
    rate: Annotated[float | None, _checked(_optional_positive)] = Field(
        None, description="Rate > 0 of the gamma family (1/seconds).",
        json_schema_extra=_straggler("float"))
    mu_log: Annotated[float | None, _checked(
        lambda n, v: None if v is None else finite(n, v))] = Field(
        None, description="Mean of ln Y in the lognormal family (ln seconds).",
        json_schema_extra=_straggler("float"))
    sigma_log: Annotated[float | None, _checked(_optional_positive)] = Field(
        None, description="Standard deviation > 0 of ln Y in the lognormal family.",
        json_schema_extra=_straggler("float"))
    scale: Annotated[float | None, _checked(_optional_positive)] = Field(
        None, description="Scale > 0 of the pareto family: the least Y (seconds).",
        json_schema_extra=_straggler("float"))
    granularity: Annotated[str, _checked(_choice(GRANULARITIES))] = Field(
        "per_iteration", description="per_iteration (one duration per worker and "
        "iteration; computation c ends at c·X) or per_computation (a duration per "
        "computation).", json_schema_extra=_straggler("str"))
    speeds: Annotated[tuple[float, ...] | None, _checked(_speeds)] = Field(
        None, description="Slowdown factors >= 1 of workers 0..N-1, fixed ('1,1,2,...').",
        json_schema_extra=_straggler("floats"))
    persistent: Annotated[dict[str, float] | None, _checked(_table)] = Field(
        None, description="Persistent stragglers FRACTION:FACTOR: in each realization "
        "⌊fraction·N⌋ workers, drawn at random, are slow by factor in every iteration.",
        json_schema_extra=_straggler("table"))
    markov: Annotated[dict[str, float] | None, _checked(_table)] = Field(
        None, description="Markov stragglers P_SLOW:P_RECOVER:FACTOR: each worker turns "
        "slow with probability p_slow and fast again with p_recover between iterations; "
        "slow multiplies its durations by factor.", json_schema_extra=_straggler("table"))
    shared: Annotated[dict[str, float] | None, _checked(_table)] = Field(
        None, description="Shared slowdown SIGMA: every duration of a realization's "
        "iteration is multiplied by exp(sigma·Z), Z ~ N(0, 1), one Z for the cluster.",
        json_schema_extra=_straggler("table"))
    groups: Annotated[dict[str, int | float] | None, _checked(_table)] = Field(
        None, description="Groups that slow together SIZE:SIGMA: workers in blocks of size "
        "consecutive ids (a host, a rack; the last block may be smaller) share a factor "
        "exp(sigma·Z), Z ~ N(0, 1), per realization and iteration.",
        json_schema_extra=_straggler("table"))
    compute_times: Annotated[Any, _checked(_source)] = Field(
        None, description="CSV or Parquet file of explicit durations (seconds): columns "
        "worker, duration, and optionally computation (1..r), rep and iteration. Replaces "
        "the straggler model.", json_schema_extra={"kind": "str"})
    network: Annotated[Any, _checked(_plugin)] = Field(
        "none", description="Network discipline: none, fifo, fair or tcp.",
        json_schema_extra={"kind": "str"})
    uplink_bandwidth: Annotated[float, _checked(bandwidth)] = Field(
        math.inf, description="Each worker's uplink: bytes/s, or with a unit ('10Gbps', "
        "'1.25GB/s').", json_schema_extra={"kind": "quantity"})
    master_bandwidth: Annotated[float, _checked(bandwidth)] = Field(
        math.inf, description="The master's shared link: bytes/s, or with a unit.",
        json_schema_extra={"kind": "quantity"})
    latency: Annotated[float, _checked(delay)] = Field(
        0.0, description="Propagation delay: seconds, or with a unit ('50us', '2ms').",
        json_schema_extra={"kind": "quantity"})
    message_size: Annotated[float | None, _checked(
        lambda n, v: None if v is None else nbytes(n, v))] = Field(
        None, description="Bytes per message, or with a unit ('4MB', '4MiB'); required for "
        "fifo and fair.", json_schema_extra={"kind": "quantity"})
    mtu: Annotated[int, _checked(lambda n, v: integer(n, v, low=576, high=65536))] = Field(
        1500, description="Network tcp: the largest IP packet, bytes (576..65536); a "
        "segment carries mtu − 52 bytes of payload and 66 of headers on the wire.",
        json_schema_extra={"kind": "int"})
    buffer: Annotated[float, _checked(nbytes)] = Field(
        1_500_000.0, description="Network tcp: the tail-drop queue at the master's link, "
        "bytes or with a unit ('1.5MB'); at least one full segment (mtu + 14 bytes).",
        json_schema_extra={"kind": "quantity"})
    iterations: Annotated[int, _count(1)] = Field(
        1, description="Iterations K of a training run (1: the paper's single iteration).",
        json_schema_extra={"kind": "int"})
    late_policy: Annotated[str, _checked(_choice(("cancel", "drain")))] = Field(
        "cancel", description="What a worker does with the unfinished work of an iteration "
        "when the next model arrives: cancel it, or drain it (finish and send it).",
        json_schema_extra={"kind": "str"})
    cancel_transfers: Annotated[str, _checked(_choice(("complete", "abort")))] = Field(
        "complete", description="What an iteration's end does to its transmissions still "
        "in flight: complete them (late messages still occupy the links), or abort them "
        "at once (their links serve the others; what they had sent counts in "
        "wasted_bytes).", json_schema_extra={"kind": "str"})
    downlink: Annotated[str, _checked(_choice(("broadcast", "unicast")))] = Field(
        "broadcast", description="How the master sends the new model: broadcast (one "
        "transfer reaches every worker) or unicast (N copies back to back, in worker "
        "order).", json_schema_extra={"kind": "str"})
    downlink_bandwidth: Annotated[float, _checked(bandwidth)] = Field(
        math.inf, description="The master's downlink: bytes/s, or with a unit ('10Gbps').",
        json_schema_extra={"kind": "quantity"})
    model_size: Annotated[float | None, _checked(
        lambda n, v: None if v is None else nbytes(n, v))] = Field(
        None, description="Bytes of the model sent to the workers, or with a unit ('4MB'); "
        "default message_size.", json_schema_extra={"kind": "quantity"})
    decode_time: Annotated[float | str, _checked(_decode_time)] = Field(
        0.0, description="Seconds the master spends decoding after an iteration ends, "
        "before it sends the next model, or with a unit ('2ms'); 'model' (pssim train): "
        "the decode's floating-point operations divided by master_flops.",
        json_schema_extra={"kind": "quantity"})
    master_flops: Annotated[float, _checked(
        lambda n, v: finite(n, v, low=0.0, low_open=True))] = Field(
        1e9, description="The master's floating-point operations per second, for "
        "decode_time = model.", json_schema_extra={"kind": "float"})
    reps: Annotated[int, _count(1)] = Field(
        1000, description="Realizations (independent iterations).",
        json_schema_extra={"kind": "int"})
    seed: Annotated[int, _count(0, MAX_SEED)] = Field(
        0, description="Root seed (integer >= 0).",
        json_schema_extra={"kind": "int"})
    engine: Annotated[str, _checked(_choice(ENGINES))] = Field(
        "auto", description="auto (default: vectorized where it applies, else des), des "
        "(SimPy: every network, traces), vectorized (numpy: networks none, fifo and fair), "
        "or analytic (closed forms: count-rule schemes, ShiftedExponential, network none).",
        json_schema_extra={"kind": "str"})

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


def help_text(name: str) -> str:
    return Config.model_fields[name].description or ""


def grouped(group: str) -> tuple[str, ...]:
    """The fields of a group, in order: ``stragglers`` are the keys of a [stragglers]
    table."""
    return tuple(name for name, info in Config.model_fields.items()
                 if isinstance(info.json_schema_extra, dict)
                 and info.json_schema_extra.get("group") == group)


def kind(name: str) -> str:
    extra = Config.model_fields[name].json_schema_extra
    return str(extra["kind"]) if isinstance(extra, dict) else "str"


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
