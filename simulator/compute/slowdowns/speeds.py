"""Fixed per-worker factors: worker i's durations are always multiplied by speeds[i]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pssim.compute.slowdowns.base import Slowdown, register
from pssim.config import check_field
from pssim.errors import ConfigError


@register
class Speeds(Slowdown):
    name = "speeds"
    tag = 0  # draws nothing

    def __init__(self, speeds: Sequence[float]) -> None:
        self.speeds = np.array(check_field("speeds", tuple(speeds)))

    @classmethod
    def from_value(cls, value: Any) -> Slowdown:
        return cls(check_field(cls.name, value))

    def check(self, workers: int) -> None:
        if len(self.speeds) != workers:
            raise ConfigError("speeds", ",".join(f"{s:g}" for s in self.speeds),
                              f"must give one factor per worker: {workers}, not "
                              f"{len(self.speeds)}")

    def factors(self, seed: int, start: int, stop: int, workers: int,
                iteration: int) -> np.ndarray:
        return self.speeds[None, :]

    def value(self) -> list[float]:
        return [float(s) for s in self.speeds]

    def parameters(self) -> dict[str, Any]:
        # One column: the factors as text, to the last digit.
        return {"speeds": ",".join(map(repr, self.value()))}
