"""Y ~ Exp(rate mu): with alpha, the paper's shifted exponential, eq. (12)."""

from __future__ import annotations

import numpy as np

from pssim.compute.families.base import Family, register


@register
class Exponential(Family):
    name = "exponential"
    fields = ("mu",)
    mu: float

    def __init__(self, mu: float = 10.0) -> None:
        super().__init__(mu=mu)

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        # Exp(1) draws divided by mu: the paper model's draws since its first version.
        return rng.standard_exponential(size) / self.mu

    def mean(self) -> float:
        return 1.0 / self.mu

    def variance(self) -> float:
        return 1.0 / self.mu**2
