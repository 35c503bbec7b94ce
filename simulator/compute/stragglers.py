"""Straggler models: a family shifted by alpha, a granularity and slowdowns that multiply
(docs/model.md, "Straggler models"). The paper's ShiftedExponential is the first of them."""

from __future__ import annotations

import functools
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pssim.compute import families, slowdowns
from pssim.compute.base import BLOCK, ComputeModel, blockwise, multiples
from pssim.compute.families import Exponential, Family
from pssim.compute.slowdowns import Slowdown
from pssim.config import GRANULARITIES, Config, check_field
from pssim.errors import ConfigError, Note
from pssim.fields import grouped

#: The Config fields that describe a straggler model: the keys of a [stragglers] table.
FIELDS = grouped("stragglers")


class StragglerModel(ComputeModel):
    """X = (alpha + Y)·s: Y from ``family``, s the product of the slowdowns' factors; one X
    per worker and iteration (computation c ends at c·X), or one per computation."""

    name = "stragglers"

    def __init__(self, family: Family, alpha: float = 0.01,
                 granularity: str = "per_iteration",
                 slowdowns: Sequence[Slowdown] = ()) -> None:
        if not isinstance(family, Family):
            raise ConfigError("family", family, f"must be a family object "
                              f"({', '.join(families.names())})")
        self.family = family
        self.alpha = check_field("alpha", alpha)
        self.granularity = check_field("granularity", granularity)
        self.slowdowns = tuple(slowdowns)

    def check(self, workers: int, load: int, reps: int, iterations: int = 1) -> None:
        for s in self.slowdowns:
            s.check(workers)

    def durations(self, seed: int, start: int, stop: int, workers: int, load: int,
                  iteration: int = 0) -> np.ndarray:
        """X of realizations start..stop-1: shape (reps, workers) per iteration, or
        (reps, workers, load) per computation."""
        if self.granularity == "per_iteration":
            size: tuple[int, ...] = (BLOCK, workers)
            draw = functools.partial(self.family.sample, size=size)
        else:
            # Computation-major, so that computation c draws the same numbers whatever the
            # load: generators fill an array in order, and the first c slices come first.
            size = (load, BLOCK, workers)
            draw = functools.partial(_per_computation, self.family, size)
        x = self.alpha + blockwise(seed, start, stop, iteration, draw,
                                   key=(repr(self.family), size))
        for s in self.slowdowns:
            f = s.factors(seed, start, stop, workers, iteration)
            x = x * (f if x.ndim == 2 else f[..., None])
        return x

    def finish_times(self, seed: int, start: int, stop: int, workers: int, load: int,
                     iteration: int = 0) -> np.ndarray:
        return finished(self.durations(seed, start, stop, workers, load, iteration), load)

    def parameters(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.name, "family": self.family.name,
                               "alpha": self.alpha, "granularity": self.granularity,
                               "mu": np.nan}
        out.update(self.family.parameters())
        for s in self.slowdowns:
            out.update(s.parameters())
        return out

    def options(self) -> dict[str, Any]:
        """The model as [stragglers] keys (what ``--stragglers FILE`` reads)."""
        out: dict[str, Any] = {"family": self.family.name, "alpha": self.alpha,
                               **self.family.parameters(), "granularity": self.granularity}
        out.update({s.name: s.value() for s in self.slowdowns})
        return out

    def __repr__(self) -> str:
        extra = "".join(f", {s!r}" for s in self.slowdowns)
        return (f"StragglerModel({self.family!r}, alpha={self.alpha!r}, "
                f"granularity={self.granularity!r}{extra})")


def _per_computation(family: Family, size: tuple[int, ...],
                     rng: np.random.Generator) -> np.ndarray:
    """A block's draws (load, BLOCK, N), as (BLOCK, N, load)."""
    return family.sample(rng, size).transpose(1, 2, 0)


def finished(durations: np.ndarray, load: int) -> np.ndarray:
    """Finish times of computations 1..load from :meth:`StragglerModel.durations`."""
    return multiples(durations, load) if durations.ndim == 2 else np.cumsum(durations, axis=2)


