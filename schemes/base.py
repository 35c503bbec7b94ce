"""What a scheme is: an assignment, a grouping and a decoding rule (docs/model.md, "Schemes").

Engines see a scheme only through ``group``, ``labels`` and ``threshold``:
worker i sends its j-th message after computation (j+1)·group, that message carries the
piece ``labels[i, j]``, and the master completes once it holds ``threshold`` distinct
pieces. A count rule gives every message its own label; an uncoded scheme labels a
message with the data partition it carries, so duplicates do not count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from pssim.errors import ConfigError, integer

if TYPE_CHECKING:
    from pssim.schemes.coding import Code


class Scheme(ABC):
    """A straggler-mitigation scheme at a given number of workers and load."""

    #: Registry name; parametrised families add their parameter in ``label``.
    name: ClassVar[str]
    #: True when the master counts messages (every label distinct), which is what the
    #: closed forms of the paper cover.
    count_rule: ClassVar[bool] = True
    #: The arithmetic its code can decode in (docs/model.md, "LCC over a prime field").
    fields: ClassVar[tuple[str, ...]] = ("real",)

    def __init__(self, workers: int, load: int) -> None:
        self.workers = integer("workers", workers, low=1)
        self.load = integer("load", load, low=1)
        if self.load > self.workers:
            raise ConfigError("load", load, f"must be between 1 and workers={self.workers}")

    @property
    @abstractmethod
    def group(self) -> int:
        """Computations combined into one message."""

    @property
    @abstractmethod
    def threshold(self) -> int:
        """Distinct pieces the master needs to decode."""

    @property
    def messages_per_worker(self) -> int:
        return self.load // self.group

    @property
    def label(self) -> str:
        """Name shown in tables, including the family's parameter if any."""
        return self.name

    def identity(self) -> tuple[Any, ...]:
        """What makes two schemes the same, whatever their names (LCC(1) is LCC-MMC)."""
        return (self.label,)

    def labels(self) -> np.ndarray:
        """Piece carried by each message, shape (workers, messages_per_worker)."""
        m = self.messages_per_worker
        return np.arange(self.workers * m).reshape(self.workers, m)

    def parameters(self) -> dict[str, Any]:
        """Columns describing the scheme in the summary."""
        return {"scheme": self.label, "workers": self.workers, "load": self.load,
                "group": self.group, "threshold": self.threshold}

    def code(self, x: np.ndarray, y: np.ndarray, **options: Any) -> Code:
        """The scheme's encoder and decoder on data partitions ``x`` (N, rows, d) and ``y``
        (N, rows) (docs/model.md, "Coded gradient descent"); ``options`` are the decoder's
        (``points``, ``basis``), ignored by schemes that take none."""
        raise ConfigError("scheme", self.label, "has no encoder and decoder for real "
                          "numbers; choose GC, LCC(p), UC-MMC or UC-MMC-PG")

    def _require_threshold(self, how: str) -> None:
        available = self.workers * self.messages_per_worker
        if self.threshold > available:
            raise ConfigError(
                "load", self.load,
                f"{self.label} needs {self.threshold} messages ({how}) but N={self.workers} "
                f"workers at load {self.load} send at most {available}; raise the load or "
                "the number of workers")

    def __repr__(self) -> str:
        return f"{self.label}(workers={self.workers}, load={self.load})"
