"""``k-async(K)``: the update comes once K distinct workers have each delivered a gradient
since the last update; the others keep computing on the model they have, and their
gradients count later, stale (docs/model.md, "Server policies")."""

from __future__ import annotations

from pssim.server.base import Policy, register


@register
class KAsync(Policy):
    name = "k-async"
    rounds = False

    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        return workers >= self.k(update)