class ShiftedExponential(StragglerModel):
    """The paper's eq. (12): each worker draws X = alpha + Exp(rate=mu) per iteration, and
    its c-th computation finishes at c·X."""

    name = "shifted_exponential"

    def __init__(self, mu: float = 10.0, alpha: float = 0.01) -> None:
        super().__init__(Exponential(mu), alpha)
        self.mu = self.family.mu  # type: ignore[attr-defined]

    def parameters(self) -> dict[str, Any]:
        return {"model": self.name, "mu": self.mu, "alpha": self.alpha}

    def __repr__(self) -> str:
        return f"ShiftedExponential(mu={self.mu!r}, alpha={self.alpha!r})"


def read(path: str | Path) -> dict[str, Any]:
    """The [stragglers] table of a TOML file, each key checked as its Config field: what
    ``--stragglers FILE`` reads, and what ``pssim fit`` writes."""
    p = Path(path)
    try:
        text = p.read_text()
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError("stragglers", str(path), "must be an existing TOML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError("stragglers", str(path), f"must be a readable TOML file "
                          f"({err})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError("stragglers", str(path), f"must be valid TOML ({err})") from None
    table = document.get("stragglers")
    if not isinstance(table, dict):
        raise ConfigError("stragglers", str(path), "must have a [stragglers] table (keys: "
                          f"{', '.join(FIELDS)})")
    # Keys outside the table would be ignored, and a model the user did not mean be run.
    other = [k for k in document if k != "stragglers"]
    if other:
        shown = f"[{other[0]}]" if isinstance(document[other[0]], dict) else other[0]
        raise ConfigError("stragglers", str(path), f"has {shown}; a stragglers file holds "
                          "only a [stragglers] table")
    unknown = [k for k in table if k not in FIELDS]
    if unknown:
        raise ConfigError(f"[stragglers] {unknown[0]} in {path}", table[unknown[0]],
                          f"is not a key of the table; known: {', '.join(FIELDS)}")
    checked = {}
    for key, value in table.items():
        try:
            checked[key] = check_field(key, value)
        except ConfigError as err:
            raise ConfigError(f"[stragglers] {err.parameter} in {path}", err.value,
                              err.allowed) from None
    return checked


def build(options: Mapping[str, Any] | Config) -> StragglerModel:
    """The straggler model of a configuration (or of [stragglers] keys): the paper's
    ShiftedExponential when it is one, so that its results and summary columns stay."""
    values = {k: getattr(options, k) for k in FIELDS} if isinstance(options, Config) else {
        k: options.get(k, Config.model_fields[k].default) for k in FIELDS}
    family = families.build(values["family"], **values)
    unused = [f"{k}={values[k]:g}" for k in ("mu", "shape", "rate", "mu_log", "sigma_log",
                                              "scale")
              if k not in family.fields and values[k] is not None
              and values[k] != Config.model_fields[k].default]
    if unused:
        warnings.warn(f"{', '.join(unused)} {'has' if len(unused) == 1 else 'have'} no "
                      f"effect with family {family.name}", Note, stacklevel=3)
    if family.mean_diverges():
        shown = ", ".join(f"{k}={v:g}" for k, v in family.parameters().items())
        warnings.warn(f"{family.name} {shown}: Y has an infinite mean, so mean durations, "
                      "and the mean of T of a scheme that may wait for the slowest workers, "
                      "do not settle as reps grow (quantiles do)", Note, stacklevel=3)
    used = [slowdowns.build(name, values[name]) for name in slowdowns.names()
            if values[name] is not None]
    if (family.name == "exponential" and values["granularity"] == "per_iteration"
            and not used):
        return ShiftedExponential(values["mu"], values["alpha"])
    return StragglerModel(family, values["alpha"], values["granularity"], used)


__all__ = ["FIELDS", "GRANULARITIES", "ShiftedExponential", "StragglerModel", "build",
           "finished", "read"]
