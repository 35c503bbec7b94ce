"""Lagrange coded computation with p polynomials (docs/model.md, "Schemes").

The N data rows are split over p polynomials of degree ⌈N/p⌉ − 1; a worker evaluates all
p at one point (p computations) and sends their combined result, so the master needs
2⌈N/p⌉ − 1 messages. p = r is the paper's LCC, p = 1 its LCC-MMC, p = 2 LCC-MMC-2.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from pssim.errors import ConfigError, integer
from pssim.schemes.base import Scheme
from pssim.schemes.coding import Code, Quadratic, earliest, pick
from pssim.schemes.prime import PrimeLagrangeCode
from pssim.schemes.registry import register


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@register
class LCC(Scheme):
    """LCC with ``polynomials`` polynomials (default: the load r, one message per worker)."""

    name = "LCC"
    fields: ClassVar[tuple[str, ...]] = ("real", "prime")

    def __init__(self, workers: int, load: int, polynomials: int | None = None) -> None:
        super().__init__(workers, load)
        p = self.load if polynomials is None else integer("polynomials", polynomials, low=1)
        if self.load % p:
            raise ConfigError("polynomials", p,
                              f"must divide the load r={self.load} (each message combines "
                              "one evaluation of every polynomial)")
        self.polynomials = p
        self._require_threshold(f"2⌈N/{p}⌉ − 1")

    @property
    def group(self) -> int:
        return self.polynomials

    @property
    def threshold(self) -> int:
        return 2 * _ceil_div(self.workers, self.polynomials) - 1

    @property
    def label(self) -> str:
        if type(self) is LCC and self.polynomials != self.load:
            return f"LCC({self.polynomials})"
        return self.name

    def identity(self) -> tuple[Any, ...]:
        return ("LCC", self.polynomials)

    def parameters(self) -> dict[str, Any]:
        return {**super().parameters(), "polynomials": self.polynomials}

    def code(self, x: np.ndarray, y: np.ndarray, **options: Any) -> Code:
        problem = options.get("problem", "least_squares")
        if problem != "least_squares":
            # The decode interpolates the gradient as a polynomial in the evaluation point:
            # exact only when the gradient is a polynomial in the data.
            raise ConfigError("problem", problem,
                              f"{self.label} needs a polynomial gradient, such as least "
                              f"squares (the {problem} gradient is not): choose GC, UC-MMC "
                              "or UC-MMC-PG")
        if options.get("field", "real") == "prime":
            return PrimeLagrangeCode(self, x, y, options["quantization"], options["radius"])
        if (options.get("points") == "circle") != (options.get("basis") == "laurent"):
            raise ConfigError("basis", options.get("basis"), "must be laurent with points "
                              "circle, and only there (the roots of unity encode by powers "
                              "z^k; the real points by Lagrange polynomials)")
        if options.get("points") == "circle":
            return CircleCode(self, x, y)
        return LagrangeCode(self, x, y, **{k: v for k, v in options.items()
                                            if k in ("points", "basis")})


@register
class LCCMMC(LCC):
    """One polynomial: a message after every computation, any 2N − 1 of them decode."""

    name = "LCC-MMC"

    def __init__(self, workers: int, load: int) -> None:
        super().__init__(workers, load, polynomials=1)


@register
class LCCMMC2(LCC):
    """Two polynomials: a message after every two computations."""

    name = "LCC-MMC-2"

    def __init__(self, workers: int, load: int) -> None:
        if integer("load", load, low=1) % 2:
            raise ConfigError("load", load, "LCC-MMC-2 needs an even load r")
        super().__init__(workers, load, polynomials=2)


#: Evaluation-point families and interpolation bases (docs/model.md, "Coded gradient
#: descent").
POINT_SETS = ("chebyshev", "equispaced", "circle")
BASES = ("chebyshev", "barycentric", "monomial", "laurent")
#: Encoded points processed at once, which bounds the encoder's memory.
_ENCODE_CHUNK = 16


def point_set(kind: str, count: int) -> np.ndarray:
    """``count`` points in [−1, 1]: Chebyshev points of the first kind, cos((2k+1)π/2n),
    or equispaced points including both ends."""
    if kind == "chebyshev":
        return np.cos((2 * np.arange(count) + 1) * np.pi / (2 * count))
    if kind == "equispaced":
        return np.linspace(-1.0, 1.0, count) if count > 1 else np.zeros(1)
    raise ConfigError("points", kind, f"must be one of {', '.join(POINT_SETS)}")


def lagrange_basis(nodes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The Lagrange basis polynomials of ``nodes`` (..., n) evaluated at ``at`` (k,):
    (..., k, n), by the first (modified) barycentric form ℓ(x)·w_j/(x − x_j), which needs
    no sum that could cancel (Higham 2004); a point that is a node gets that node's basis
    vector exactly."""
    diff = nodes[..., :, None] - nodes[..., None, :]
    n = nodes.shape[-1]
    diff[..., np.arange(n), np.arange(n)] = 1.0
    weights = 1.0 / diff.prod(axis=-1)
    gap = at[:, None] - nodes[..., None, :]  # (..., k, n)
    exact = gap == 0
    safe = np.where(exact, 1.0, gap)
    basis = safe.prod(axis=-1, keepdims=True) * weights[..., None, :] / safe
    return np.where(exact.any(axis=-1, keepdims=True), exact.astype(float), basis)


