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
message-count pmf, truncated at K because only the event M(t) >= K matters. The cost is
O(N * (r/g + 1) * K) per time point, and all time points are handled at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from pssim.compute import ComputeModel, ShiftedExponential
from pssim.errors import ConfigError, finite, integer
from pssim.network import Discipline, NoNetwork
from pssim.schemes import Scheme

__all__ = ["count_rule_cdf", "count_rule_mean", "count_rule_quantile", "unsupported"]


def unsupported(schemes: list[Scheme], network: Discipline, model: ComputeModel) -> str | None:
    """Why the closed forms do not cover this configuration, or None."""
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

# Gauss-Legendre rule used on every panel of the mean's integral. The survival function is
# analytic between its kinks, so a moderate fixed rule plus bisection converges very fast.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
# Local acceptance test of the adaptive integration: relative to the panel's own integral
# (the integrand is nonnegative, so local relative accuracy gives global relative accuracy),
# with a small absolute floor so that panels where the survival underflows still terminate.
_REL_TOL = 1e-13
_ABS_TOL_FACTOR = 1e-15
# The survival cannot be evaluated more accurately than its exponents mu * (t / s - alpha),
# whose rounding error grows with mu * t / g and then compounds over the N workers'
# factors; the acceptance test must not ask for more, or bisection would never stop.
_NOISE_FACTOR = 8.0
# Hard bounds on the work, reached only when the noise estimate is still too optimistic.
_MAX_BISECTIONS = 40
_MAX_PENDING_PANELS = 4096
# The mean's integral stops where the remaining tail is provably below this fraction of a
# lower bound on E[T].
_TAIL_FRACTION = 1e-17


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


def _worker_message_pmf(t: FloatArray, p: _Params) -> FloatArray:
    """P(one worker has sent exactly j messages by t), shape (len(t), r/g + 1).

    Built from the log-survivals log(1 - F_{jg}(t)) so that every entry is a product of
    nonnegative factors: subtracting two close CDF values would lose all relative accuracy
    in the tails, where the mean's integral and the quantiles need it.
    """
    m = p.max_messages
    counts = p.group * np.arange(1, m + 1, dtype=np.float64)
    log_surv = np.minimum(0.0, -p.mu * (t[:, None] / counts[None, :] - p.alpha))
    pmf = np.empty((t.size, m + 1))
    pmf[:, 0] = np.exp(log_surv[:, 0])
    # 1 - F_{(j+1)g} - (1 - F_{jg}) = S_{(j+1)g} * (1 - S_{jg} / S_{(j+1)g}); S is increasing
    # in the computation count, so the expm1 argument is <= 0.
    pmf[:, 1:m] = np.exp(log_surv[:, 1:]) * -np.expm1(log_surv[:, :-1] - log_surv[:, 1:])
    pmf[:, m] = -np.expm1(log_surv[:, -1])
    return pmf


def _truncated_total_pmf(t: FloatArray, p: _Params) -> FloatArray:
    """Law of min(M(t), K), shape (len(t), K + 1); the last column is P(M(t) >= K).

    Keeping the event M(t) >= K as its own accumulated column, instead of forming 1 minus
    the lower probabilities, keeps the CDF accurate where it is tiny, and the lower columns
    keep the survival accurate where it is tiny.
    """
    k = p.threshold
    m = p.max_messages
    pmf = _worker_message_pmf(t, p)
    dist = np.zeros((t.size, k + 1))
    dist[:, 0] = 1.0
    for n_done in range(1, p.workers + 1):
        # The workers already folded in sent at most (n_done - 1) * m messages, so the columns
        # above that are still exactly zero and need not be convolved.
        top = min(k - 1, (n_done - 1) * m)
        ext = np.zeros((t.size, k + m))
        src = dist[:, : top + 1]
        for j in range(m + 1):
            ext[:, j : j + top + 1] += src * pmf[:, j : j + 1]
        # Mass already at ">= K" stays there whatever this worker sends (total weight 1).
        overflow = dist[:, k] + ext[:, k:].sum(axis=1)
        dist[:, :k] = ext[:, :k]
        dist[:, k] = overflow
    return dist


def _cdf_and_survival(t: FloatArray, p: _Params) -> tuple[FloatArray, FloatArray]:
    """P(T <= t) and P(T > t) for finite 1-D t, each accurate in relative terms in its tail."""
    dist = _truncated_total_pmf(t, p)
    cdf = np.clip(dist[:, -1], 0.0, 1.0)
    surv = np.clip(dist[:, :-1].sum(axis=1), 0.0, 1.0)
    # Each side is accurate in relative terms only while it is the smaller one; the larger
    # one is taken as the complement so that the pair sums to 1 and stays monotone near 1.
    small_cdf = cdf <= surv
    return np.where(small_cdf, cdf, 1.0 - surv), np.where(small_cdf, 1.0 - cdf, surv)


