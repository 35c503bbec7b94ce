"""LCC(p) over prime fields (docs/model.md, "LCC over a prime field").

Data and model are quantized to fixed point with ``bits`` fraction bits; the encoding, the
workers' gradients and the master's Lagrange interpolation are exact in F_q for a few
primes q below 2^21 at once (a residue number system: one LCC per prime, on the same
messages' residues), enough of them that the integer gradient, whose bound is known before
anything is computed, is recovered from its residues without wrapping (Chinese remainder
theorem) and then dequantized. Every residue is held in float64: a product of two is below
2^42, so sums of up to 2^11 of them are exact, which lets BLAS do the matrix products.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from pssim.errors import ConfigError
from pssim.schemes.coding import Code, earliest, pick

if TYPE_CHECKING:
    from pssim.schemes.lagrange import LCC

#: The moduli are the largest primes below 2^PRIME_BITS, as many as the bound needs, at
#: most MAX_PRIMES of them (a modulus of about 2^126).
PRIME_BITS = 21
MAX_PRIMES = 6
#: Bytes a residue takes on the network: a word of 32 bits (residues are below 2^21).
RESIDUE_BYTES = 4
#: Fraction bits of the fixed-point data and model unless given (docs/model.md).
DEFAULT_QUANTIZATION = 16
#: Integers up to 2^53 are exact in float64: a chunk of products summed stays below it.
_EXACT = float(2**53)
#: Quantized values must fit in int64 with room for the scaling of y; so must 2^b itself.
MAX_QUANTIZATION = 62
_INT_LIMIT = float(2**62)
#: Float operations that one modular multiply-add costs on this machine's numpy, measured
#: by benchmarks/bench_field.py (docs/model.md, "Decode cost").
MODULAR_COST = 19.0
#: The bound on the integer gradient is computed in float64: this factor covers its
#: rounding (a relative error below m·2^−53 for m rows).
_BOUND_SLACK = 1.0 + 1e-9


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % f for f in range(2, math.isqrt(n) + 1))


def primes(count: int, bits: int = PRIME_BITS) -> list[int]:
    """The ``count`` largest primes below 2^bits, largest first."""
    out: list[int] = []
    n = 2**bits - 1
    while len(out) < count:
        if _is_prime(n):
            out.append(n)
        n -= 1
    return out


def quantize(values: np.ndarray, bits: int, parameter: str = "quantization") -> np.ndarray:
    """round(values·2^bits) as int64 (round half to even: an error of at most 2^−bits−1),
    refusing values whose fixed-point form would not fit in int64."""
    scaled = np.asarray(values, dtype=float) * 2.0**bits
    if scaled.size and not np.abs(scaled).max() < _INT_LIMIT:
        raise ConfigError(parameter, bits, f"gives fixed-point values beyond 2^62 (the "
                          f"largest |value| is {np.abs(values).max():.3g}): use fewer bits")
    return np.rint(scaled).astype(np.int64)


def target_bits(values: np.ndarray) -> int:
    """The most fraction bits b at which the target's term of the integer gradient,
    2^b·round(2^b·y), stays below 2^62 (int64 would wrap it without a word)."""
    largest = float(np.abs(values).max(initial=0.0))
    if largest == 0:
        return MAX_QUANTIZATION
    return max(0, min(MAX_QUANTIZATION, math.ceil((62 - math.log2(largest)) / 2) - 1))


def scaled_target(values: np.ndarray, bits: int) -> np.ndarray:
    """2^bits·round(2^bits·y) as int64, for bits up to :func:`target_bits`."""
    return quantize(values, bits) * (1 << bits)


def mod_matmul(a: np.ndarray, b: np.ndarray, q: int) -> np.ndarray:
    """a @ b mod q for residues (float64 integers in [0, q)), exact: the inner dimension is
    summed in chunks whose partial sums stay below 2^53."""
    inner = a.shape[-1]
    chunk = max(1, int(_EXACT // float(q - 1) ** 2))
    out = np.zeros((*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2],
                    b.shape[-1]))
    for start in range(0, inner, chunk):
        part = slice(start, start + chunk)
        out = _residues(out + a[..., part] @ b[..., part, :], q)
    return out


def _residues(values: np.ndarray, q: int) -> np.ndarray:
    """values mod q as float64, for integers (int64, or float64 below 2^53): by int64,
    whose remainder numpy computes many times faster than fmod's."""
    return np.remainder(values.astype(np.int64, copy=False), q).astype(float)


def _inverse(values: np.ndarray, q: int) -> np.ndarray:
    """values^(q−2) mod q (Fermat), elementwise on int64 residues below 2^21."""
    result = np.ones_like(values)
    base = values % q
    e = q - 2
    while e:
        if e & 1:
            result = result * base % q
        base = base * base % q
        e >>= 1
    return result