def encoded_pieces(encoding: np.ndarray, x: np.ndarray, y: np.ndarray, polynomials: int
                   ) -> Quadratic:
    """The least-squares pieces of the encoded partitions at every point, summed over the
    p polynomials: the N partitions, padded with zero partitions to p·K, polynomial q
    encoding partitions qK..qK+K−1 by ``encoding`` (points, K); Gram matrices X̃ᴴX̃ and
    moments X̃ᴴỹ (the conjugate for a complex encoding)."""
    points, k = encoding.shape
    parts, rows, d = x.shape
    padded_x = np.zeros((polynomials * k, rows, d))
    padded_x[:parts] = x
    padded_y = np.zeros((polynomials * k, rows))
    padded_y[:parts] = y
    gram = np.zeros((points, d, d), dtype=encoding.dtype)
    moment = np.zeros((points, d), dtype=encoding.dtype)
    for q in range(polynomials):
        xs, ys = padded_x[q * k:(q + 1) * k], padded_y[q * k:(q + 1) * k]
        for start in range(0, points, _ENCODE_CHUNK):
            chunk = slice(start, start + _ENCODE_CHUNK)
            xt = (encoding[chunk] @ xs.reshape(k, -1)).reshape(-1, rows, d)
            yt = encoding[chunk] @ ys
            xh = xt.conj() if np.iscomplexobj(xt) else xt
            gram[chunk] += np.matmul(xh.transpose(0, 2, 1), xt)
            moment[chunk] += np.einsum("qrd,qr->qd", xh, yt)
    return Quadratic(gram, moment)


