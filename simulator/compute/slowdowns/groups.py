"""Groups that slow together: workers in blocks of ``size`` consecutive ids (a host, a
rack) share a factor exp(sigma·Z), Z ~ N(0, 1), per realization and iteration; the last
block holds the N mod size workers left over (docs/model.md, "Straggler models")."""

from __future__ import annotations

import numpy as np

from pssim.compute.base import BLOCK, blockwise
from pssim.compute.slowdowns.base import Slowdown, register
from pssim.config import check_field
from pssim.errors import ConfigError


@register
class Groups(Slowdown):
    name = "groups"
    tag = 4

    def __init__(self, size: int, sigma: float) -> None:
        checked = check_field(self.name, {"size": size, "sigma": sigma})
        self.size, self.sigma = int(checked["size"]), checked["sigma"]

    def check(self, workers: int) -> None:
        if self.size > workers:
            raise ConfigError("groups.size", self.size, f"must be at most the number of "
                              f"workers, {workers} (size = N is one block of the whole "
                              "cluster)")

    def factors(self, seed: int, start: int, stop: int, workers: int,
                iteration: int) -> np.ndarray:
        # One normal per worker, and a block takes its first worker's: worker i's number
        # is the same whatever the size, so runs at different sizes share their draws.
        z = blockwise(seed, start, stop, iteration,
                      lambda rng: rng.standard_normal((BLOCK, workers)), self.tag,
                      key=workers)
        return np.exp(self.sigma * z[:, :: self.size])[:, np.arange(workers) // self.size]

    def value(self) -> dict[str, float]:
        return {"size": self.size, "sigma": self.sigma}
