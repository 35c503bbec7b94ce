"""What the schemes' encoders and decoders share (docs/model.md, "Coded gradient descent").

A scheme's code turns the data partitions into the vectors its workers send and decodes
the full gradient from the messages the master holds. Every array is batched over
realizations (first axis R), which run in lockstep: iteration t of every realization is
decoded at once. No engine calls this: the clock never depends on the numbers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


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

