"""Training runs of many iterations (docs/model.md, "Training runs"): how the master's new
model reaches the workers, and what a worker does with the work of an iteration it has
not finished when the next model arrives."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pssim.errors import ConfigError

LATE_POLICIES = ("cancel", "drain")
CANCEL_TRANSFERS = ("complete", "abort")
DOWNLINKS = ("broadcast", "unicast")
#: The Config fields of a training run: at their defaults, a run is the paper's single
#: iteration.
TRAINING_FIELDS = ("iterations", "late_policy", "cancel_transfers", "downlink",
                   "downlink_bandwidth", "model_size", "decode_time", "master_flops")


@dataclass(frozen=True)
class Training:
    """K iterations; ``cancel`` or ``drain`` the last iteration's work when a model
    arrives; the model sent by ``broadcast`` or ``unicast`` at ``downlink_bandwidth``
    (bytes/s), ``model_size`` bytes, after ``decode_time`` seconds of decoding and with the
    network's ``latency`` (seconds); each iteration's transmissions ``complete`` or
    ``abort`` at its end (a single iteration's too: it decides ``wasted_bytes``)."""

    iterations: int = 1
    late_policy: str = "cancel"
    downlink: str = "broadcast"
    downlink_bandwidth: float = math.inf
    model_size: float | None = None
    decode_time: float = 0.0
    latency: float = 0.0
    cancel_transfers: str = "complete"

    def __post_init__(self) -> None:
        if self.late_policy not in LATE_POLICIES:
            raise ConfigError("late_policy", self.late_policy,
                              f"must be one of {', '.join(LATE_POLICIES)}")
        if self.cancel_transfers not in CANCEL_TRANSFERS:
            raise ConfigError("cancel_transfers", self.cancel_transfers,
                              f"must be one of {', '.join(CANCEL_TRANSFERS)}")
        if self.downlink not in DOWNLINKS:
            raise ConfigError("downlink", self.downlink, f"must be one of {', '.join(DOWNLINKS)}")
        if math.isfinite(self.downlink_bandwidth) and self.model_size is None:
            raise ConfigError("model_size", None, f"is required with downlink_bandwidth="
                              f"{self.downlink_bandwidth:g} B/s (and no message_size): the "
                              "bytes of the model")

    @property
    def single(self) -> bool:
        """One iteration: the paper's model, which none of the other options changes."""
        return self.iterations == 1

    @property
    def aborts(self) -> bool:
        """Whether an iteration's end aborts its transmissions in flight."""
        return self.cancel_transfers == "abort"

    def receptions(self, start: float | np.ndarray, workers: int) -> np.ndarray:
        """When each worker receives the model sent at ``start`` (docs/model.md), along a
        last axis of ``workers``; ``start`` may hold one instant per realization. Both
        engines take their times from here, so they agree to the bit."""
        step = 0.0 if self.model_size is None else self.model_size / self.downlink_bandwidth
        offsets = (np.full(workers, step) if self.downlink == "broadcast"
                   else np.arange(1, workers + 1) * step)
        return (np.asarray(start, dtype=float)[..., None] + offsets) + self.latency

    def parameters(self) -> dict[str, Any]:
        """The summary's columns of a training run."""
        return {"iterations": self.iterations, "late_policy": self.late_policy,
                "cancel_transfers": self.cancel_transfers,
                "downlink": self.downlink, "downlink_bandwidth": self.downlink_bandwidth,
                "model_size": math.nan if self.model_size is None else self.model_size,
                "decode_time": self.decode_time}
