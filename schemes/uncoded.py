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
from pssim.schemes.coding import Code, Pieces, pick, pieces_of
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

    def code(self, x: np.ndarray, y: np.ndarray, **options: Any) -> Code:
        return UncodedCode(self, pieces_of(x, y, options.get("problem", "least_squares")))


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


class UncodedCode(Code):
    """UC-MMC's and UC-MMC-PG's messages: message j of worker i is the gradient of
    partition (i + j) mod N. The master sums each distinct partition it holds once; the
    partial gradient scales that sum by N / (partitions held)."""

    def __init__(self, scheme: UCMMC, pieces: Pieces) -> None:
        self.scheme = scheme
        self.pieces = pieces
        self.labels = scheme.labels()

    def messages(self, w: np.ndarray) -> np.ndarray:
        return self.pieces.gradients(w)[:, self.labels]

    def decode(self, messages: np.ndarray, received: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        n = self.scheme.workers
        held = np.isfinite(received.reshape(received.shape[0], -1))
        # Duplicates of a partition carry the same vector: the first held copy (worker
        # order) stands for it.
        carries = held[:, :, None] & (self.labels.reshape(-1)[None, :, None]
                                      == np.arange(n)[None, None, :])
        first = carries.argmax(axis=1)
        has = carries.any(axis=1)
        count = has.sum(axis=1)
        if (count < self.scheme.threshold).any():
            raise ValueError("the master holds fewer partitions than it needs")
        total = np.einsum("rp,rpd->rd", has.astype(float), pick(messages, first))
        if isinstance(self.scheme, UCMMCPG):
            total *= (n / count)[:, None]
        return total, np.full(received.shape[0], np.nan)

    def flops(self, dimension: int) -> float:
        # The sum of the partitions needed, and the scaling of a partial gradient.
        threshold = self.scheme.threshold
        scaling = dimension if isinstance(self.scheme, UCMMCPG) else 0
        return (threshold - 1) * dimension + scaling
