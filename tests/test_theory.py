"""The SimPy engine against the paper's closed forms (eqs. 15–18), within 4 standard
errors at fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from pssim import run
from pssim.engines.analytic import count_rule_cdf, count_rule_mean, count_rule_quantile
from pssim.schemes import make_scheme

MU, ALPHA = 10.0, 0.01


def theory(scheme: str, n: int, r: int) -> dict[str, int | float]:
    s = make_scheme(scheme, n, r)
    return {"workers": n, "load": r, "group": s.group, "threshold": s.threshold, "mu": MU,
            "alpha": ALPHA}


CASES = [(s, 10, 5) for s in ("GC", "LCC", "LCC-MMC")] + [
    (s, 40, r) for r in (2, 4, 8) for s in ("GC", "LCC", "LCC-MMC", "LCC-MMC-2")]


@pytest.mark.parametrize(("scheme", "n", "r"), CASES)
def test_des_mean_completion_time_matches_closed_form(scheme: str, n: int, r: int) -> None:
    t = run(scheme, n, r, mu=MU, alpha=ALPHA, reps=3000, seed=100 + r, engine="des")
    t = t["completion_time"].to_numpy()
    se = t.std(ddof=1) / np.sqrt(len(t))
    assert abs(t.mean() - count_rule_mean(**theory(scheme, n, r))) < 4 * se


@pytest.mark.parametrize(("scheme", "n", "r"), CASES)
def test_vectorized_mean_matches_closed_form_tightly(scheme: str, n: int, r: int) -> None:
    t = run(scheme, n, r, mu=MU, alpha=ALPHA, reps=200_000, seed=7, engine="vectorized")
    t = t["completion_time"].to_numpy()
    se = t.std(ddof=1) / np.sqrt(len(t))
    assert abs(t.mean() - count_rule_mean(**theory(scheme, n, r))) < 4 * se


@pytest.mark.parametrize("scheme", ["GC", "LCC", "LCC-MMC"])
def test_empirical_cdf_matches_eqs_15_and_18(scheme: str) -> None:
    # The paper's Fig. 1: N = 10, r = 5. At nine quantiles of the closed form the empirical
    # CDF must lie within 4 binomial standard errors.
    reps = 20_000
    params = theory(scheme, 10, 5)
    t = np.sort(run(scheme, 10, 5, mu=MU, alpha=ALPHA, reps=reps, seed=3,
                    engine="des")["completion_time"].to_numpy())
    q = np.linspace(0.1, 0.9, 9)
    points = count_rule_quantile(q, **params)
    expected = count_rule_cdf(points, **params)
    np.testing.assert_allclose(expected, q, atol=1e-9)
    empirical = np.searchsorted(t, points, side="right") / reps
    se = np.sqrt(expected * (1 - expected) / reps)
    assert (np.abs(empirical - expected) < 4 * se).all()
