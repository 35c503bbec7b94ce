"""``k-batch-sync(K)``: the update comes at the K-th gradient of the round, whichever
workers sent them; a worker computes at most r per round (docs/model.md, "Server
policies")."""

from __future__ import annotations

from pssim.schemes import Scheme
from pssim.server.base import Policy, register


@register
class KBatchSync(Policy):
    name = "k-batch-sync"

    def limit(self, scheme: Scheme) -> int:
        # Every worker computes at most r gradients in a round.
        return scheme.workers * scheme.load

    def bound_reason(self, scheme: Scheme) -> str:
        return (f"the gradients a round can have: workers={scheme.workers} × "
                f"load={scheme.load}")

    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        return gradients >= self.k(update)
