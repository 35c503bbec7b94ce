"""Server policies (docs/model.md, "Server policies"): when the master updates the model,
one module per policy, registered by name (``k-sync``, ``k-batch-sync``, ``k-async``,
``k-batch-async``, ``adaptive``; ``sync`` is the model without a policy), run on the SimPy
engine by :mod:`pssim.server.engine`."""

from __future__ import annotations

from pssim.server.base import SYNC, Policy, accepts, build, names, register, resolve

# Registered in the order users are shown them: the synchronous family first.
# isort: off
from pssim.server import k_sync, k_batch_sync, k_async, k_batch_async, adaptive
# isort: on

__all__ = ["SYNC", "Policy", "accepts", "adaptive", "build", "k_async", "k_batch_async",
           "k_batch_sync", "k_sync", "names", "register", "resolve"]