def _cdf_any(t: ArrayLike, p: _Params) -> FloatArray:
    arr = np.asarray(t, dtype=np.float64)
    flat = arr.ravel()
    out = np.full(flat.shape, np.nan)
    finite = np.isfinite(flat)
    if finite.any():
        out[finite] = _cdf_and_survival(flat[finite], p)[0]
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
    law of the total message count so that it stays cheap for the paper's N = 40.
    """
    p = _validate(workers, load, group, threshold, mu, alpha)
    return _cdf_any(t, p)


def _tail_end(p: _Params, lower_mean: float) -> float:
    """A time beyond which the integral of P(T > t) is below _TAIL_FRACTION * lower_mean.

    P(T > t) <= P(some worker has not finished all r computations) <= N * (1 - F_r(t)),
    whose integral from t_end to infinity is N * r / mu * exp(-mu * (t_end / r - alpha)).
    """
    r = p.load
    budget = _TAIL_FRACTION * lower_mean
    return r * (p.alpha + math.log(p.workers * r / (p.mu * budget)) / p.mu)


def _integrate_survival(p: _Params, edges: list[float]) -> float:
    """Adaptive composite Gauss-Legendre integral of P(T > t) over consecutive panels.

    Each round evaluates every pending panel and its two halves in one vectorized call, and
    accepts the halves' sum when it agrees with the whole-panel value.
    """
    lo = np.asarray(edges[:-1], dtype=np.float64)
    hi = np.asarray(edges[1:], dtype=np.float64)
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        return 0.0
    total_length = float(hi[-1] - lo[0])
    nodes = 0.5 * (_GL_NODES + 1.0)
    weights = 0.5 * _GL_WEIGHTS
    abs_floor: float | None = None
    noise_per_time = _NOISE_FACTOR * np.finfo(float).eps * p.workers * p.mu / p.group
    noise_const = _NOISE_FACTOR * np.finfo(float).eps * p.workers
    total = 0.0
    for _ in range(_MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        # Rows: whole panel, left half, right half; columns: quadrature nodes.
        starts = np.concatenate([lo, lo, mid])
        widths = np.concatenate([hi - lo, mid - lo, hi - mid])
        t = (starts[:, None] + widths[:, None] * nodes[None, :]).ravel()
        surv = _cdf_and_survival(t, p)[1].reshape(starts.size, nodes.size)
        est = widths * (surv @ weights)
        whole = est[: lo.size]
        halves = est[lo.size : 2 * lo.size] + est[2 * lo.size :]
        if abs_floor is None:
            abs_floor = _ABS_TOL_FACTOR * float(halves.sum()) / total_length
        rel_tol = np.maximum(_REL_TOL, noise_const + noise_per_time * hi)
        ok = np.abs(whole - halves) <= rel_tol * halves + abs_floor * (hi - lo)
        if 2 * np.count_nonzero(~ok) > _MAX_PENDING_PANELS:
            return total + float(halves.sum())
        total += float(halves[ok].sum())
        if ok.all():
            return total
        lo, mid, hi = lo[~ok], mid[~ok], hi[~ok]
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
    # Panels still refining after this many halvings are too narrow for further halving to
    # help; their current estimate is the best available.
    t = (lo[:, None] + (hi - lo)[:, None] * nodes[None, :]).ravel()
    surv = _cdf_and_survival(t, p)[1].reshape(lo.size, nodes.size)
    return total + float(((hi - lo) * (surv @ weights)).sum())


def count_rule_mean(
    *, workers: int, load: int, group: int, threshold: int, mu: float, alpha: float
) -> float:
    """E[T] = integral of P(T > t) dt (eqs. 16-17), to about 1e-12 relative.

    The survival function has kinks at t = j * g * alpha, where a worker's j-th message
    becomes possible, so it is integrated panel by panel between them (it equals 1 before
    the first), then over the exponential tail up to a provable truncation point.
    """
    p = _validate(workers, load, group, threshold, mu, alpha)
    g_alpha = p.group * p.alpha
    # T >= time of the first message = g * min X, so E[T] >= g * (alpha + 1 / (N mu)).
    lower_mean = p.group * (p.alpha + 1.0 / (p.workers * p.mu))
    t_end = _tail_end(p, lower_mean)
    kinks = [j * g_alpha for j in range(1, p.max_messages + 1)]
    # The tail is split into pieces of one worker's time scale r / mu so the first round
    # already resolves where the survival decays.
    scale = p.load / p.mu
    n_tail = max(1, math.ceil((t_end - kinks[-1]) / scale))
    tail = list(np.linspace(kinks[-1], t_end, n_tail + 1)[1:])
    return g_alpha + _integrate_survival(p, [*kinks, *tail])


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

    Used to read percentiles of the completion time (e.g. the 99th) off the closed form;
    found by Brent's method on the CDF, which is continuous and increasing where 0 < F < 1.
    """
    p = _validate(workers, load, group, threshold, mu, alpha)
    arr = np.asarray(q, dtype=np.float64)
    flat = arr.ravel()
    bad = ~((flat > 0.0) & (flat < 1.0))
    if bad.any():
        raise ConfigError("q", flat[bad][0].item(), "must be strictly between 0 and 1")
    out = np.empty(flat.shape)
    # The CDF is 0 up to g * alpha (no message can exist before), and by the bound of
    # _tail_end it is >= q once N * exp(-mu * (t / r - alpha)) <= 1 - q; the factor 2 keeps
    # the upper end strictly inside despite rounding.
    t_lo = p.group * p.alpha
    for i, qi in enumerate(flat):
        t_hi = p.load * (p.alpha + math.log(2.0 * p.workers / (1.0 - qi)) / p.mu)

        def gap(t: float, qi: float = float(qi)) -> float:
            return float(_cdf_and_survival(np.array([t]), p)[0][0]) - qi

        out[i] = brentq(gap, t_lo, t_hi, xtol=1e-15 * t_hi, rtol=4 * np.finfo(float).eps)
    return out.reshape(arr.shape)
