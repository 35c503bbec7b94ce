"""What the schemes' encoders and decoders share (docs/model.md, "Coded gradient descent").

A scheme's code turns the data partitions into the vectors its workers send and decodes
the full gradient from the messages the master holds. Every array is batched over
realizations (first axis R), which run in lockstep: iteration t of every realization is
decoded at once. No engine calls this: the clock never depends on the numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import expit

from pssim.errors import ConfigError

#: Elements of the logits array (realizations × rows) evaluated at once by
#: :class:`Logistic`, which bounds its memory when thousands of realizations run in
#: lockstep on large data.
_LOGIT_CHUNK = 1 << 22


class Pieces(Protocol):
    """Data pieces whose gradients a code encodes: a partition each for the uncoded
    schemes and GC, an encoded partition each for LCC."""

    def gradients(self, w: np.ndarray) -> np.ndarray:
        """Each piece's gradient at each realization's model ``w`` (R, d): (R, pieces, d)."""
        ...

    def select(self, pieces: np.ndarray) -> Pieces:
        """The pieces of index ``pieces`` alone, in that order."""
        ...


@dataclass(frozen=True)
class Quadratic:
    """Pieces whose gradient is affine in the model: piece q's is ``gram[q] @ w −
    moment[q]``, the least-squares gradient Xᵀ(Xw − y) of data (X, y) with Gram matrix XᵀX
    and moment Xᵀy. Evaluating all of them is one matrix product over realizations."""

    gram: np.ndarray  # (pieces, d, d)
    moment: np.ndarray  # (pieces, d)

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> Quadratic:
        """From data pieces ``x`` (pieces, rows, d) and ``y`` (pieces, rows)."""
        return cls(np.matmul(x.transpose(0, 2, 1), x), np.einsum("prd,pr->pd", x, y))

    def gradients(self, w: np.ndarray) -> np.ndarray:
        """Each piece's gradient at each realization's model ``w`` (R, d): (R, pieces, d)."""
        pieces, d, _ = self.gram.shape
        products = (self.gram.reshape(pieces * d, d) @ w.T).reshape(pieces, d, -1)
        return products.transpose(2, 0, 1) - self.moment

    def select(self, pieces: np.ndarray) -> Quadratic:
        """The pieces of index ``pieces`` alone, in that order."""
        return Quadratic(self.gram[pieces], self.moment[pieces])


@dataclass(frozen=True)
class Logistic:
    """Pieces of logistic regression: piece q's gradient is X_qᵀ(σ(X_q w) − y_q), labels
    y in {0, 1}. Not affine in w, so it is evaluated from the rows themselves: 4·rows·d
    operations per piece and realization."""

    x: np.ndarray  # (pieces, rows, d)
    y: np.ndarray  # (pieces, rows)

    def gradients(self, w: np.ndarray) -> np.ndarray:
        """Each piece's gradient at each realization's model ``w`` (R, d): (R, pieces, d)."""
        pieces, rows, d = self.x.shape
        flat = self.x.reshape(pieces * rows, d)
        out = np.empty((w.shape[0], pieces, d))
        chunk = max(1, _LOGIT_CHUNK // (pieces * rows))
        for start in range(0, w.shape[0], chunk):
            part = slice(start, start + chunk)
            # expit is σ without overflow for logits of either sign.
            residual = expit(flat @ w[part].T) - self.y.reshape(-1, 1)  # (rows·pieces, R)
            products = np.matmul(self.x.transpose(0, 2, 1),
                                 residual.reshape(pieces, rows, -1))  # (pieces, d, R)
            out[part] = products.transpose(2, 0, 1)
        return out

    def select(self, pieces: np.ndarray) -> Logistic:
        """The pieces of index ``pieces`` alone, in that order."""
        return Logistic(self.x[pieces], self.y[pieces])


#: Each learning problem's pieces from data pieces x (pieces, rows, d) and y (pieces, rows).
PIECES: dict[str, Callable[[np.ndarray, np.ndarray], Pieces]] = {
    "least_squares": Quadratic.of, "logistic": Logistic}


def pieces_of(x: np.ndarray, y: np.ndarray, problem: str = "least_squares") -> Pieces:
    """The pieces of ``problem`` (a name in :data:`PIECES`) on data pieces ``x`` and ``y``."""
    if problem not in PIECES:
        raise ConfigError("problem", problem, f"must be one of {', '.join(PIECES)}")
    return PIECES[problem](x, y)


class Code(ABC):
    """A scheme's encoder and decoder on one data set split into N partitions."""

    @abstractmethod
    def messages(self, w: np.ndarray) -> np.ndarray:
        """What every worker sends at models ``w`` (R, d): (R, N, messages per worker, d);
        message j of worker i is the j-th the engines see from it."""

    @abstractmethod
    def decode(self, messages: np.ndarray, received: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """The decoded sum of the N partition gradients (R, d) and the condition number of
        the system solved (R; NaN where none is), from ``messages`` and the instants
        ``received`` (R, N, messages per worker) at which the master got them, ∞ for those
        it does not hold."""

    def quantized(self, w: np.ndarray) -> np.ndarray | None:
        """The gradient (R, d) that the decode gives exactly, that of the fixed-point data
        and model, for a code that quantizes them; None for one that computes with real
        numbers."""
        return None

    @abstractmethod
    def flops(self, dimension: int) -> float:
        """Floating-point operations of one decode of d-dimensional gradients, a function
        of the scheme, N, r, p and d only (docs/model.md, "Decode cost")."""


def earliest(received: np.ndarray, count: int) -> np.ndarray:
    """Per realization, the flat indices (worker-major) of the ``count`` messages received
    first; equal instants go lower worker, then earlier message, first."""
    flat = received.reshape(received.shape[0], -1)
    order = np.argsort(flat, axis=1, kind="stable")[:, :count]
    if not np.isfinite(np.take_along_axis(flat, order, axis=1)).all():
        raise ValueError(f"the master holds fewer than the {count} messages it needs")
    return order


def pick(messages: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The messages at flat ``indices`` (R, n) of each realization: (R, n, d)."""
    r, *_, d = messages.shape
    return np.take_along_axis(messages.reshape(r, -1, d), indices[..., None], axis=1)


def lstsq_flops(rows: int, columns: int) -> float:
    """Householder QR least squares of a rows × columns system (rows ≥ columns) and its
    solve: 2·rows·columns² − (2/3)·columns³ + 2·rows·columns."""
    return 2 * rows * columns**2 - 2 * columns**3 / 3 + 2 * rows * columns

