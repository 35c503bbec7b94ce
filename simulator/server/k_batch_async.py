"""``k-batch-async(K)``: the update comes at every K-th gradient received; after each push
the worker pulls the newest model and starts again (docs/model.md, "Server policies").
K = 1 is fully asynchronous SGD. Every gradient counts, so K has no upper bound."""

from __future__ import annotations

from pssim.schemes import Scheme
from pssim.server.base import Policy, register


@register
class KBatchAsync(Policy):
    name = "k-batch-async"
    rounds = False
    pulls = True

    def limit(self, scheme: Scheme) -> None:
        return None

    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        return gradients >= self.k(update)
