"""Y ~ Gamma(shape, rate): mean shape/rate; shape 1 is the exponential."""

from __future__ import annotations

import numpy as np

from pssim.compute.families.base import Family, register


@register
class Gamma(Family):
    name = "gamma"
    fields = ("shape", "rate")
    shape: float
    rate: float

    def __init__(self, shape: float, rate: float) -> None:
        super().__init__(shape=shape, rate=rate)

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        return rng.standard_gamma(self.shape, size) / self.rate

    def mean(self) -> float:
        return self.shape / self.rate

    def variance(self) -> float:
        return self.shape / self.rate**2
