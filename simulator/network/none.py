"""Network ``none``, the paper's model: a message is received the instant it is ready."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from pssim.network.base import Cluster, Discipline, Send, register


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

        # Nothing is ever in flight to abort; but a message ready after its iteration
        # ended would begin then, and is dropped instead (the check costs only then).
        if not cluster.aborting(_nothing):
            return send

        def send_unless_ended(worker: int, message: int) -> None:
            if not cluster.abandoned(worker, message):
                send(worker, message)

        return send_unless_ended

    def arrays(self, ready: np.ndarray, identify: bool) -> tuple[np.ndarray, np.ndarray]:
        return ready, ready

    def transferred(self, ready: np.ndarray, sent: np.ndarray, received: np.ndarray,
                    until: np.ndarray) -> np.ndarray:
        # Received the instant it is sent: never in flight, nothing to abort.
        return np.zeros_like(ready)


def _nothing() -> None:
    """No transmission is in flight at any instant: an abort stops nothing."""
