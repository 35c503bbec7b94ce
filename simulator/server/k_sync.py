"""``k-sync(K)``: the update comes at the K-th distinct worker's first gradient of the
round; the rest of the round is cancelled or drained at the next model (docs/model.md,
"Server policies"). With K = N and r = 1 it is synchronous UC-MMC; backup workers are
K-sync with N = K + b."""

from __future__ import annotations

from pssim.server.base import Policy, register


@register
class KSync(Policy):
    name = "k-sync"

    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        return workers >= self.k(update)
