"""The four shifted families of the ``[stragglers]`` format and their maximum-likelihood
estimators (docs/fitting.md, "The four families")."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from pssim.analysis.fits.trace import NotEstimable

FAMILIES = ("exponential", "gamma", "lognormal", "pareto")

#: Each family's parameters under their names in the ``[stragglers]`` table.
PARAMETERS = {
    "exponential": ("alpha", "mu"),
    "gamma": ("alpha", "shape", "rate"),
    "lognormal": ("alpha", "mu_log", "sigma_log"),
    "pareto": ("alpha", "shape", "scale"),
}

FIT_COLUMNS = ["family", "alpha", "mu", "shape", "rate", "mu_log", "sigma_log", "scale",
               "loglik", "aic", "ks_stat", "ks_pvalue", "note"]



def frozen(family: str, params: dict[str, float]) -> Any:
    """The scipy.stats distribution of X = alpha + Y for ``family`` with ``params`` under
    their ``[stragglers]`` names."""
    from scipy import stats

    alpha = params["alpha"]
    if family == "exponential":
        return stats.expon(loc=alpha, scale=1.0 / params["mu"])
    if family == "gamma":
        return stats.gamma(params["shape"], loc=alpha, scale=1.0 / params["rate"])
    if family == "lognormal":
        return stats.lognorm(params["sigma_log"], loc=alpha, scale=math.exp(params["mu_log"]))
    if family == "pareto":
        # scipy's pareto is scale·Z + loc with P(Z > z) = z^−b, z ≥ 1: Y ≥ scale as here.
        return stats.pareto(params["shape"], loc=alpha, scale=params["scale"])
    raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")


def _log_moments(x: np.ndarray) -> Callable[[float], tuple[float, float]]:
    """(mean, variance) of ln(x − alpha) as a function of alpha, remembered: the three
    profile likelihoods share their evaluations."""

    @functools.lru_cache(maxsize=512)
    def moments(alpha: float) -> tuple[float, float]:
        logs = np.log(x - alpha)
        mean = float(logs.mean())
        return mean, float(np.mean((logs - mean) ** 2))

    return moments


def _gamma_shape(s: float) -> float:
    """The gamma MLE of the shape k, the root of ln k − ψ(k) = s = ln(mean y) − mean(ln y),
    by Minka's generalized Newton iteration (a handful of steps from his start)."""
    from scipy import special

    k = (3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    for _ in range(8):
        step = (-s + math.log(k) - float(special.digamma(k))) / (
            k * k * (1.0 / k - float(special.polygamma(1, k))))
        k = 1.0 / (1.0 / k + step)
    return k


def _at_alpha(family: str, x: np.ndarray, moments: Callable[[float], tuple[float, float]],
              alpha: float) -> tuple[dict[str, float], float]:
    """The MLE of the family's other parameters with the shift fixed at ``alpha``, and the
    log-likelihood there."""
    n = len(x)
    mean_log, var_log = moments(alpha)
    if family == "gamma":
        mean = float(x.mean()) - alpha
        s = math.log(mean) - mean_log
        if not s > 0:
            raise NotEstimable("the durations do not vary")
        k = _gamma_shape(s)
        rate = k / mean
        loglik = n * (k * math.log(rate) - math.lgamma(k) + (k - 1.0) * mean_log - k)
        return {"alpha": alpha, "shape": k, "rate": rate}, loglik
    if family == "lognormal":
        if not var_log > 0:
            raise NotEstimable("the durations do not vary")
        sigma = math.sqrt(var_log)
        loglik = -n * (mean_log + math.log(sigma) + 0.5 * (math.log(2 * math.pi) + 1.0))
        return {"alpha": alpha, "mu_log": mean_log, "sigma_log": sigma}, loglik
    # pareto: for a fixed shift the scale's MLE is the least y, and the shape's is closed.
    scale = float(x.min()) - alpha
    spread = mean_log - math.log(scale)
    if not spread > 0:
        raise NotEstimable("the durations do not vary")
    shape = 1.0 / spread
    loglik = n * (math.log(shape) + shape * math.log(scale) - (shape + 1.0) * mean_log)
    return {"alpha": alpha, "shape": shape, "scale": scale}, loglik


def _profile(x: np.ndarray, loglik: Callable[[float], float]) -> float:
    """The shift alpha in [0, min x) that maximizes the profile log-likelihood ``loglik``.

    The search runs over ln(min x − alpha): the likelihood changes on the scale of that gap,
    which spans many decades between no shift and a shift just below the least duration.
    A coarse grid finds the best region (the profile can have more than one local
    maximum) and a bounded Brent search refines it. The gap is kept at least half the
    distance from the least duration to the next larger one: closer, the likelihood of a
    gamma shape below 1, and the lognormal's, grow without bound with the density at the
    least duration (a spike rather than a fit, and what a tied least duration always
    gives), while the bound moves the shift by less than one spacing of the smallest
    order statistics, far below its standard error.
    """
    from scipy import optimize

    low = float(x.min())
    if not float(np.median(x)) > low:
        raise NotEstimable("half the durations or more equal the least one")
    floor = max(0.5 * (float(x[x > low].min()) - low), 1e-12 * low)
    if low <= floor:
        return 0.0
    top = math.log(low)

    def alpha_of(u: float) -> float:
        return 0.0 if u >= top else max(0.0, low - math.exp(u))

    def value(u: float) -> float:
        try:
            v = loglik(alpha_of(u))
        except NotEstimable:
            return -math.inf
        return v if math.isfinite(v) else -math.inf

    grid = np.linspace(math.log(floor), top, 25)
    values = np.array([value(float(u)) for u in grid])
    if not np.isfinite(values).any():
        raise NotEstimable("no shift in [0, min x) gives a finite likelihood")
    i = int(np.argmax(values))
    lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    found = optimize.minimize_scalar(lambda u: -value(u), bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-7})
    best = float(found.x) if -float(found.fun) >= values[i] else float(grid[i])
    return alpha_of(best)