def _lagrange_at(nodes: np.ndarray, at: np.ndarray, q: int, inverses: np.ndarray
                 ) -> np.ndarray:
    """The Lagrange basis of ``nodes`` (..., n) at points ``at`` (k,), none a node, mod q:
    (..., k, n), ℓ_j(z) = Π_i(z − a_i) / ((z − a_j)·Π_{i≠j}(a_j − a_i)). The points are
    integers 0..S, so 1/(z − a_j) is looked up in ``inverses`` (those of 1..S mod q);
    only the n denominators are inverted (Fermat)."""
    gaps = nodes[..., :, None] - nodes[..., None, :]
    gaps[..., np.arange(nodes.shape[-1]), np.arange(nodes.shape[-1])] = 1
    denominator = _product(gaps % q, q)
    gaps = at[:, None] - nodes[..., None, :]  # (..., k, n), none 0
    numerator = _product(gaps % q, q)  # Π_i(z − a_i): (..., k)
    looked = inverses[np.abs(gaps) - 1]
    inverse_gaps = np.where(gaps > 0, looked, q - looked)
    basis = numerator[..., None] * inverse_gaps % q
    return basis * _inverse(denominator, q)[..., None, :] % q


def _product(values: np.ndarray, q: int) -> np.ndarray:
    """The product mod q over the last axis of int64 residues, pairwise: log2(n) array
    operations instead of n."""
    while values.shape[-1] > 1:
        if values.shape[-1] % 2:
            values = np.concatenate([values, np.ones_like(values[..., :1])], axis=-1)
        values = values[..., ::2] * values[..., 1::2] % q
    return values[..., 0]


def _inverses(spread: int, q: int) -> np.ndarray:
    """The inverses of 1..spread mod q."""
    return _inverse(np.arange(1, spread + 1, dtype=np.int64), q)


