"""What a straggler family is: the law of the random part Y >= 0 of a duration
X = (alpha + Y)·slowdowns (docs/model.md, "Straggler models")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from pssim.config import check_field
from pssim.errors import ConfigError

_FAMILIES: dict[str, type[Family]] = {}


class Family(ABC):
    """A law of Y >= 0, with its parameters named as the Config fields that hold them."""

    name: ClassVar[str]
    #: The Config fields (and TOML keys) of its parameters, in order.
    fields: ClassVar[tuple[str, ...]]

    def __init__(self, **values: Any) -> None:
        for field in self.fields:
            value = values.get(field)
            if value is None:
                needs = " and ".join(self.fields)
                raise ConfigError(field, None, f"family {self.name} needs {needs}")
            # The Config's own check: the same rule and words as the option or TOML key.
            setattr(self, field, check_field(field, value))

    @abstractmethod
    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        """Draws of Y of shape ``size``."""

    @abstractmethod
    def mean(self) -> float:
        """E[Y] (inf where it diverges)."""

    @abstractmethod
    def variance(self) -> float:
        """Var[Y] (inf where it diverges)."""

    def mean_diverges(self) -> bool:
        """Whether E[Y] is infinite for these parameters (not merely too large for a
        float)."""
        return False

    def parameters(self) -> dict[str, float]:
        return {field: getattr(self, field) for field in self.fields}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.parameters().items())
        return f"{type(self).__name__}({shown})"


def register(cls: type[Family]) -> type[Family]:
    """Make a family available by its name (``family = "..."``)."""
    _FAMILIES[cls.name] = cls
    return cls


def names() -> list[str]:
    return sorted(_FAMILIES)


def build(name: str, **values: Any) -> Family:
    """The family ``name`` with its parameters taken from ``values`` (other keys ignored)."""
    if name not in _FAMILIES:
        raise ConfigError("family", name, f"must be one of {', '.join(names())}")
    cls = _FAMILIES[name]
    return cls(**{k: values.get(k) for k in cls.fields})
