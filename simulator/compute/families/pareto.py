"""Y ~ Pareto(shape, scale): Y >= scale and P(Y > y) = (scale/y)^shape, the heavy tail
(infinite mean at shape <= 1, infinite variance at shape <= 2)."""

from __future__ import annotations

import math

import numpy as np

from pssim.compute.families.base import Family, register


@register
class Pareto(Family):
    name = "pareto"
    fields = ("shape", "scale")
    shape: float
    scale: float

    def __init__(self, shape: float, scale: float) -> None:
        super().__init__(shape=shape, scale=scale)

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        # ln(Y/scale) ~ Exp(shape): exact in the tail, where inverting 1 - U loses digits.
        return self.scale * np.exp(rng.standard_exponential(size) / self.shape)

    def mean(self) -> float:
        return math.inf if self.mean_diverges() else self.shape * self.scale / (self.shape - 1)

    def mean_diverges(self) -> bool:
        return self.shape <= 1

    def variance(self) -> float:
        if self.shape <= 2:
            return math.inf
        a = self.shape
        return self.scale**2 * a / ((a - 1) ** 2 * (a - 2))
