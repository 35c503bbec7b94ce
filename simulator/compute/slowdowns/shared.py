"""A slowdown common to the cluster: every duration of a realization's iteration is
multiplied by exp(sigma·Z), one Z ~ N(0, 1) for all workers."""

from __future__ import annotations

import numpy as np

from pssim.compute.base import BLOCK, blockwise
from pssim.compute.slowdowns.base import Slowdown, register
from pssim.config import check_field


@register
class Shared(Slowdown):
    name = "shared"
    tag = 3

    def __init__(self, sigma: float) -> None:
        self.sigma = check_field(self.name, {"sigma": sigma})["sigma"]

    def factors(self, seed: int, start: int, stop: int, workers: int,
                iteration: int) -> np.ndarray:
        z = blockwise(seed, start, stop, iteration,
                      lambda rng: rng.standard_normal(BLOCK), self.tag, key=0)
        return np.exp(self.sigma * z)[:, None]

    def value(self) -> dict[str, float]:
        return {"sigma": self.sigma}
