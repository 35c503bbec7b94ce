"""What a slowdown is: a factor that multiplies a worker's whole duration X, drawn per
realization and iteration from streams of its own (docs/model.md, "Straggler models")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from pssim.config import check_field
from pssim.errors import ConfigError

_SLOWDOWNS: dict[str, type[Slowdown]] = {}


class Slowdown(ABC):
    """Factors of a run's durations; the Config field of the same name holds its
    parameters."""

    name: ClassVar[str]
    #: Tells its random streams apart from every other slowdown's (docs/model.md,
    #: "Randomness"); never reused.
    tag: ClassVar[int]

    @classmethod
    def from_value(cls, value: Any) -> Slowdown:
        """The slowdown from its Config value (a table, or its short form)."""
        return cls(**check_field(cls.name, value))

    @abstractmethod
    def factors(self, seed: int, start: int, stop: int, workers: int,
                iteration: int) -> np.ndarray:
        """Factors of realizations start..stop-1 in ``iteration``, shape (stop - start,
        workers) or broadcastable to it; row k depends only on (seed, k, iteration, the
        slowdown, workers)."""

    @abstractmethod
    def value(self) -> Any:
        """Its Config value: the table of its parameters (what [stragglers] holds)."""

    def parameters(self) -> dict[str, Any]:
        """Its parameters as summary columns, each prefixed with its name."""
        return {f"{self.name}_{k}": v for k, v in self.value().items()}

    def check(self, workers: int) -> None:  # noqa: B027
        """Raise ConfigError if it cannot serve N workers."""

    def __repr__(self) -> str:
        value = self.value()
        shown = (", ".join(f"{k}={v!r}" for k, v in value.items()) if isinstance(value, dict)
                 else repr(value))
        return f"{type(self).__name__}({shown})"


def register(cls: type[Slowdown]) -> type[Slowdown]:
    """Make a slowdown available under its name, as a Config field of that name."""
    _SLOWDOWNS[cls.name] = cls
    return cls


def names() -> list[str]:
    """Every slowdown, in the order their factors are applied (fixed, so results are)."""
    return list(_SLOWDOWNS)


def build(name: str, value: Any) -> Slowdown:
    if name not in _SLOWDOWNS:
        raise ConfigError("slowdown", name, f"must be one of {', '.join(_SLOWDOWNS)}")
    return _SLOWDOWNS[name].from_value(value)
