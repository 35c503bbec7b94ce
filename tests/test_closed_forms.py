"""Checks of the count-rule closed forms against independent derivations and Monte Carlo."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import binom

from pssim.engines.analytic import count_rule_cdf, count_rule_mean, count_rule_quantile

MU = 10.0
ALPHA = 0.01


def f_s(t: float, s: int, mu: float = MU, alpha: float = ALPHA) -> float:
    """Eq. (12): probability that a worker has finished at least s computations by t."""
    return 1.0 - math.exp(-mu * (t / s - alpha)) if t >= s * alpha else 0.0


def harmonic(n: int) -> float:
    return sum(1.0 / i for i in range(1, n + 1))


def brute_force_cdf(t: float, n: int, r: int, g: int, k: int, mu: float, alpha: float) -> float:
    """Eqs. (13)-(15) by enumerating every vector of per-worker computation counts."""
    p = [1.0 - f_s(t, 1, mu, alpha)]
    for s in range(1, r + 1):
        p.append(f_s(t, s, mu, alpha) - (f_s(t, s + 1, mu, alpha) if s < r else 0.0))
    total = 0.0
    for counts in itertools.product(range(r + 1), repeat=n):
        if sum(s // g for s in counts) >= k:
            total += math.prod(p[s] for s in counts)
    return total


def params(n: int, r: int, g: int, k: int, mu: float = MU, alpha: float = ALPHA) -> dict:
    return {"workers": n, "load": r, "group": g, "threshold": k, "mu": mu, "alpha": alpha}


# (1) g = r: the CDF is the binomial sum of eq. (18), and T = r * X_(K), the K-th order
# statistic of the X's, whose mean is alpha + (H_N - H_{N-K}) / mu.
@pytest.mark.parametrize(("n", "r", "k"), [(10, 5, 6), (10, 5, 3), (40, 10, 31), (7, 1, 7)])
def test_group_equal_load_is_eq18(n: int, r: int, k: int) -> None:
    t = np.concatenate([np.linspace(0.0, r * ALPHA, 4), r * ALPHA + np.geomspace(1e-4, 3.0, 40)])
    f_r = np.array([f_s(x, r) for x in t])
    expected = binom.sf(k - 1, n, f_r)
    got = count_rule_cdf(t, **params(n, r, r, k))
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-300)
    mean = r * (ALPHA + (harmonic(n) - harmonic(n - k)) / MU)
    assert count_rule_mean(**params(n, r, r, k)) == pytest.approx(mean, rel=1e-10)


# (2) One worker: T = K * g * X, so P(T <= t) = F_{Kg}(t); K = r / g gives T = r * X.
@pytest.mark.parametrize(("r", "g", "k"), [(4, 1, 4), (4, 1, 2), (6, 3, 2), (6, 2, 1), (1, 1, 1)])
def test_single_worker(r: int, g: int, k: int) -> None:
    t = np.linspace(0.0, 3.0, 301)
    expected = [f_s(x, k * g) for x in t]
    np.testing.assert_allclose(count_rule_cdf(t, **params(1, r, g, k)), expected, atol=1e-14)
    assert count_rule_mean(**params(1, r, g, k)) == pytest.approx(
        k * g * (ALPHA + 1 / MU), rel=1e-10
    )


def test_single_worker_without_shift() -> None:
    assert count_rule_mean(**params(1, 3, 1, 3, mu=2.0, alpha=0.0)) == pytest.approx(1.5, rel=1e-10)


# First message (K = 1) is g * min X; last message (K = N r / g) is r * max X.
@pytest.mark.parametrize(("n", "r", "g"), [(10, 5, 1), (40, 10, 1), (12, 6, 2)])
def test_first_and_last_message_means(n: int, r: int, g: int) -> None:
    first = g * (ALPHA + 1.0 / (n * MU))
    last = r * (ALPHA + harmonic(n) / MU)
    assert count_rule_mean(**params(n, r, g, 1)) == pytest.approx(first, rel=1e-10)
    assert count_rule_mean(**params(n, r, g, n * r // g)) == pytest.approx(last, rel=1e-10)


# (3) Small cases against brute-force enumeration of eq. (14)-(15), CDF and mean.
@pytest.mark.parametrize(
    ("n", "r", "g", "k", "alpha"),
    [(3, 2, 1, 4, ALPHA), (3, 4, 2, 3, ALPHA), (4, 3, 1, 7, 0.05), (2, 6, 3, 2, 0.0)],
)
def test_brute_force_enumeration(n: int, r: int, g: int, k: int, alpha: float) -> None:
    kinks = [j * g * alpha for j in range(1, r // g + 1)]
    t = np.array([0.0, *kinks, *(x + 1e-3 for x in kinks), 0.05, 0.1, 0.2, 0.4, 0.8, 1.6])
    expected = [brute_force_cdf(x, n, r, g, k, MU, alpha) for x in t]
    got = count_rule_cdf(t, **params(n, r, g, k, alpha=alpha))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)

    def survival(x: float) -> float:
        return 1.0 - brute_force_cdf(x, n, r, g, k, MU, alpha)

    upper = r * (alpha + 40.0 / MU)
    mean, _ = quad(
        survival,
        0.0,
        upper,
        points=[x for x in kinks if x > 0] or None,
        epsabs=1e-14,
        epsrel=1e-13,
        limit=200,
    )
    assert count_rule_mean(**params(n, r, g, k, alpha=alpha)) == pytest.approx(mean, rel=1e-9)


# (4) Monte Carlo of the model itself: T is the K-th smallest message time j * g * X_i.
@pytest.mark.parametrize(
    ("n", "r", "g", "k"),
    [(10, 5, 1, 19), (10, 5, 5, 3), (10, 5, 5, 6), (10, 4, 2, 9)],
)
def test_monte_carlo(n: int, r: int, g: int, k: int) -> None:
    draws = 200_000
    rng = np.random.default_rng(1)
    x = ALPHA + rng.exponential(1.0 / MU, size=(draws, n))
    times = (x[:, :, None] * (g * np.arange(1, r // g + 1))[None, None, :]).reshape(draws, -1)
    t_done = np.partition(times, k - 1, axis=1)[:, k - 1]

    se = t_done.std(ddof=1) / math.sqrt(draws)
    assert abs(t_done.mean() - count_rule_mean(**params(n, r, g, k))) < 4 * se

    t = np.quantile(t_done, [0.05, 0.25, 0.5, 0.75, 0.95])
    cdf = count_rule_cdf(t, **params(n, r, g, k))
    ecdf = (t_done[:, None] <= t[None, :]).mean(axis=0)
    binomial_se = np.sqrt(cdf * (1 - cdf) / draws)
    assert np.all(np.abs(ecdf - cdf) < 4 * binomial_se)


# (5) Quantiles invert the CDF.
@pytest.mark.parametrize(("n", "r", "g", "k"), [(40, 10, 1, 79), (10, 5, 5, 6), (1, 3, 1, 3)])
def test_quantile_round_trip(n: int, r: int, g: int, k: int) -> None:
    kw = params(n, r, g, k)
    probe = np.array([0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999])
    t = count_rule_quantile(probe, **kw)
    np.testing.assert_allclose(count_rule_cdf(t, **kw), probe, rtol=1e-10)
    np.testing.assert_allclose(count_rule_quantile(count_rule_cdf(t, **kw), **kw), t, rtol=1e-9)
    assert np.all(np.diff(t) > 0)


def test_shapes_and_special_values() -> None:
    kw = params(10, 5, 1, 19)
    t = np.array([[-1.0, 0.0, ALPHA], [np.inf, -np.inf, np.nan]])
    got = count_rule_cdf(t, **kw)
    assert got.shape == t.shape
    np.testing.assert_array_equal(got[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(got[1, :2], [1.0, 0.0])
    assert np.isnan(got[1, 2])
    assert count_rule_quantile(0.5, **kw).shape == ()
    assert count_rule_quantile([[0.2, 0.4]], **kw).shape == (1, 2)


def test_cdf_is_a_distribution_function() -> None:
    t = np.linspace(0.0, 2.0, 2001)
    cdf = count_rule_cdf(t, **params(40, 10, 1, 79))
    assert np.all((cdf >= 0) & (cdf <= 1))
    assert np.all(np.diff(cdf) >= 0)
    assert cdf[0] == 0.0
    assert cdf[-1] == pytest.approx(1.0, abs=1e-15)


# (6) Bad parameters name the parameter and the offending value.
GOOD = params(10, 4, 2, 9)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workers", 0),
        ("workers", 2.5),
        ("load", 0),
        ("load", True),
        ("load", "four"),
        ("threshold", math.nan),
        ("group", 3),
        ("group", 0),
        ("threshold", 0),
        ("threshold", 21),
        ("mu", 0.0),
        ("mu", -1.0),
        ("mu", math.inf),
        ("mu", math.nan),
        ("alpha", -0.5),
        ("alpha", math.inf),
        ("alpha", "x"),
    ],
)
def test_bad_parameters(name: str, value: object) -> None:
    kw = {**GOOD, name: value}
    for call in (
        lambda: count_rule_cdf([0.1], **kw),
        lambda: count_rule_mean(**kw),
        lambda: count_rule_quantile([0.5], **kw),
    ):
        with pytest.raises(ValueError, match=rf"{name}={value!r}"):
            call()


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_bad_quantile_level(q: float) -> None:
    with pytest.raises(ValueError, match=r"\bq="):
        count_rule_quantile([0.5, q], **GOOD)


# (7) The shift alpha * mu over many decades (issue 23). With alpha = 1e5 all of T's spread
# lies within about 1 / mu after a kink at 1e5 or more, which a quadrature placed in
# absolute time missed; with mu = 1e20 the spread is below the spacing of doubles there.
WIDE = [(10.0, 1e-5), (10.0, 0.01), (10.0, 1.0), (10.0, 1e5), (1e20, ALPHA)]


def sample_completion_times(
    n: int, r: int, g: int, k: int, mu: float, alpha: float, draws: int, seed: int
) -> np.ndarray:
    """T of the model itself: the K-th smallest message time j * g * X_i."""
    rng = np.random.default_rng(seed)
    x = alpha + rng.exponential(1.0 / mu, size=(draws, n))
    times = (x[:, :, None] * (g * np.arange(1, r // g + 1))[None, None, :]).reshape(draws, -1)
    return np.partition(times, k - 1, axis=1)[:, k - 1]


def assert_mean_within_4_se(mean: float, t_done: np.ndarray) -> None:
    se = t_done.std(ddof=1) / math.sqrt(t_done.size)
    # With mu = 1e20 every draw rounds to the same double, so the standard error is about 0
    # and the sample mean itself is only right to a few roundings.
    assert abs(mean - t_done.mean()) <= 4 * se + 4 * np.spacing(t_done.mean())


# g = 1 (LCC-MMC, K = 2N - 1) and g = r (GC, K = N - r + 1).
@pytest.mark.parametrize(("g", "k"), [(1, 19), (5, 6)])
@pytest.mark.parametrize(("mu", "alpha"), WIDE)
def test_mean_matches_monte_carlo_for_any_shift(g: int, k: int, mu: float, alpha: float) -> None:
    t_done = sample_completion_times(10, 5, g, k, mu, alpha, draws=200_000, seed=23)
    assert_mean_within_4_se(count_rule_mean(**params(10, 5, g, k, mu, alpha)), t_done)


# The exact means of sections (1) and (2) hold whatever the shift.
@pytest.mark.parametrize(("mu", "alpha"), [*WIDE, (10.0, 0.0), (1e-3, 2.0)])
def test_exact_means_for_any_shift(mu: float, alpha: float) -> None:
    n, r = 12, 6
    assert count_rule_mean(**params(1, r, 2, 2, mu, alpha)) == pytest.approx(
        4 * (alpha + 1 / mu), rel=1e-12
    )
    assert count_rule_mean(**params(n, r, 1, 1, mu, alpha)) == pytest.approx(
        alpha + 1 / (n * mu), rel=1e-12
    )
    assert count_rule_mean(**params(n, r, 2, n * r // 2, mu, alpha)) == pytest.approx(
        r * (alpha + harmonic(n) / mu), rel=1e-12
    )
    assert count_rule_mean(**params(n, r, r, 5, mu, alpha)) == pytest.approx(
        r * (alpha + (harmonic(n) - harmonic(n - 5)) / mu), rel=1e-12
    )


@pytest.mark.parametrize(("mu", "alpha"), WIDE)
@pytest.mark.parametrize(("n", "r", "g", "k"), [(10, 5, 1, 19), (10, 5, 5, 6), (1, 3, 1, 3)])
def test_quantiles_for_any_shift(n: int, r: int, g: int, k: int, mu: float, alpha: float) -> None:
    kw = params(n, r, g, k, mu, alpha)
    levels = np.array([1e-9, 0.001, 0.1, 0.5, 0.9, 0.999, 1 - 1e-9])
    t = count_rule_quantile(levels, **kw)
    kink = math.ceil(k / n) * g * alpha
    assert np.all(np.isfinite(t)) and np.all(np.diff(t) >= 0) and np.all(t > kink)
    cdf = count_rule_cdf(t, **kw)
    assert np.all(cdf >= levels)
    if mu == 1e20:
        # T - kink is about 1e-20, far below the spacing of doubles at the kink: the smallest
        # double t with P(T <= t) >= q is the first one after it.
        np.testing.assert_array_equal(t, np.nextafter(kink, 1.0))
    else:
        # Only the rounding of t, about 1e-11 at t = 5e5, limits how close F(t) gets to q.
        np.testing.assert_allclose(cdf, levels, rtol=1e-6, atol=1e-8)


# (8) N = 1000: the law of M(t) takes an FFT of length N r / g instead of N convolutions.
def test_thousand_workers() -> None:
    n, r = 1000, 10
    # GC: T = r X_(K), an order statistic with a closed-form mean.
    gc = count_rule_mean(**params(n, r, r, n - r + 1))
    assert gc == pytest.approx(r * (ALPHA + (harmonic(n) - harmonic(r - 1)) / MU), rel=1e-12)
    # LCC-MMC: T >= 2 min X, and Monte Carlo of the model.
    kw = params(n, r, 1, 2 * n - 1)
    mean = count_rule_mean(**kw)
    assert mean > 2 * (ALPHA + 1 / (n * MU))
    t_done = sample_completion_times(n, r, 1, 2 * n - 1, MU, ALPHA, draws=1000, seed=8)
    assert_mean_within_4_se(mean, t_done)
    t = np.linspace(0.0, 2 * mean, 200)
    cdf = count_rule_cdf(t, **kw)
    assert cdf[0] == 0.0 and cdf[-1] == 1.0 and np.all(np.diff(cdf) >= 0)
    median = count_rule_quantile(0.5, **kw)
    assert count_rule_cdf(median, **kw) == pytest.approx(0.5, abs=1e-9)
    assert abs((t_done <= median).mean() - 0.5) < 4 * math.sqrt(0.25 / t_done.size)
