"""Uncoded computation with multi-message communication (the paper's eq. 11).

Worker i computes partitions i, i+1, …, i+r−1 (mod N) in that order and sends each result
as soon as it is computed; the master needs distinct partitions, so duplicates do not count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pssim.errors import ConfigError, finite
from pssim.schemes.base import Scheme
from pssim.schemes.registry import register


@register
class UCMMC(Scheme):
    """Full gradient: the master waits for all N partitions."""

    name = "UC-MMC"
    count_rule = False

    @property
    def group(self) -> int:
        return 1

    @property
    def threshold(self) -> int:
        return self.workers

    def labels(self) -> np.ndarray:
        i = np.arange(self.workers)[:, None]
        j = np.arange(self.load)[None, :]
        return (i + j) % self.workers


@register
class UCMMCPG(UCMMC):
    """Partial gradient: the master stops at ⌈(1 − τ)·N⌉ distinct partitions."""

    name = "UC-MMC-PG"

    def __init__(self, workers: int, load: int, pg_tolerance: float = 0.05) -> None:
        super().__init__(workers, load)
        tau = finite("pg_tolerance", pg_tolerance, low=0.0)
        if tau >= 1:
            raise ConfigError("pg_tolerance", pg_tolerance, "must be in [0, 1)")
        self.pg_tolerance = tau

    @property
    def threshold(self) -> int:
        # Rounded first so that binary noise in (1 − τ)·N (0.95·40 = 37.99999…) cannot
        # move the ceiling; at least one partition is always needed.
        return max(1, math.ceil(round((1 - self.pg_tolerance) * self.workers, 9)))

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "pg_tolerance": self.pg_tolerance}
