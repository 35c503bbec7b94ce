"""Persistent stragglers: in each realization ⌊fraction·N⌋ workers, drawn uniformly, are
slow by ``factor`` in every iteration."""

from __future__ import annotations

import math

import numpy as np

from pssim.compute.base import BLOCK, blockwise
from pssim.compute.slowdowns.base import Slowdown, register
from pssim.config import check_field


@register
class Persistent(Slowdown):
    name = "persistent"
    tag = 1

    def __init__(self, fraction: float, factor: float) -> None:
        checked = check_field(self.name, {"fraction": fraction, "factor": factor})
        self.fraction, self.factor = checked["fraction"], checked["factor"]

    def slow(self, workers: int) -> int:
        """How many workers are slow: ⌊fraction·N⌋, where a product such as 0.29·100 =
        28.999999999999996 counts as the 29 it stands for."""
        return min(workers, math.floor(self.fraction * workers + 1e-9))

    def factors(self, seed: int, start: int, stop: int, workers: int,
                iteration: int) -> np.ndarray:
        m = self.slow(workers)
        # One set per realization, the same in every iteration: the stream of iteration 0.
        # A worker is slow when its uniform is among the m smallest of the realization.
        rank = blockwise(seed, start, stop, 0,
                         lambda rng: rng.random((BLOCK, workers)).argsort(axis=1).argsort(
                             axis=1), self.tag, key=workers)
        return np.where(rank < m, self.factor, 1.0)

    def value(self) -> dict[str, float]:
        return {"fraction": self.fraction, "factor": self.factor}
