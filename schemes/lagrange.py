"""Lagrange coded computation with p polynomials (docs/model.md, "Schemes").

The N data rows are split over p polynomials of degree ⌈N/p⌉ − 1; a worker evaluates all
p at one point (p computations) and sends their combined result, so the master needs
2⌈N/p⌉ − 1 messages. p = r is the paper's LCC, p = 1 its LCC-MMC, p = 2 LCC-MMC-2.
"""

from __future__ import annotations

from typing import Any

from pssim.errors import ConfigError, integer
from pssim.schemes.base import Scheme
from pssim.schemes.registry import register


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@register
class LCC(Scheme):
    """LCC with ``polynomials`` polynomials (default: the load r, one message per worker)."""

    name = "LCC"

    def __init__(self, workers: int, load: int, polynomials: int | None = None) -> None:
        super().__init__(workers, load)
        p = self.load if polynomials is None else integer("polynomials", polynomials, low=1)
        if self.load % p:
            raise ConfigError("polynomials", p,
                              f"must divide the load r={self.load} (each message combines "
                              "one evaluation of every polynomial)")
        self.polynomials = p
        self._require_threshold(f"2⌈N/{p}⌉ − 1")

    @property
    def group(self) -> int:
        return self.polynomials

    @property
    def threshold(self) -> int:
        return 2 * _ceil_div(self.workers, self.polynomials) - 1

    @property
    def label(self) -> str:
        if type(self) is LCC and self.polynomials != self.load:
            return f"LCC({self.polynomials})"
        return self.name

    def identity(self) -> tuple[Any, ...]:
        return ("LCC", self.polynomials)

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "polynomials": self.polynomials}


@register
class LCCMMC(LCC):
    """One polynomial: a message after every computation, any 2N − 1 of them decode."""

    name = "LCC-MMC"

    def __init__(self, workers: int, load: int) -> None:
        super().__init__(workers, load, polynomials=1)


@register
class LCCMMC2(LCC):
    """Two polynomials: a message after every two computations."""

    name = "LCC-MMC-2"

    def __init__(self, workers: int, load: int) -> None:
        if integer("load", load, low=1) % 2:
            raise ConfigError("load", load, "LCC-MMC-2 needs an even load r")
        super().__init__(workers, load, polynomials=2)
