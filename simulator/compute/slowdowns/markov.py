"""Markov stragglers: each worker is fast or slow, and changes state between iterations
with P(fast → slow) = p_slow and P(slow → fast) = p_recover, starting from the stationary
law; a slow worker's durations are multiplied by ``factor``."""

from __future__ import annotations

from typing import Any

import numpy as np

from pssim.compute.base import BLOCK, blockwise
from pssim.compute.slowdowns.base import Slowdown, register
from pssim.config import check_field


@register
class Markov(Slowdown):
    name = "markov"
    tag = 2

    def __init__(self, p_slow: float, p_recover: float, factor: float) -> None:
        checked = check_field(self.name, {"p_slow": p_slow, "p_recover": p_recover,
                                          "factor": factor})
        self.p_slow, self.p_recover = checked["p_slow"], checked["p_recover"]
        self.factor = checked["factor"]
        # The states of the last realizations asked for: runs ask for iterations 0, 1, 2…
        # in order, and each step from the one before costs one draw, not t of them.
        self._last: tuple[tuple[Any, ...], int, np.ndarray] | None = None

    @property
    def stationary(self) -> float:
        """The long-run fraction of slow workers, p_slow / (p_slow + p_recover)."""
        return self.p_slow / (self.p_slow + self.p_recover)

    def states(self, seed: int, start: int, stop: int, workers: int,
               iteration: int) -> np.ndarray:
        """True where a worker is slow in ``iteration``: the chain run from iteration 0
        on uniforms of its own per (realization, iteration, worker), so the sequence is
        the same however a run is split."""
        key = (seed, start, stop, workers, self.p_slow, self.p_recover)
        last = self._last  # read once: another thread may replace it meanwhile
        if last is not None and last[0] == key and last[1] <= iteration:
            t, slow = last[1], last[2]
        else:
            t, slow = 0, self._uniforms(seed, start, stop, workers, 0) < self.stationary
        while t < iteration:
            t += 1
            u = self._uniforms(seed, start, stop, workers, t)
            slow = np.where(slow, u >= self.p_recover, u < self.p_slow)
        slow.flags.writeable = False  # kept for the next iteration: no caller may change it
        self._last = (key, t, slow)
        return slow

    def _uniforms(self, seed: int, start: int, stop: int, workers: int,
                  iteration: int) -> np.ndarray:
        return blockwise(seed, start, stop, iteration,
                         lambda rng: rng.random((BLOCK, workers)), self.tag, key=workers)

    def factors(self, seed: int, start: int, stop: int, workers: int,
                iteration: int) -> np.ndarray:
        return np.where(self.states(seed, start, stop, workers, iteration), self.factor, 1.0)

    def value(self) -> dict[str, float]:
        return {"p_slow": self.p_slow, "p_recover": self.p_recover, "factor": self.factor}

    def __getstate__(self) -> dict[str, Any]:
        # A copy sent to another process starts afresh: the cache is no part of the model.
        return {**self.__dict__, "_last": None}
