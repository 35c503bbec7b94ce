"""What a configuration assumes, in words (docs/model.md, "Assumptions"): the compute model
with its defaults named, the network, and for a training run what happens to late work and
to transmissions in flight. Every table pssim prints, and REPORT.md, ends with it, so that
no number is read without the model that produced it."""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection
from typing import Any

from pssim import compute
from pssim.compute import ShiftedExponential, StragglerModel
from pssim.config import Config
from pssim.errors import Note
from pssim.training import TRAINING_FIELDS

#: The Config fields of the network, as :func:`describe` groups them.
NETWORK_FIELDS = ("network", "message_size", "uplink_bandwidth", "master_bandwidth",
                  "latency", "mtu", "buffer")


def describe(config: Config, varied: Collection[str] = ()) -> str:
    """One line: ``compute: …; network: …; …``. A value left at its default says so;
    ``varied`` names the fields that the points of a study change, which each part lists
    after its base value."""
    varied = set(varied)
    groups = [(_compute(config), {*compute.FIELDS, "compute_times"}),
              (_network(config), set(NETWORK_FIELDS)),
              (_iterations(config), set(TRAINING_FIELDS))]
    parts = []
    for text, fields in groups:
        changed = [name for name in Config.model_fields if name in fields & varied]
        parts.append(text + (f" (varied over the points: {', '.join(changed)})"
                             if changed else ""))
    # The schemes are what a study compares, not an assumption of it.
    others = [name for name in Config.model_fields
              if name in varied - {"scheme", "reps", "seed"}
              and not any(name in fields for _, fields in groups)]
    if others:
        parts.append(f"varied over the points: {', '.join(others)}")
    return "; ".join(parts)


def _default(config: Config, name: str) -> bool:
    return bool(getattr(config, name) == Config.model_fields[name].default)


def _number(value: Any, unit: str = "") -> str:
    if isinstance(value, float) and math.isinf(value):
        return f"∞{' ' + unit if unit else ''}"
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{shown}{' ' + unit if unit else ''}"


def _values(config: Config, names: tuple[str, ...], units: dict[str, str] | None = None,
            labels: dict[str, str] | None = None) -> str:
    """``name = value`` for each field, with ``(default)`` beside each default; when all
    are defaults, one ``by default`` at the end instead."""
    units, labels = units or {}, labels or {}
    shown = [f"{labels.get(n, n + ' =')} {_number(getattr(config, n), units.get(n, ''))}"
             for n in names]
    defaults = [_default(config, n) for n in names]
    if all(defaults):
        return ", ".join(shown) + ", by default"
    return ", ".join(s + (" (default)" if d else "") for s, d in zip(shown, defaults,
                                                                      strict=True))


def _compute(config: Config) -> str:
    source = config.compute_times
    if source is not None:
        what = "a table" if hasattr(source, "columns") else str(source)
        return f"compute: explicit durations from {what}, replayed exactly"
    # Building the model is cheap; the notes it gives (a parameter of another family) are
    # the run's to give, not the description's.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        model = compute.build(config)
    if isinstance(model, ShiftedExponential):
        return ("compute: the paper's model (one duration alpha + Exp(mu) per worker and "
                f"iteration), {_values(config, ('mu', 'alpha'))}")
    assert isinstance(model, StragglerModel)  # compute.build gives nothing else
    family = _values(config, (*model.family.fields, "alpha"))
    text = (f"compute: {model.family.name} family, {family}, "
            f"{model.granularity.replace('_', ' ')}"
            f"{' (default)' if _default(config, 'granularity') else ''}")
    for slowdown in model.slowdowns:
        value = slowdown.value()
        text += f", slowed by {slowdown.name} (" + (
            ", ".join(f"{k} = {_number(v)}" for k, v in value.items())
            if isinstance(value, dict) else f"factors of workers 0..{len(value) - 1}, up to "
            f"{max(value):g}") + ")"
    return text


def _network(config: Config) -> str:
    network = config.network
    if not isinstance(network, str):
        return f"network: {network!r}"
    if network == "none":
        return ("network: none (the paper's: a message reaches the master when it is "
                "ready)" + (", by default" if _default(config, "network") else ""))
    names: tuple[str, ...] = ("message_size", "uplink_bandwidth", "master_bandwidth",
                              "latency") + (("mtu", "buffer") if network == "tcp" else ())
    return f"network: {network}, " + _values(
        config, names, units={"message_size": "B", "uplink_bandwidth": "B/s",
                              "master_bandwidth": "B/s", "latency": "s", "mtu": "B",
                              "buffer": "B"},
        labels={"message_size": "messages of", "uplink_bandwidth": "uplinks",
                "master_bandwidth": "master link", "latency": "latency", "mtu": "mtu",
                "buffer": "buffer"})


def _iterations(config: Config) -> str:
    if config.server != "sync":
        k = "" if config.server_k is None else f" with K = {config.server_k}"
        if config.server == "adaptive":
            k = (f" with K from {config.server_k or 1}, doubling every "
                 f"{config.server_period} updates")
        return f"server {config.server}{k}: {config.iterations} updates; {_rounds(config)}"
    if config.iterations == 1:
        return "one iteration (the paper's)"
    return f"{config.iterations} iterations: {_rounds(config)}"


def _rounds(config: Config) -> str:
    """What happens between one model and the next."""
    late = {"cancel": "cancelled", "drain": "drained"}[config.late_policy]
    transfers = {"complete": "complete", "abort": "are aborted"}[config.cancel_transfers]
    size = config.message_size if config.model_size is None else config.model_size
    decode = ("modelled as the decode's operations at master_flops = "
              f"{_number(config.master_flops)}/s" if config.decode_time == "model"
              else _number(config.decode_time, "s"))

    def default(name: str, within: bool = False) -> str:
        return ((", default" if within else " (default)") if _default(config, name)
                else "")

    return (f"a worker's late work is {late} when the next "
            f"model arrives (late_policy = {config.late_policy}"
            f"{default('late_policy', True)}), transmissions in flight at an iteration's end "
            f"{transfers} (cancel_transfers = {config.cancel_transfers}"
            f"{default('cancel_transfers', True)}), the model"
            + (f" ({_number(size, 'B')})" if size is not None else "")
            + f" is {config.downlink}{default('downlink')} over a downlink of "
            f"{_number(config.downlink_bandwidth, 'B/s')}{default('downlink_bandwidth')}, "
            f"decode time {decode}{default('decode_time')}")
