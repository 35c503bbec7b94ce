"""Network ``fair``, flow level (docs/model.md, "Network"): a worker sends its messages one
at a time; each becomes a flow, waits ``latency``, then shares the master's link max-min
fairly with every other transferring flow, capped at its worker's uplink.

SimPy engine only: rates change whenever a flow starts or ends.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from pssim.network.base import Cluster, Discipline, Send, register, uplinks

if TYPE_CHECKING:
    from simpy.events import Event

#: Tolerance, relative to the message size, below which a fluid flow counts as finished:
#: subtracting rate·elapsed leaves rounding dust on flows that end together.
FLUID_EPS = 1e-9


@register
class Fair(Discipline):
    """Flows share the master's link max-min fairly, each capped at its worker's uplink."""

    name = "fair"

    def des(self, cluster: Cluster, workers: int) -> Send:
        env = cluster.env
        size = float(self.message_size or 0.0)
        flows: list[list[Any]] = []  # [worker, message, remaining bytes, done event]
        # Flows that joined since the link last updated: they transferred nothing yet.
        joining: list[list[Any]] = []
        wake = [env.event()]

        def forward(worker: int, message: int) -> Generator[Event, Any, None]:
            if self.latency:
                yield env.at(env.now + self.latency)
            done = env.event()
            joining.append([worker, message, size, done])
            if not wake[0].triggered:
                wake[0].succeed()
            yield done

        def link() -> Generator[Event, Any, None]:
            while True:
                if not flows and not joining:
                    wake[0] = env.event()
                    yield wake[0]
                flows.extend(joining)
                joining.clear()
                # Max-min fair share with a common per-flow cap: min(b, B / flows).
                rate = min(self.uplink_bandwidth, self.master_bandwidth / len(flows))
                start = env.now
                wake[0] = env.event()
                if math.isinf(rate):
                    finished = list(flows)
                else:
                    least = min(f[2] for f in flows)
                    end = start + least / rate
                    yield wake[0] | env.at(end)
                    # The flows due at ``end`` finish when it comes, decided by what they
                    # had left rather than by what rounding leaves them: at large times
                    # ``end`` can even round back to ``start``.
                    due = least * (1 + FLUID_EPS) if env.now >= end else -1.0
                    elapsed = env.now - start
                    finished = []
                    for f in flows:
                        if f[2] <= due:
                            f[2] = 0.0
                        else:
                            f[2] -= rate * elapsed
                        if f[2] <= FLUID_EPS * size:
                            finished.append(f)
                finished.sort(key=lambda f: (f[0], f[1]))
                for f in finished:
                    flows.remove(f)
                    cluster.receive(f[0], f[1])
                    f[3].succeed()

        env.process(link())
        return uplinks(cluster, workers, forward)
