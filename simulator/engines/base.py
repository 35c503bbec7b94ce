"""What a realization engine is, and the one result type every engine returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from pssim.network import Discipline
    from pssim.schemes import Scheme

#: One trace row: rep, time, worker, event, computation, message, bytes.
TraceRow = tuple[int, float, int, str, int, int, float]


@dataclass(frozen=True)
class Outcome:
    """Per realization, what the master saw by the end T of the iteration."""

    #: T, seconds.
    completion_time: np.ndarray
    #: Messages received at or before T.
    messages: np.ndarray
    #: Messages whose transmission began at or before T.
    messages_sent: np.ndarray
    #: Computations finished at or before T, over all workers.
    computations: np.ndarray

    @classmethod
    def empty(cls, reps: int) -> Outcome:
        return cls(np.empty(reps), *(np.empty(reps, dtype=np.int64) for _ in range(3)))

    def __setitem__(self, where: slice, part: Outcome) -> None:
        for f in fields(self):
            getattr(self, f.name)[where] = getattr(part, f.name)

    @classmethod
    def concat(cls, parts: list[Outcome]) -> Outcome:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts])
                     for f in fields(cls)))


class Engine(ABC):
    """A way to simulate realizations of one scheme on a network."""

    name: ClassVar[str]

    @abstractmethod
    def unsupported(self, network: Discipline, trace: bool) -> str | None:
        """Why this engine cannot reproduce the configuration exactly, or None."""

    @abstractmethod
    def simulate(self, scheme: Scheme, network: Discipline, finish: np.ndarray,
                 first_rep: int, trace: list[TraceRow] | None) -> Outcome:
        """Realizations ``first_rep`` onwards of ``finish`` (finish times, shape (reps, N,
        r)); trace rows go to ``trace`` when it is given."""
