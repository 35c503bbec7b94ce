"""Y = exp(mu_log + sigma_log·Z), Z ~ N(0, 1): mu_log and sigma_log are those of ln Y."""

from __future__ import annotations

import math

import numpy as np

from pssim.compute.families.base import Family, register


@register
class Lognormal(Family):
    name = "lognormal"
    fields = ("mu_log", "sigma_log")
    mu_log: float
    sigma_log: float

    def __init__(self, mu_log: float, sigma_log: float) -> None:
        super().__init__(mu_log=mu_log, sigma_log=sigma_log)

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> np.ndarray:
        return np.exp(self.mu_log + self.sigma_log * rng.standard_normal(size))

    def mean(self) -> float:
        return math.exp(self.mu_log + self.sigma_log**2 / 2)

    def variance(self) -> float:
        s2 = self.sigma_log**2
        return math.expm1(s2) * math.exp(2 * self.mu_log + s2)
