"""Server policies (docs/model.md, "Server policies"): when the master updates the model,
one module per policy, registered by name (``k-sync``, ``k-batch-sync``, ``k-async``,
``k-batch-async``, ``adaptive``; ``sync`` is the model without a policy), run on the SimPy
engine by :mod:`pssim.server.engine`."""

from __future__ import annotations

from pssim.server import adaptive, k_async, k_batch_async, k_batch_sync, k_sync
from pssim.server.base import SYNC, Policy, build, names, register, resolve

__all__ = ["SYNC", "Policy", "adaptive", "build", "k_async", "k_batch_async", "k_batch_sync",
           "k_sync", "names", "register", "resolve"]
