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

    def max_rounds(self, updates: int) -> int:
        # A worker's first round, and one per pull: a pull follows each gradient an update
        # uses but the one that makes the last, and the updates use K each. One worker may
        # compute nearly all of them (a fast one beside slow ones): K per update, not K/N.
        return self.first * updates

    def max_gradients(self, updates: int) -> int:
        # The K per update used, and at most one per worker (it waits for its pull) at
        # the last update's instant after it.
        return self.first * updates + self.workers

    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        return gradients >= self.k(update)
