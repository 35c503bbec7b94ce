"""Gradient coding with cyclic repetition: one message per worker after all r computations."""

from __future__ import annotations

from pssim.schemes.base import Scheme
from pssim.schemes.registry import register


@register
class GC(Scheme):
    """Any N − r + 1 workers' messages decode the full gradient."""

    name = "GC"

    @property
    def group(self) -> int:
        return self.load

    @property
    def threshold(self) -> int:
        return self.workers - self.load + 1
