"""Closed forms for the completion time of count-rule schemes (paper, Section IV, eqs. 12-18).

Model: N workers, each assigned ``load`` = r computations. Per iteration a worker draws one
duration ``X = alpha + Exp(rate=mu)`` and finishes its c-th computation at ``c * X``, so it has
finished at least s computations by time t with probability (eq. 12)

    F_s(t) = 1 - exp(-mu * (t / s - alpha))   for t >= s * alpha, else 0.

A count-rule scheme sends one message after every ``group`` = g computations and the master
completes at the first time T at which the total number of messages M(t) reaches
``threshold`` = K. GC is g = r, K = N - r + 1; LCC with p polynomials is g = p,
K = 2 * ceil(N / p) - 1. With g = r the CDF is the binomial sum of eq. (18); with g = 1 it is
eq. (15).

Eq. (15) sums over all vectors N(t), whose number grows combinatorially. Here the workers
are independent and identical, so the law of M(t) is the N-fold convolution of one worker's
message-count pmf. That power is taken by FFT after exponential tilting: the tilt moves the
bulk of the tilted sum onto K, so the transform's absolute rounding error stays small
relative to the tail probability P(M(t) >= K) or P(M(t) < K), whichever is the smaller, even
when that tail is far below 1e-16. The cost is O(N r/g log(N r/g)) per time point.

Time is handled in the model's own coordinates: t = k * g * alpha + v / mu, where k is the
last kink passed (a worker's k-th message has become possible) and v >= 0 the dimensionless
time since it. All of T's spread lives within a few units of v after the kinks, so neither
the exponents nor the integration nor the quantile search ever subtract two absolute times:
alpha * mu can be 1e-6 or 1e20 alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import fft
from scipy.optimize import brentq

from pssim.compute import ComputeModel, ShiftedExponential
from pssim.errors import ConfigError, finite, integer
from pssim.network import Discipline, NoNetwork
from pssim.schemes import Scheme
from pssim.training import Training

__all__ = ["count_rule_cdf", "count_rule_mean", "count_rule_quantile", "unsupported"]


def unsupported(schemes: list[Scheme], network: Discipline, model: ComputeModel,
                training: Training | None = None) -> str | None:
    """Why the closed forms do not cover this configuration, or None."""
    if training is not None and not training.single:
        return "closed forms cover single iterations, not training runs"
    if not isinstance(model, ShiftedExponential):
        return f"closed forms cover ShiftedExponential, not {type(model).__name__}"
    if not isinstance(network, NoNetwork):
        return f"closed forms cover network none, not network {network.name!r}"
    for s in schemes:
        if not s.count_rule:
            return (f"closed forms cover count-rule schemes only, not {s.label} (its master "
                    "needs distinct partitions)")
    return None

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_EPS = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)

# Below this a worker state's probability underflows to 0, so no probability that double
# precision can represent depends on it; leaving such states out bounds the tilt.
_LOG_TINY = -745.0
# Bisection steps for the tilt; it only has to put K near the tilted bulk, not exactly on it.
_TILT_STEPS = 48
# Time points per FFT batch are chosen so that one batch holds about this many entries.
_BATCH_ENTRIES = 1 << 21

# Gauss-Legendre rule used on every panel of the mean's integral. The survival function is
# analytic between its kinks, so a moderate fixed rule plus bisection converges very fast.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
# Local acceptance test of the adaptive integration: relative to the panel's own integral
# (the integrand is nonnegative, so local relative accuracy gives global relative accuracy),
# with a small absolute floor so that panels where the survival underflows still terminate.
_REL_TOL = 1e-13
_ABS_TOL_FACTOR = 1e-15
# The FFT's rounding error grows about linearly with the number of workers; the acceptance
# test must not ask for more, or bisection would never stop.
_NOISE_FACTOR = 16.0
# Hard bounds on the work, reached only when the noise estimate is still too optimistic.
_MAX_BISECTIONS = 40
_MAX_PENDING_PANELS = 4096
# Pieces of the mean's integral are left out or taken as exact only when provably below
# this fraction of a lower bound on the integral.
_TAIL_FRACTION = 1e-17
# Steps of one double that a quantile may be moved up so that F(t) >= q holds in floats.
_NUDGES = 8
# Cells of the first, coarse look at the survival function over the truncated range.
_SCOUT_CELLS = 32


@dataclass(frozen=True)
class _Params:
    workers: int
    load: int
    group: int
    threshold: int
    mu: float
    alpha: float

    @property
    def max_messages(self) -> int:
        """Messages one worker sends when it finishes all its computations."""
        return self.load // self.group

    @property
    def first_kink(self) -> int:
        """Fewest messages per worker that can add up to K: ceil(K / N).

        Before that many kinks no worker can have sent enough for K messages in total, and
        M(t) >= K needs at least one worker with that many, so T >= first_kink * g * min X.
        """
        return -(-self.threshold // self.workers)

    @property
    def scale(self) -> float:
        """mu * alpha: the distance between kinks in units of g / mu."""
        with np.errstate(over="ignore"):
            return float(np.float64(self.mu) * self.alpha)

    def kink(self, k: int) -> float:
        """The time k * g * alpha of the k-th kink, rounded as in _local."""
        return (k * self.group) * self.alpha


def _validate(
    workers: object, load: object, group: object, threshold: object, mu: object, alpha: object
) -> _Params:
    n = integer("workers", workers, low=1)
    r = integer("load", load, low=1)
    g = integer("group", group, low=1)
    if r % g != 0:
        raise ConfigError("group", group, f"must divide load={r}")
    k_max = n * (r // g)
    k = integer("threshold", threshold, low=1)
    if k > k_max:
        raise ConfigError(
            "threshold", threshold, f"must be between 1 and workers*load/group = {k_max}"
        )
    rate = finite("mu", mu, low=0.0, low_open=True)
    shift = finite("alpha", alpha, low=0.0)
    return _Params(n, r, g, k, rate, shift)


def _local(t: FloatArray, p: _Params) -> tuple[IntArray, FloatArray]:
    """The kink index k in [0, r/g] and the scaled time v = mu * (t - k g alpha) of each t."""
    m = p.max_messages
    if p.alpha > 0.0:
        with np.errstate(over="ignore"):
            ratio = t / (p.group * p.alpha)
        k = np.floor(np.clip(ratio, 0.0, m)).astype(np.int64)
        # The rounded quotient can put t on the wrong side of a kink by one.
        k = np.where((k > 0) & (t < (k * p.group) * p.alpha), k - 1, k)
        k = np.where((k < m) & (t >= ((k + 1) * p.group) * p.alpha), k + 1, k)
    else:
        k = np.where(t >= 0.0, m, 0).astype(np.int64)
    # Kinks are the rounded products k g alpha (the same everywhere, so the CDF is exactly 0
    # at the computed k0 g alpha); t minus a nearby kink is exact, so near a kink v keeps full
    # relative accuracy.
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.where(k > 0, p.mu * (t - (k * p.group) * p.alpha), 0.0)
    return k, np.maximum(v, 0.0)


def _worker_log_pmf(k: IntArray, v: FloatArray, p: _Params) -> FloatArray:
    """log P(one worker has sent exactly j messages) at (k, v), shape (len(k), r/g + 1).

    With s = j g computations, mu * (t / s - alpha) = A (k - j) / j + v / s (A = mu alpha), a
    sum of two nonnegative terms for j <= k, and the gap between consecutive exponents is
    mu t / (g j (j + 1)) = (A k + v / g) / (j (j + 1)); nothing is a difference of two
    large numbers, so every entry keeps its relative accuracy down to underflow.
    """
    m, g, a = p.max_messages, p.group, p.scale
    j = np.arange(1, m + 1, dtype=np.float64)
    kf = k.astype(np.float64)[:, None]
    vv = v[:, None]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        # Zero explicitly where j >= k: A may be infinite, and inf * 0 is NaN.
        expo = np.where(kf > j, a * (kf - j) / j, 0.0) + vv / (j * g)
        mu_t_over_g = np.where(kf > 0, a * kf, 0.0) + vv / g
        inner = j[:-1]
        mid = -expo[:, 1:] + np.log(-np.expm1(-mu_t_over_g / (inner * (inner + 1.0))))
        top = np.log(-np.expm1(-v / (np.maximum(k, 1) * g)))
    logp = np.full((k.size, m + 1), -np.inf)
    logp[:, 0] = np.where(k == 0, 0.0, -expo[:, 0])
    logp[:, 1:m] = np.where(inner < kf, mid, -np.inf)
    rows = np.flatnonzero(k > 0)
    logp[rows, k[rows]] = top[rows]
    return logp


def _tilt(logp: FloatArray, target: FloatArray, bound: float) -> FloatArray:
    """theta with sum_j j p_j e^(theta j) / sum_j p_j e^(theta j) close to target, per row."""
    j = np.arange(logp.shape[1], dtype=np.float64)
    lo = np.full(logp.shape[0], -bound)
    hi = np.full(logp.shape[0], bound)
    for _ in range(_TILT_STEPS):
        mid = 0.5 * (lo + hi)
        lw = logp + mid[:, None] * j
        w = np.exp(lw - lw.max(axis=1, keepdims=True))
        below = w @ j < target * w.sum(axis=1)
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _power(z: NDArray[np.complex128], n: int) -> NDArray[np.complex128]:
    """z ** n by repeated squaring in place: several times faster than numpy's complex power
    (which goes through exp and log for large n), and about as accurate."""
    base = z
    result: NDArray[np.complex128] | None = None
    while True:
        if n & 1:
            if result is None:
                result = base.copy()
            else:
                np.multiply(result, base, out=result)
        n >>= 1
        if not n:
            return result if result is not None else np.ones_like(z)
        np.multiply(base, base, out=base)


def _tails_batch(
    logp: FloatArray, low: IntArray, high: IntArray, p: _Params
) -> tuple[FloatArray, FloatArray]:
    """P(M >= K) and P(M < K) for rows whose support [low, high] per worker straddles K / N.

    With weights p_j e^(theta (j - K/N)) / L, P(M = n) = q_N(n) L^N e^(-theta (n - K)), where
    q_N is the N-fold convolution of the tilted pmf. theta puts the tilted mean near K, so
    q_N is of order 1/sqrt(N) at K; only the side where e^(-theta (n - K)) <= 1 is summed, so
    the FFT's absolute error is not amplified, and the other side is the complement.
    """
    n, kk, m = p.workers, p.threshold, p.max_messages
    j = np.arange(m + 1, dtype=np.float64)
    # Clipping keeps the tilt finite when K / N sits on an end of the support: K = N * high
    # then has tilted probability about e^(-1/2) instead of 0.
    target = np.clip(kk / n, low + 0.5 / n, high - 0.5 / n)
    bound = -_LOG_TINY + math.log(2.0 * n * (m + 1) ** 2) + 1.0
    theta = _tilt(logp, target, bound)
    lw = logp + theta[:, None] * (j - kk / n)
    top = lw.max(axis=1)
    log_norm = top + np.log(np.exp(lw - top[:, None]).sum(axis=1))
    tilted = np.exp(lw - log_norm[:, None])
    # Shift each row's support to start at 0, so the transform only spans N * (high - low).
    width = high - low
    span = n * int(width.max()) + 1
    length = fft.next_fast_len(span, real=True)
    shifted = np.take_along_axis(tilted, np.minimum(low[:, None] + j.astype(np.int64), m), 1)
    shifted[j[None, :] > width[:, None]] = 0.0
    spectrum = _power(fft.rfft(shifted, n=length, axis=1), n)
    dist = fft.irfft(spectrum, n=length, axis=1)[:, :span]
    np.maximum(dist, 0.0, out=dist)
    offset = np.arange(span)[None, :] - (kk - n * low)[:, None]
    upper = theta >= 0.0
    side = np.where(upper[:, None], offset >= 0, offset < 0)
    side &= np.arange(span)[None, :] <= n * width[:, None]
    with np.errstate(over="ignore", under="ignore"):
        weight = np.exp(np.where(side, -theta[:, None] * offset, -np.inf))
    total = (dist * weight).sum(axis=1)
    with np.errstate(divide="ignore", under="ignore"):
        tail = np.minimum(np.exp(n * log_norm + np.log(total)), 1.0)
    return np.where(upper, tail, 1.0 - tail), np.where(upper, 1.0 - tail, tail)


def _cdf_and_survival_local(
    k: IntArray, v: FloatArray, p: _Params
) -> tuple[FloatArray, FloatArray]:
    """P(T <= t) and P(T > t) at t = k g alpha + v / mu, each accurate in relative terms
    where it is small: the side that is a tail of M(t) is summed, the other is its complement.
    """
    n, kk, m = p.workers, p.threshold, p.max_messages
    logp = _worker_log_pmf(k, v, p)
    live = logp > _LOG_TINY
    logp = np.where(live, logp, -np.inf)
    low = np.argmax(live, axis=1).astype(np.int64)
    high = (m - np.argmax(live[:, ::-1], axis=1)).astype(np.int64)
    cdf = np.where(kk <= n * low, 1.0, 0.0)
    surv = 1.0 - cdf
    rows = np.flatnonzero((kk > n * low) & (kk <= n * high))
    if rows.size:
        # Rows of similar support width share a transform length, so sort before batching.
        rows = rows[np.argsort(high[rows] - low[rows], kind="stable")]
        per_batch = max(1, _BATCH_ENTRIES // (n * (m + 1) + 1))
        for start in range(0, rows.size, per_batch):
            b = rows[start : start + per_batch]
            cdf[b], surv[b] = _tails_batch(logp[b], low[b], high[b], p)
    return cdf, surv


def _cdf_any(t: ArrayLike, p: _Params) -> FloatArray:
    arr = np.asarray(t, dtype=np.float64)
    flat = arr.ravel()
    out = np.full(flat.shape, np.nan)
    ok = np.isfinite(flat)
    if ok.any():
        k, v = _local(flat[ok], p)
        out[ok] = _cdf_and_survival_local(k, v, p)[0]
    out[flat == np.inf] = 1.0
    out[flat == -np.inf] = 0.0
    return out.reshape(arr.shape)


def count_rule_cdf(
    t: ArrayLike,
    *,
    workers: int,
    load: int,
    group: int,
    threshold: int,
    mu: float,
    alpha: float,
) -> np.ndarray:
    """P(T <= t) for a count-rule scheme, elementwise over ``t`` (same shape; NaN stays NaN).

    This is eq. (15) for any message size g (eq. (18) when g = r), evaluated through the
    law of the total message count so that it stays cheap for N in the thousands.
    """
    p = _validate(workers, load, group, threshold, mu, alpha)
    return _cdf_any(t, p)


def _integrate_survival(p: _Params, k: IntArray, lo: FloatArray, hi: FloatArray) -> float:
    """Adaptive composite Gauss-Legendre integral of P(T > t) dv over the panels [lo, hi]
    of v after kink k.

    Each round evaluates every pending panel and its two halves in one vectorized call, and
    accepts the halves' sum when it agrees with the whole-panel value.
    """
    if lo.size == 0:
        return 0.0
    total_length = float((hi - lo).sum())
    nodes = 0.5 * (_GL_NODES + 1.0)
    weights = 0.5 * _GL_WEIGHTS
    abs_floor: float | None = None
    rel_tol = max(_REL_TOL, _NOISE_FACTOR * _EPS * p.workers)
    total = 0.0
    for _ in range(_MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        # Rows: whole panel, left half, right half; columns: quadrature nodes.
        starts = np.concatenate([lo, lo, mid])
        widths = np.concatenate([hi - lo, mid - lo, hi - mid])
        kinks = np.repeat(np.concatenate([k, k, k]), nodes.size)
        v = (starts[:, None] + widths[:, None] * nodes[None, :]).ravel()
        surv = _cdf_and_survival_local(kinks, v, p)[1].reshape(starts.size, nodes.size)
        est = widths * (surv @ weights)
        whole = est[: lo.size]
        halves = est[lo.size : 2 * lo.size] + est[2 * lo.size :]
        if abs_floor is None:
            abs_floor = _ABS_TOL_FACTOR * float(halves.sum()) / total_length
        ok = np.abs(whole - halves) <= rel_tol * halves + abs_floor * (hi - lo)
        if 2 * np.count_nonzero(~ok) > _MAX_PENDING_PANELS:
            return total + float(halves.sum())
        total += float(halves[ok].sum())
        if ok.all():
            return total
        k, lo, mid, hi = k[~ok], lo[~ok], mid[~ok], hi[~ok]
        k, lo, hi = np.concatenate([k, k]), np.concatenate([lo, mid]), np.concatenate([mid, hi])
    # Panels still refining after this many halvings are too narrow for further halving to
    # help; their current estimate is the best available.
    v = (lo[:, None] + (hi - lo)[:, None] * nodes[None, :]).ravel()
    surv = _cdf_and_survival_local(np.repeat(k, nodes.size), v, p)[1]
    return total + float(((hi - lo) * (surv.reshape(lo.size, nodes.size) @ weights)).sum())


def count_rule_mean(
    *, workers: int, load: int, group: int, threshold: int, mu: float, alpha: float
) -> float:
    """E[T] = integral of P(T > t) dt (eqs. 16-17), to about 1e-12 relative.

    P(T > t) = 1 up to the kink t0 = ceil(K / N) g alpha, so E[T] = t0 + I / mu with
    I = integral of P(T > t0 + u / mu) du, a dimensionless integral whose mass lies within a
    few g ceil(K / N) of u = 0 whatever alpha * mu is. I is integrated between kinks (where
    the survival is analytic), up to a provable truncation point.
    """
    p = _validate(workers, load, group, threshold, mu, alpha)
    n, g, m, k0 = p.workers, p.group, p.max_messages, p.first_kink
    # T >= k0 g min X (see first_kink), so I >= mu * k0 g / (N mu).
    budget = _TAIL_FRACTION * k0 * g / n
    # M(t) >= K once every worker has k0 messages, so P(T > t) <= N exp(-u / (k0 g)), whose
    # integral beyond u_end is N k0 g exp(-u_end / (k0 g)) = budget.
    u_end = k0 * g * math.log(n * k0 * g / budget)
    step = u_end / _SCOUT_CELLS
    gap = g * p.scale
    ks: list[IntArray] = []
    vs: list[FloatArray] = []
    offsets: list[FloatArray] = []
    for k in range(k0, m + 1):
        # (k - k0) * gap, with 0 * inf taken as 0 for an overflowed mu * alpha.
        offset = (k - k0) * gap if k > k0 else 0.0
        if offset >= u_end:
            break
        length = u_end - offset if k == m else min(gap, u_end - offset)
        if length <= 0.0:
            continue
        v = np.linspace(0.0, length, max(1, math.ceil(length / step)) + 1)
        ks.append(np.full(v.size - 1, k, dtype=np.int64))
        vs.append(v)
        offsets.append(offset + v[:-1])
    # A coarse look first: the survival is monotone, so where it is within a budget of 1 the
    # integral is the length, and where it times the remaining range is below a budget the
    # rest is negligible; only the cells in between need quadrature.
    cell_k = np.concatenate(ks)
    cell_lo = np.concatenate([v[:-1] for v in vs])
    cell_hi = np.concatenate([v[1:] for v in vs])
    u_lo = np.concatenate(offsets)
    u_hi = u_lo + (cell_hi - cell_lo)
    cdf_hi, surv_hi = _cdf_and_survival_local(cell_k, cell_hi, p)
    surv_lo = np.concatenate([[1.0], surv_hi[:-1]])
    full = np.cumprod(u_hi * cdf_hi <= budget).astype(bool)
    rest = np.cumsum(surv_lo * (u_end - u_lo) <= budget).astype(bool)
    middle = ~full & ~rest
    head = float((cell_hi[full] - cell_lo[full]).sum())
    integral = head + _integrate_survival(p, cell_k[middle], cell_lo[middle], cell_hi[middle])
    return float(p.kink(k0) + integral / p.mu)


def count_rule_quantile(
    q: ArrayLike,
    *,
    workers: int,
    load: int,
    group: int,
    threshold: int,
    mu: float,
    alpha: float,
) -> np.ndarray:
    """Smallest t with P(T <= t) >= q, elementwise over ``q`` in (0, 1) (same shape).

    Used to read percentiles of the completion time (e.g. the 99th) off the closed form.
    The kink interval holding the quantile is found from the CDF at the kinks, then Brent's
    method solves for the scaled time v since that kink, where the CDF is continuous and
    increasing and varies on a scale of order 1 whatever alpha * mu is.
    """
    p = _validate(workers, load, group, threshold, mu, alpha)
    arr = np.asarray(q, dtype=np.float64)
    flat = arr.ravel()
    bad = ~((flat > 0.0) & (flat < 1.0))
    if bad.any():
        raise ConfigError("q", flat[bad][0].item(), "must be strictly between 0 and 1")
    n, g, m, k0 = p.workers, p.group, p.max_messages, p.first_kink
    gap = g * p.scale
    out = np.empty(flat.shape)
    # The CDF is 0 up to kink k0; later kinks start where it already is positive.
    later = np.arange(k0 + 1, m + 1, dtype=np.int64)
    at_kinks = _cdf_and_survival_local(later, np.zeros(later.size), p)[0]
    for i, qi in enumerate(flat):
        level = float(qi)
        k = k0 + int(np.count_nonzero(at_kinks < level))
        # P(T > t) <= N exp(-mu (t / (k0 g) - alpha)) (every worker has k0 messages gives
        # M >= K), which is below (1 - q) / 2 here; the factor 2 keeps the end strictly
        # inside the bracket despite rounding.
        passed = p.scale * (k - k0) / k0 if k > k0 else 0.0
        v_hi = k0 * g * (math.log(2.0 * n / (1.0 - level)) - passed)
        if k < m:
            v_hi = min(v_hi, gap)
        v_hi = max(v_hi, 0.0)

        def gap_at(v: float, k: int = k, level: float = level) -> float:
            cdf = _cdf_and_survival_local(np.array([k]), np.array([v]), p)[0][0]
            return float(cdf) - level

        if v_hi > 0.0 and gap_at(v_hi) > 0.0:
            # v is resolved down to the rounding of t = kink + v / mu, no further.
            xtol = max(min(4.0 * _EPS * (k * gap + v_hi), 1e-3 * v_hi), _TINY)
            v = float(brentq(gap_at, 0.0, v_hi, xtol=xtol, rtol=4.0 * _EPS))
        else:
            v = v_hi
        out[i] = p.kink(k) + v / p.mu
    # Brent's v is within xtol on either side of the root, and t = kink + v / mu is rounded;
    # the smallest t with F(t) >= q is then at most a few doubles higher (for mu = 1e20, the
    # first double after the kink).
    for _ in range(_NUDGES):
        short = _cdf_any(out, p) < flat
        if not short.any():
            break
        out[short] = np.nextafter(out[short], np.inf)
    return out.reshape(arr.shape)
