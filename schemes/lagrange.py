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
POINT_SETS = ("chebyshev", "equispaced")
BASES = ("chebyshev", "barycentric", "monomial")
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
        parts, rows, d = x.shape
        padded_x = np.zeros((p * k, rows, d))
        padded_x[:parts] = x
        padded_y = np.zeros((p * k, rows))
        padded_y[:parts] = y
        gram = np.zeros((len(self.points), d, d))
        moment = np.zeros((len(self.points), d))
        for q in range(p):
            xs, ys = padded_x[q * k:(q + 1) * k], padded_y[q * k:(q + 1) * k]
            for start in range(0, len(self.points), _ENCODE_CHUNK):
                chunk = slice(start, start + _ENCODE_CHUNK)
                xt = (encoding[chunk] @ xs.reshape(k, -1)).reshape(-1, rows, d)
                yt = encoding[chunk] @ ys
                gram[chunk] += np.matmul(xt.transpose(0, 2, 1), xt)
                moment[chunk] += np.einsum("qrd,qr->qd", xt, yt)
        self.pieces = Quadratic(gram, moment)
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
