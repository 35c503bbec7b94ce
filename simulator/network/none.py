"""Network ``none``, the paper's model: a message is received the instant it is ready."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pssim.network.base import Cluster, Discipline, Send, register

if TYPE_CHECKING:
    import numpy as np


@register
class NoNetwork(Discipline):
    """Messages cross no link: sent and received when ready."""

    name = "none"
    engines: ClassVar[frozenset[str]] = frozenset({"des", "vectorized"})
    needs_size = False
    independent_messages = True
    # A message is received the instant it is ready: no link to have a bandwidth or delay.
    uses: ClassVar[frozenset[str]] = frozenset()

    def des(self, cluster: Cluster, workers: int) -> Send:
        def send(worker: int, message: int) -> None:
            cluster.started(worker, message)
            cluster.receive(worker, message)

        return send

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        return ready, ready
