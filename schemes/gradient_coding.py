"""Gradient coding with cyclic repetition: one message per worker after all r computations
(Tandon et al., ICML 2017; docs/model.md, "Schemes" and "Coded gradient descent")."""

from __future__ import annotations

from typing import Any

import numpy as np

from pssim.schemes.base import Scheme
from pssim.schemes.coding import Code, Pieces, earliest, lstsq_flops, pick, pieces_of
from pssim.schemes.registry import register

#: Seed of the random matrix H of the construction: the code is a fixed object of N and
#: r, the same in every run.
CODE_SEED = 2017


@register
class GC(Scheme):
    """Any N − r + 1 workers' messages decode the full gradient."""

    name = "GC"

    @property
    def group(self) -> int:
        return self.load

    @property
    def threshold(self) -> int:
        return self.workers - self.load + 1

    def code(self, x: np.ndarray, y: np.ndarray, **options: Any) -> Code:
        return CyclicCode(self, pieces_of(x, y, options.get("problem", "least_squares")))


def cyclic_matrix(workers: int, load: int, seed: int = CODE_SEED) -> np.ndarray:
    """The encoding matrix B (N × N) of cyclic repetition (Tandon et al., Algorithm 2):
    row i, worker i's combination, has its support on partitions i..i+r−1 (mod N) and lies
    in the null space of a random s × N matrix H whose rows sum to zero (s = r − 1
    stragglers), so that any N − s rows span the all-ones vector."""
    s = load - 1
    rng = np.random.default_rng(seed)
    head = rng.standard_normal((s, workers - 1))
    h = np.hstack([head, -head.sum(axis=1, keepdims=True)])
    b = np.zeros((workers, workers))
    for i in range(workers):
        support = (i + np.arange(load)) % workers
        b[i, i] = 1.0
        if s:
            b[i, support[1:]] = -np.linalg.solve(h[:, support[1:]], h[:, i])
    return b


def decoding_vectors(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each realization's finishers' rows B_F (R, n, N), the least-squares a with
    B_Fᵀa = 1 (exact when 1 is in their span) and the condition number of B_F."""
    u, sv, vh = np.linalg.svd(rows, full_matrices=False)
    a = np.einsum("rij,rj->ri", u, vh.sum(axis=2) / sv)
    return a, sv[:, 0] / sv[:, -1]


class CyclicCode(Code):
    """Worker i sends Σ_j B[i, j]·g_j; the master combines the first N − r + 1 messages
    it received with their decoding vector."""

    def __init__(self, scheme: GC, pieces: Pieces) -> None:
        self.scheme = scheme
        self.pieces = pieces
        self.matrix = cyclic_matrix(scheme.workers, scheme.load)

    def messages(self, w: np.ndarray) -> np.ndarray:
        g = self.pieces.gradients(w)
        return np.einsum("ij,rjd->rid", self.matrix, g)[:, :, None, :]

    def decode(self, messages: np.ndarray, received: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        finishers = earliest(received, self.scheme.threshold)
        a, cond = decoding_vectors(self.matrix[finishers])
        return np.einsum("rn,rnd->rd", a, pick(messages, finishers)), cond

    def flops(self, dimension: int) -> float:
        n = self.scheme.threshold
        return lstsq_flops(self.scheme.workers, n) + 2 * n * dimension