class PrimeLagrangeCode(Code):
    """LCC(p) over prime fields, on fixed-point data: X̄ = round(2^b·X), ȳ = round(2^b·y),
    w̄ = round(2^b·w); partition gradients X̄ᵀ(X̄w̄ − 2^b·ȳ) = 2^3b·X_qᵀ(X_q w_q − y_q),
    with X_q = X̄/2^b and so on, a polynomial of degree 2 in the encoded data (w is not
    encoded), so that the worker's message is of degree 2(K − 1) in its point and the
    scheme's threshold 2K − 1 is the same as over the reals. β_k = k (k < K) and α_i = K + i
    are distinct field elements. ``radius`` bounds ‖w‖₂ over the run (by the caller's
    argument, docs/model.md), which bounds the integer gradient and so sets the moduli."""

    def __init__(self, scheme: LCC, x: np.ndarray, y: np.ndarray, bits: int,
                 radius: float) -> None:
        self.scheme = scheme
        self.bits = bits
        p = scheme.polynomials
        k = -(-scheme.workers // p)
        self.needed = 2 * k - 1
        self.data_points = np.arange(k, dtype=np.int64)
        self.points = k + np.arange(scheme.workers * scheme.messages_per_worker,
                                    dtype=np.int64)
        parts, rows, d = x.shape
        self.dimension = d
        self.bound, self.moduli = choose_moduli(x, y, bits, radius)
        xq = quantize(x, bits)
        yq = scaled_target(y, bits)
        self._absolute = _absolute_moments(xq, yq)
        if len(self.points) + k >= self.moduli[-1]:
            raise ConfigError("workers", scheme.workers, f"needs {len(self.points) + k} "
                              f"distinct field elements, more than F_{self.moduli[-1]} has")
        padded_x = np.zeros((p * k, rows, d), dtype=np.int64)
        padded_x[:parts] = xq
        padded_y = np.zeros((p * k, rows), dtype=np.int64)
        padded_y[:parts] = yq
        grams, moments, full_grams, full_moments = [], [], [], []
        self._tables = [_inverses(int(self.points[-1]), q) for q in self.moduli]
        for q, table in zip(self.moduli, self._tables, strict=True):
            encoding = _lagrange_at(self.data_points, self.points, q, table).astype(float)
            xr, yr = _residues(padded_x, q), _residues(padded_y, q)
            gram = np.zeros((len(self.points), d, d))
            moment = np.zeros((len(self.points), d))
            for part in range(p):
                xs = xr[part * k:(part + 1) * k].reshape(k, -1)
                ys = yr[part * k:(part + 1) * k]
                for start in range(0, len(self.points), 16):
                    chunk = slice(start, start + 16)
                    xt = mod_matmul(encoding[chunk], xs, q).reshape(-1, rows, d)
                    yt = mod_matmul(encoding[chunk], ys, q)
                    xtt = xt.transpose(0, 2, 1)
                    gram[chunk] = _residues(gram[chunk] + mod_matmul(xtt, xt, q), q)
                    moment[chunk] = _residues(
                        moment[chunk] + mod_matmul(xtt, yt[..., None], q)[..., 0], q)
            grams.append(gram)
            moments.append(moment)
            flat_x = xr[:parts].reshape(-1, d)
            full_grams.append(mod_matmul(flat_x.T, flat_x, q))
            full_moments.append(mod_matmul(flat_x.T, yr[:parts].reshape(-1, 1), q)[:, 0])
        self._grams, self._moments = grams, moments
        self._full = list(zip(full_grams, full_moments, strict=True))

    @cached_property
    def _crt(self) -> tuple[int, list[int]]:
        """The modulus M = Π q and the coefficients e_i (e_i ≡ 1 mod q_i, 0 mod the others)
        that give an integer from its residues: x ≡ Σ r_i·e_i (mod M)."""
        modulus = math.prod(self.moduli)
        return modulus, [(modulus // q) * pow(modulus // q, -1, q) % modulus
                         for q in self.moduli]

    def quantized_model(self, w: np.ndarray) -> np.ndarray:
        """The fixed-point model the workers get, refused (naming ``step``) if its gradient
        could wrap: the run left the radius the moduli were chosen for."""
        absolute, moment = self._absolute
        # |w̄| ≤ |w|·2^b + 1/2, bounded before rounding so that no model overflows int64.
        with np.errstate(over="ignore", invalid="ignore"):
            largest = np.abs(w) * 2.0**self.bits + 0.5
            reach = float((largest @ absolute + moment).max()) * _BOUND_SLACK
        if not (reach < math.prod(self.moduli) / 2 and largest.max() < _INT_LIMIT):
            raise ConfigError("step", None, f"lets the model leave the radius the prime "
                              f"moduli were chosen for (its gradient could reach "
                              f"{reach:.3g}, beyond half the modulus): use a smaller step")
        return quantize(w, self.bits, "step")

    def messages(self, w: np.ndarray) -> np.ndarray:
        """Each message's residues modulo every prime, side by side: (R, N, r/p, c·d)."""
        wq = self.quantized_model(w)
        out = []
        for q, gram, moment in zip(self.moduli, self._grams, self._moments, strict=True):
            n, d, _ = gram.shape
            products = mod_matmul(gram.reshape(n * d, d), _residues(wq, q).T, q)
            values = _residues(products.reshape(n, d, -1).transpose(2, 0, 1) + (q - moment), q)
            out.append(values.reshape(w.shape[0], self.scheme.workers, -1, d))
        return np.concatenate(out, axis=-1)

    def decode_residues(self, messages: np.ndarray, received: np.ndarray) -> np.ndarray:
        """Σ_k h(β_k) modulo each prime from the first 2K − 1 messages received:
        (R, c, d)."""
        chosen = earliest(received, self.needed)
        nodes = self.points[chosen]
        picked = pick(messages, chosen)  # (R, n, c·d)
        d = self.dimension
        out = []
        for i, (q, table) in enumerate(zip(self.moduli, self._tables, strict=True)):
            weights = _lagrange_at(nodes, self.data_points, q, table).sum(axis=-2) % q
            values = picked[..., i * d:(i + 1) * d]
            # Products below 2^42, at most 2^11 of them: exact in float64.
            out.append(_residues(np.einsum("rn,rnd->rd", weights.astype(float), values), q))
        return np.stack(out, axis=1)

    def lift(self, residues: np.ndarray) -> np.ndarray:
        """The signed integers (R, d) (Python ints) of residues (R, c, d)."""
        modulus, coefficients = self._crt
        total = sum((residues[:, i].astype(np.int64).astype(object) * e
                     for i, e in enumerate(coefficients)), start=np.zeros(
                         residues.shape[::2], dtype=object)) % modulus
        return np.where(total > modulus // 2, total - modulus, total)

    @property
    def description(self) -> str:
        """The fixed point and the moduli, in words."""
        modulus = math.prod(self.moduli)
        return (f"{self.bits} fraction bits; {len(self.moduli)} primes below 2^{PRIME_BITS} "
                f"(a modulus of 2^{math.log2(modulus):.1f}) for gradients up to "
                f"2^{math.log2(self.bound):.1f}")

    def dequantize(self, integers: np.ndarray) -> np.ndarray:
        return integers.astype(float) / 2.0 ** (3 * self.bits)

    def decode(self, messages: np.ndarray, received: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        decoded = self.dequantize(self.lift(self.decode_residues(messages, received)))
        return decoded, np.full(len(decoded), np.nan)

    def quantized(self, w: np.ndarray) -> np.ndarray:
        """The sum of the quantized partitions' gradients at the fixed-point model, by the
        same modular arithmetic on the uncoded data: what the decode gives exactly."""
        wq = self.quantized_model(w)
        out = []
        for q, (gram, moment) in zip(self.moduli, self._full, strict=True):
            out.append(_residues(mod_matmul(_residues(wq, q), gram, q) + (q - moment), q))
        return self.dequantize(self.lift(np.stack(out, axis=1)))

    def modular_operations(self, dimension: int) -> float:
        """Modular multiply-adds of one decode (docs/model.md, "Decode cost"): per prime,
        the denominators Π_{i≠j}(a_j − a_i) (n²), the products Π_i(β_k − a_i) (Kn), the
        denominators' inverses by Fermat (2·21 products each), the basis at the K data
        points and its sums (3Kn), the combination (nd); then the Chinese remainder lift
        (c² per coordinate)."""
        n, k, c = self.needed, len(self.data_points), len(self.moduli)
        per_prime = n**2 + 4 * k * n + 2 * PRIME_BITS * n + n * dimension
        return c * per_prime + c**2 * dimension

    def flops(self, dimension: int) -> float:
        """The decode's cost in floating-point operations: its modular multiply-adds at
        the measured cost of one (MODULAR_COST)."""
        return MODULAR_COST * self.modular_operations(dimension)


def _absolute_moments(xq: np.ndarray, yq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|X̄|ᵀ|X̄| and |X̄|ᵀ|ȳ| (floats): |G_j| ≤ (|w̄|ᵀ|X̄|ᵀ|X̄| + |X̄|ᵀ|ȳ|)_j."""
    flat_x = np.abs(xq.reshape(-1, xq.shape[-1]).astype(float))
    return flat_x.T @ flat_x, flat_x.T @ np.abs(yq.reshape(-1).astype(float))


def gradient_bound(xq: np.ndarray, yq: np.ndarray, model_norm: float) -> float:
    """A bound on every coordinate of the integer gradient Σ_i x̄_ij(x̄_iᵀw̄ − ȳ_i) over
    models with ‖w̄‖₂ ≤ ``model_norm``: max_j Σ_i |x̄_ij|·(‖x̄_i‖₂·model_norm + |ȳ_i|)
    (Cauchy–Schwarz), rounded up."""
    flat_x = xq.reshape(-1, xq.shape[-1]).astype(float)
    reach = np.linalg.norm(flat_x, axis=1) * model_norm + np.abs(yq.reshape(-1))
    return float((np.abs(flat_x).T @ reach).max(initial=0.0)) * _BOUND_SLACK + 1.0


def choose_moduli(x: np.ndarray, y: np.ndarray, bits: int, radius: float
                  ) -> tuple[float, list[int]]:
    """The bound on the integer gradient of data ``x`` (…, d) and ``y`` at ``bits``
    fraction bits over models with ‖w‖₂ ≤ ``radius``, and the moduli that hold it (a
    ConfigError naming ``quantization``, with the most bits that fit, when too many are
    needed or the target's fixed point would pass int64)."""
    d = x.shape[-1]

    def bound_at(b: int) -> float:
        return gradient_bound(quantize(x, b), scaled_target(y, b),
                              radius * 2.0**b + math.sqrt(d) / 2)

    top = target_bits(y)
    if bits > top:
        raise ConfigError("quantization", bits, f"gives fixed-point targets 2^b·round(2^b·y) "
                          f"beyond 2^62 (the largest |y| is {np.abs(y).max():.3g}): use at "
                          f"most {_most_bits(bound_at, top + 1)} bits, or scale the target "
                          "down")
    bound = bound_at(bits)
    return bound, _moduli(bound, bound_at, bits)


def _most_bits(bound_at: Callable[[int], float], below: int) -> int:
    """The most fraction bits under ``below`` whose gradient bound the MAX_PRIMES primes
    hold (0 if none)."""
    product = math.prod(primes(MAX_PRIMES))
    return next((b for b in range(below - 1, 0, -1) if 2 * bound_at(b) + 1 < product), 0)


def _moduli(bound: float, bound_at: Callable[[int], float], bits: int) -> list[int]:
    """The fewest primes whose product exceeds 2·bound + 1 (the signed integers of
    magnitude up to ``bound`` lift without wrapping), or a ConfigError naming
    ``quantization`` with the most bits that fit (``bound_at(b)``, the bound with b bits)."""
    candidates = primes(MAX_PRIMES)
    product = 1
    for count, q in enumerate(candidates, start=1):
        product *= q
        if product > 2 * bound + 1:
            return candidates[:count]
    fits = _most_bits(bound_at, bits)
    raise ConfigError("quantization", bits, f"fraction bits let the gradient reach "
                      f"{bound:.3g} (about 2^{math.log2(bound):.0f}), beyond what "
                      f"{MAX_PRIMES} primes below 2^{PRIME_BITS} (a modulus of about "
                      f"2^{math.log2(product):.0f}) hold without wrapping: use at most "
                      f"{fits} bits, or scale the data down")
