"""What a realization engine is, and the one result type every engine returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from pssim.network import Discipline
    from pssim.schemes import Scheme
    from pssim.training import Training

#: One trace row: rep, time, worker, event, computation, message, bytes, iteration.
TraceRow = tuple[int, float, int, str, int, int, float, int]


@dataclass(frozen=True)
class Outcome:
    """Per realization and iteration (iterations of a realization in a row), what the
    master saw by the end T_t of the iteration, counting that iteration's own messages and
    computations only."""

    #: T_t − S_t, seconds.
    completion_time: np.ndarray
    #: Messages received at or before T_t.
    messages: np.ndarray
    #: Messages whose transmission began at or before T_t.
    messages_sent: np.ndarray
    #: Computations finished at or before T_t, over all workers.
    computations: np.ndarray
    #: S_t and T_t, seconds from the start of the run.
    start: np.ndarray
    end: np.ndarray
    #: Messages received after T_t and at or before the end of the run.
    late_messages: np.ndarray
    #: Bytes that iteration t's transmissions aborted at T_t had transferred (0 unless
    #: ``cancel_transfers = abort``).
    aborted_bytes: np.ndarray

    @classmethod
    def empty(cls, rows: int) -> Outcome:
        def counts() -> np.ndarray:
            return np.empty(rows, dtype=np.int64)

        return cls(np.empty(rows), counts(), counts(), counts(), np.empty(rows),
                   np.empty(rows), counts(), np.empty(rows))

    @classmethod
    def single(cls, completion_time: np.ndarray, messages: np.ndarray,
               messages_sent: np.ndarray, computations: np.ndarray,
               aborted_bytes: np.ndarray) -> Outcome:
        """One iteration per realization, started at 0, after which nothing is late."""
        return cls(completion_time, messages, messages_sent, computations,
                   np.zeros_like(completion_time), completion_time,
                   np.zeros_like(messages), aborted_bytes)

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
    def unsupported(self, network: Discipline, trace: bool,
                    training: Training | None = None) -> str | None:
        """Why this engine cannot reproduce the configuration exactly, or None."""

    @abstractmethod
    def simulate(self, scheme: Scheme, network: Discipline, finish: list[np.ndarray],
                 first_rep: int, trace: list[TraceRow] | None,
                 training: Training | None = None) -> Outcome:
        """Realizations ``first_rep`` onwards: ``finish[t]`` holds the finish times of
        iteration t from its start, shape (reps, N, r); trace rows go to ``trace`` when it
        is given. Without ``training``, one iteration."""
