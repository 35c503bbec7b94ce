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

from pssim.errors import ConfigError, finite, integer
from pssim.units import bandwidth, delay, nbytes

#: The largest seed: the summary's seed column is int64.
MAX_SEED = 2**63 - 1

ENGINES = ("auto", "des", "vectorized", "analytic")


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


def _plugin(name: str, value: Any) -> Any:
    """A registered name, or an object of the layer above (a compute model, a network
    discipline) passed as it is."""
    if isinstance(value, str):
        return value.strip()
    if value is None or isinstance(value, bool | int | float):
        raise ConfigError(name, value, "must be a name or an object of its kind")
    return value


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
        10.0, description="Straggling rate μ > 0 (1/seconds).",
        json_schema_extra={"kind": "float"})
    alpha: Annotated[float, _checked(lambda n, v: finite(n, v, low=0.0))] = Field(
        0.01, description="Minimum duration α >= 0 of one computation (seconds).",
        json_schema_extra={"kind": "float"})
    compute_times: Annotated[Any, _checked(_source)] = Field(
        None, description="CSV or Parquet file of explicit durations (seconds): columns "
        "worker, duration, and optionally computation (1..r) and rep. Replaces mu and "
        "alpha.", json_schema_extra={"kind": "str"})
    network: Annotated[Any, _checked(_plugin)] = Field(
        "none", description="Network discipline: none, fifo or fair.",
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
    iterations: Annotated[int, _count(1)] = Field(
        1, description="Iterations K of a training run (1: the paper's single iteration).",
        json_schema_extra={"kind": "int"})
    late_policy: Annotated[str, _checked(_choice(("cancel", "drain")))] = Field(
        "cancel", description="What a worker does with the unfinished work of an iteration "
        "when the next model arrives: cancel it, or drain it (finish and send it).",
        json_schema_extra={"kind": "str"})
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
    decode_time: Annotated[float, _checked(delay)] = Field(
        0.0, description="Seconds the master spends decoding after an iteration ends, "
        "before it sends the next model, or with a unit ('2ms').",
        json_schema_extra={"kind": "quantity"})
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


def kind(name: str) -> str:
    extra = Config.model_fields[name].json_schema_extra
    return str(extra["kind"]) if isinstance(extra, dict) else "str"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, tuple):
        return list(value)
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