class CircleCode(Code):
    """LCC(p) at roots of unity, the embedding of Ramamoorthy and Tang (numerically stable
    coded matrix computations, 2019): polynomial q encodes its K partitions as X̃(z) =
    Σ_k X_{qK+k}·z^k, and the evaluation points are the N·r/p-th roots of unity z_j =
    exp(2πij/(N·r/p)), consecutive for a worker. On the unit circle z̄ = 1/z, so a
    worker's message Σ_q X̃_q(z)ᴴ(X̃_q(z)w − ỹ_q(z)) is a Laurent polynomial
    Σ_{|e|<K} a_e·z^e whose constant term a_0 is the full gradient: 2K − 1 messages, the
    threshold over the reals, give it by solving the Vandermonde system of the received
    points, whose condition number is 1 when they are all the roots and grows far more
    slowly than on the real line as points are missing. A complex number a + ib is the
    rotation-like real matrix [[a, −b], [b, a]]: the arithmetic is numpy's complex."""

    def __init__(self, scheme: LCC, x: np.ndarray, y: np.ndarray) -> None:
        self.scheme = scheme
        p = scheme.polynomials
        k = _ceil_div(scheme.workers, p)
        count = scheme.workers * scheme.messages_per_worker
        self.points = np.exp(2j * np.pi * np.arange(count) / count)
        self.pieces = encoded_pieces(self.points[:, None] ** np.arange(k), x, y, p)
        self.needed = 2 * k - 1
        self.exponents = np.arange(-(k - 1), k)

    def messages(self, w: np.ndarray) -> np.ndarray:
        g = self.pieces.gradients(w.astype(complex))
        return g.reshape(g.shape[0], self.scheme.workers, -1, g.shape[-1])

    def decode(self, messages: np.ndarray, received: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        chosen = earliest(received, self.needed)
        system = self.points[chosen][..., None] ** self.exponents  # (R, n, 2K − 1)
        # The decoding vector c solves Vᵀc = e_0: a_0 = e_0ᵀV⁻¹h = cᵀh.
        unit = (self.exponents == 0).astype(complex)
        weights = np.linalg.solve(system.transpose(0, 2, 1),
                                  np.broadcast_to(unit, chosen.shape)[..., None])[..., 0]
        decoded = np.einsum("rn,rnd->rd", weights, pick(messages, chosen))
        return decoded.real, np.linalg.cond(system)

    def flops(self, dimension: int) -> float:
        """Complex arithmetic at 4 real operations an operation: the basis matrix by
        powers, LU, two triangular solves, the combination."""
        n = self.needed
        return 4 * (n**2 + 2 * n**3 / 3 + 2 * n**2 + 2 * n * dimension)


def _vander(basis: str, x: np.ndarray, degree: int) -> np.ndarray:
    if basis == "chebyshev":
        return np.polynomial.chebyshev.chebvander(x, degree)
    return np.polynomial.polynomial.polyvander(x, degree)


class LagrangeCode(Code):
    """LCC(p) on real numbers: the N partitions (padded with zero partitions to p·K, K =
    ⌈N/p⌉) are encoded by p Lagrange polynomials through the K data points β; worker i's
    j-th message is the sum over the p encoded partitions at its evaluation point α_{i,j}
    of their least-squares gradient, a polynomial of degree 2(K − 1) in the point whose
    values at β sum to the full gradient. The master interpolates it from the first
    2K − 1 messages it received and sums its values at β."""

    def __init__(self, scheme: LCC, x: np.ndarray, y: np.ndarray,
                 points: str = "chebyshev", basis: str = "chebyshev") -> None:
        if basis not in BASES:
            raise ConfigError("basis", basis, f"must be one of {', '.join(BASES)}")
        self.scheme = scheme
        self.basis = basis
        p = scheme.polynomials
        k = _ceil_div(scheme.workers, p)
        per_worker = scheme.messages_per_worker
        self.data_points = point_set(points, k)
        self.points = point_set(points, scheme.workers * per_worker)
        encoding = lagrange_basis(self.data_points, self.points)  # (points, K)
        self.pieces = encoded_pieces(encoding, x, y, p)
        self.needed = 2 * k - 1

    def messages(self, w: np.ndarray) -> np.ndarray:
        g = self.pieces.gradients(w)
        return g.reshape(g.shape[0], self.scheme.workers, -1, g.shape[-1])

    def decode(self, messages: np.ndarray, received: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        chosen = earliest(received, self.needed)
        nodes = self.points[chosen]
        if self.basis == "barycentric":
            weights = lagrange_basis(nodes, self.data_points).sum(axis=-2)
            cond = np.full(len(nodes), np.nan)
        else:
            degree = self.needed - 1
            system = _vander(self.basis, nodes, degree)
            at_data = _vander(self.basis, self.data_points, degree).sum(axis=0)
            # The decoding vector c solves Vᵀc = Σ_k φ(β_k): the interpolant's coefficients
            # are V⁻¹h, and their values at β summed are φ(β)ᵀV⁻¹h.
            weights = np.linalg.solve(system.transpose(0, 2, 1),
                                      np.broadcast_to(at_data, nodes.shape)[..., None])[..., 0]
            cond = np.linalg.cond(system)
        return np.einsum("rn,rnd->rd", weights, pick(messages, chosen)), cond

    def flops(self, dimension: int) -> float:
        n, k = self.needed, len(self.data_points)
        if self.basis == "barycentric":
            # Weights (differences and products), the basis at the K data points, the sums.
            solve: float = 2 * n**2 + 4 * k * n
        else:
            # The basis matrix by its recurrence, LU, two triangular solves.
            solve = 2 * n**2 + 2 * n**3 / 3 + 2 * n**2
        return solve + 2 * n * dimension