def fit_family(family: str, durations: Any) -> dict[str, float]:
    """Maximum-likelihood parameters of the shifted ``family`` (under their ``[stragglers]``
    names) and ``loglik``. The shifted exponential's are closed: alpha = min x,
    mu = 1/(mean x − min x); the other families' shift maximizes the profile likelihood
    over [0, min x). Raises ValueError when the data cannot give them."""
    x = np.asarray(durations, dtype=float).ravel()
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    if len(x) < 3 or not (np.isfinite(x).all() and (x > 0).all()):
        raise ValueError("needs at least 3 finite durations > 0")
    # Equal durations have no spread to estimate, whatever rounding makes of mean − min
    # (1.4e-17 for 0.1 repeated 3 times, which would give mu = 7e16).
    if x.min() == x.max():
        raise ValueError("the durations do not vary")
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if family == "exponential":
                alpha = float(x.min())
                gap = float(x.mean()) - alpha
                if not gap > 0:
                    raise NotEstimable("the durations do not vary")
                mu = 1.0 / gap
                # mu·Σ(x − alpha) = n at the MLE.
                params, loglik = {"alpha": alpha, "mu": mu}, len(x) * (math.log(mu) - 1.0)
            else:
                moments = _log_moments(x)
                alpha = _profile(x, lambda a: _at_alpha(family, x, moments, a)[1])
                params, loglik = _at_alpha(family, x, moments, alpha)
    except (NotEstimable, ArithmeticError) as err:
        raise ValueError(str(err) or type(err).__name__) from None
    fitted = {**params, "loglik": loglik}
    wrong = [f"{k} = {v:.3g}" for k, v in fitted.items() if not math.isfinite(v)]
    if wrong:
        raise ValueError(f"the estimates are not finite numbers ({', '.join(wrong)}), as "
                         "with durations too small for double precision (the least is "
                         f"{x.min():.3g} s)")
    return fitted


def fit_families(durations: Any) -> pd.DataFrame:
    """One row per family (:data:`FIT_COLUMNS`): its MLE parameters, log-likelihood, AIC,
    and the Kolmogorov–Smirnov statistic and p-value against the fitted distribution. A
    family that cannot be fitted has NaN and says why in ``note``."""
    from scipy import stats

    x = np.asarray(durations, dtype=float).ravel()
    rows = []
    for family in FAMILIES:
        row: dict[str, Any] = dict.fromkeys(FIT_COLUMNS, math.nan)
        row.update(family=family, note="")
        try:
            fitted = fit_family(family, x)
        except ValueError as err:
            row["note"] = f"not estimable: {err}"
            rows.append(row)
            continue
        params = {k: fitted[k] for k in PARAMETERS[family]}
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ks = stats.kstest(x, frozen(family, params).cdf)
        row.update(params, loglik=fitted["loglik"],
                   aic=2 * len(params) - 2 * fitted["loglik"],
                   ks_stat=float(ks.statistic), ks_pvalue=float(ks.pvalue))
        rows.append(row)
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def chosen_family(fits: pd.DataFrame) -> str | None:
    """The family of lowest AIC among those fitted, or None when none was."""
    fitted = fits[np.isfinite(fits["aic"].to_numpy(dtype=float))]
    if fitted.empty:
        return None
    return str(fitted.loc[fitted["aic"].idxmin(), "family"])
