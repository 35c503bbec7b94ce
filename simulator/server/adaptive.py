"""``adaptive``: the update comes once the round has K distinct partitions, K doubling
every ``server_period`` updates from ``server_k`` (default 1) up to what the scheme needs
to decode (N partitions under UC-MMC, ⌈(1 − τ)·N⌉ under UC-MMC-PG): the tolerance of a
partial gradient falls from 1 − K/N to the scheme's own, and the last updates are the
scheme's synchronous iterations (docs/model.md, "Server policies"). Early updates wait
for few gradients and are fast; later ones use more and are accurate, as in the schedules
of AdaSync (Dutta et al.) and of dynamic backup workers (Xu, Neglia, Sebastianelli), here
fixed in advance, so that it depends on nothing but the update's index."""

from __future__ import annotations

from typing import Any

from pssim.schemes import Scheme
from pssim.server.base import Policy, register


@register
class Adaptive(Policy):
    name = "adaptive"
    schemes = ("UC-MMC", "UC-MMC-PG")
    needs_k = False

    def limit(self, scheme: Scheme) -> int:
        return scheme.threshold

    def bound_reason(self, scheme: Scheme) -> str:
        return f"what {scheme.label} needs to decode at workers={scheme.workers}"

    def k(self, update: int) -> int:
        top = self.scheme.threshold
        # Doubling stops once it passes the top: 2**(u // period) never grows unbounded.
        steps = min(update // self.period, top.bit_length())
        return min(top, self.first << steps)

    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        return partitions >= self.k(update)

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "server_period": self.period}
