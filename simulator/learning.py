"""Coded gradient descent with real numbers (docs/model.md, "Coded gradient descent").

A training run of :func:`pssim.api.simulate` gives the clock: for each realization and
iteration, which messages the master received by T_t (the vectorized engine's reception
times where it runs the configuration, else the SimPy engine's trace). This
module gives the numbers: a least-squares or logistic-regression problem split into N
partitions, each scheme's encoder and decoder (``Scheme.code``), and gradient descent on
the decoded gradients. The numbers never change the clock, except through
``decode_time = model``, a cost fixed before the run by the scheme, N, r, p and d.
"""

from __future__ import annotations

import functools
import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from pssim import stale
from pssim.api import Results, build_schemes, configure, memory, prepare, simulate
from pssim.config import Config
from pssim.engines import choose
from pssim.errors import ConfigError, Note, finite, integer
from pssim.files import is_parquet
from pssim.schemes import PAPER_SCHEMES, Scheme
from pssim.schemes.coding import Code, Logistic, pieces_of
from pssim.schemes.lagrange import BASES, LCC, POINT_SETS, CircleCode
from pssim.schemes.prime import (
    DEFAULT_QUANTIZATION,
    MAX_QUANTIZATION,
    RESIDUE_BYTES,
    PrimeLagrangeCode,
    choose_moduli,
)
from pssim.schemes.registry import feasible
from pssim.server import SYNC
from pssim.server import build as build_policy
from pssim.server import resolve as resolve_server

#: The arithmetic of the LCC family's codes (docs/model.md, "LCC over a prime field").
FIELDS = ("real", "prime")
#: Over a prime field the moduli are chosen for models with ‖w‖₂ ≤ RADIUS·‖w*‖₂: exact
#: gradient descent from 0 with a step below 2/L keeps ‖w_t − w*‖ ≤ ‖w*‖, so ‖w_t‖ ≤
#: 2‖w*‖; the rest is room for the quantized iterates' drift, which every iteration checks.
RADIUS = 2.125

PROBLEMS = ("least_squares", "logistic")
#: The synthetic problem of ``pssim train`` when no data are named: ROWS,FEATURES,NOISE.
DEFAULT_SYNTHETIC = "40000,100,1"
#: Newton's method for the logistic optimum: its iteration limit, and its stop, a Newton
#: decrement λ²/2 (an estimate of f(w) − f(w*)) below this share of f(w).
NEWTON_ITERATIONS = 100
NEWTON_TOLERANCE = 1e-15
#: Copies of X (m·d numbers) held at once: the data, and the one that ``lstsq`` (least
#: squares) or the weighted product of Newton's method (logistic) makes.
DATA_COPIES = 2
#: Arrays of (realizations, pieces, d) numbers an iteration of gradient descent holds at
#: once: the pieces' gradients, the messages, their products and the decode's copies.
ARRAYS_PER_ITERATION = 4


@dataclass(frozen=True)
class Problem:
    """A learning problem on m rows and d features (no intercept): ``least_squares``,
    f(w) = ‖Xw − y‖²/(2m), or ``logistic``, f(w) = (1/m)·Σ_i log(1 + exp(x_iᵀw)) − y_i·x_iᵀw
    with labels y_i in {0, 1}."""

    x: np.ndarray
    y: np.ndarray
    name: str = "data"
    kind: str = "least_squares"

    def __post_init__(self) -> None:
        if self.kind not in PROBLEMS:
            raise ConfigError("problem", self.kind, f"must be one of {', '.join(PROBLEMS)}")
        if self.kind == "logistic":
            bad = np.flatnonzero((self.y != 0) & (self.y != 1))
            if bad.size:
                raise ConfigError("target", float(self.y[bad[0]]),
                                  f"must hold only the labels 0 and 1 for the logistic "
                                  f"problem (data row {bad[0] + 1} of {self.name})")

    @classmethod
    def synthetic(cls, rows: int, features: int, noise: float = 1.0, seed: int = 0,
                  kind: str = "least_squares") -> Problem:
        """X with standard normal entries and a true w with standard normal entries, all
        from ``seed``; least squares: y = Xw + noise·(standard normal); logistic: the true
        w divided by √d, so that the logits x_iᵀw are about standard normal, and y_i = 1
        with probability σ(x_iᵀw/noise) (noise > 0; the smaller, the nearer the classes are
        to separable)."""
        rows = integer("synthetic", rows, low=1)
        features = integer("synthetic", features, low=1)
        noise = finite("synthetic", noise, low=0.0, low_open=kind == "logistic")
        need = DATA_COPIES * rows * features * 8
        if need > memory() / 4:
            raise ConfigError("synthetic", f"{rows},{features}", f"the data would need "
                              f"about {need / 2**30:.3g} GiB (X and the copy that finding "
                              f"w* makes), more than a quarter of this machine's "
                              f"{memory() / 2**30:.3g} GiB: use fewer rows or features")
        rng = np.random.default_rng(np.random.SeedSequence(integer("data_seed", seed, low=0)))
        x = rng.standard_normal((rows, features))
        w = rng.standard_normal(features)
        if kind == "logistic":
            logits = x @ (w / np.sqrt(features)) / noise
            y = (rng.random(rows) < expit(logits)).astype(float)
            return cls(x, y, f"synthetic logistic {rows}x{features}, noise {noise:g}", kind)
        y = x @ w + noise * rng.standard_normal(rows)
        return cls(x, y, f"synthetic {rows}x{features}, noise {noise:g}", kind)

    @classmethod
    def parse_synthetic(cls, text: str, seed: int = 0, kind: str = "least_squares"
                        ) -> Problem:
        """From ``ROWS,FEATURES[,NOISE]``."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError("synthetic", text, "must be ROWS,FEATURES or "
                              "ROWS,FEATURES,NOISE (say 40000,100,1)")
        noise = finite("synthetic", parts[2], low=0.0) if len(parts) == 3 else 1.0
        return cls.synthetic(integer("synthetic", parts[0], low=1),
                             integer("synthetic", parts[1], low=1), noise, seed, kind)

    @classmethod
    def from_file(cls, path: str | Path, target: str | None, kind: str = "least_squares"
                  ) -> Problem:
        """A CSV or Parquet table: ``target`` is y, every other column a feature; all
        must be numbers, none missing (for logistic, the target 0 or 1)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError("data", str(path), "must be an existing CSV or Parquet file")
        try:
            table = pd.read_parquet(path) if is_parquet(path) else pd.read_csv(path)
        except Exception as err:  # the readers raise many types; one line says which file
            raise ConfigError("data", str(path), f"must be a readable CSV or Parquet file "
                              f"({type(err).__name__}: {err})") from None
        if target is None:
            raise ConfigError("target", None, f"must name the target column of {path}")
        if target not in table.columns:
            raise ConfigError("target", target, f"must be a column of {path}; it has "
                              f"{', '.join(map(str, table.columns))}")
        features = [c for c in table.columns if c != target]
        if not features:
            raise ConfigError("data", str(path), "must have a feature column besides the "
                              "target")
        for column in [*features, target]:
            values = table[column]
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                raise ConfigError("data", str(path), f"column {column!r} must hold numbers "
                                  f"only (it is {values.dtype})")
            if not np.isfinite(values.to_numpy(dtype=float)).all():
                raise ConfigError("data", str(path), f"column {column!r} has missing or "
                                  "infinite values")
        return cls(table[features].to_numpy(dtype=float), table[target].to_numpy(dtype=float),
                   f"{path.name}, target {target}", kind)

    @property
    def rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def features(self) -> int:
        return int(self.x.shape[1])

    def partitions(self, workers: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows in file order as N contiguous partitions of m/N rows: (N, m/N, d) and
        (N, m/N)."""
        if self.rows < workers:
            raise ConfigError("workers", workers, f"must be at most the number of rows "
                              f"m={self.rows} of the data (each partition needs a row)")
        if self.rows % workers:
            raise ConfigError("workers", workers, f"must divide the number of rows "
                              f"m={self.rows} (partitions are equal): drop "
                              f"{self.rows % workers} rows or choose another N")
        rows = self.rows // workers
        return (self.x.reshape(workers, rows, self.features), self.y.reshape(workers, rows))

    @functools.cached_property
    def geometry(self) -> Geometry:
        """L, w* and f(w*), computed once per problem."""
        return Geometry.of(self)

    def loss(self, w: np.ndarray) -> np.ndarray:
        """f(w) for each row of ``w`` (R, d), computed directly (about 2md operations each)."""
        logits = w @ self.x.T
        if self.kind == "logistic":
            # log(1 + exp(z)) as logaddexp(0, z): no overflow for large logits.
            return (np.logaddexp(0.0, logits) - self.y * logits).mean(axis=1)
        residual = logits - self.y
        return np.einsum("ri,ri->r", residual, residual) / (2 * self.rows)


@dataclass(frozen=True)
class Geometry(ABC):
    """What gradient descent needs of a problem beyond its partitions: the Lipschitz
    constant L of ∇f, a minimiser w*, f(w*), and the full gradient and loss."""

    lipschitz: float
    optimum: np.ndarray
    optimal_loss: float
    rows: int

    @classmethod
    def of(cls, problem: Problem) -> Geometry:
        """The geometry of ``problem``'s kind."""
        return _GEOMETRIES[problem.kind].of(problem)

    @abstractmethod
    def gradient(self, w: np.ndarray) -> np.ndarray:
        """The sum G of the row gradients (m·∇f) for each row of ``w`` (R, d)."""

    @abstractmethod
    def loss(self, w: np.ndarray) -> np.ndarray:
        """f(w) for each row of ``w`` (R, d)."""


def _gram(problem: Problem) -> np.ndarray:
    """XᵀX, which both geometries need (L, and for least squares every gradient): refused
    when it overflows, since nothing computed from it would be a number."""
    with np.errstate(over="ignore", invalid="ignore"):
        gram = problem.x.T @ problem.x
    if not np.isfinite(gram).all():
        raise ConfigError("data", problem.name, f"has features so large that XᵀX "
                          f"overflows (the largest |x| is {np.abs(problem.x).max():.3g}): "
                          "scale the features")
    return gram


def _largest_eigenvalue(gram: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(gram)[-1])


@dataclass(frozen=True)
class QuadraticGeometry(Geometry):
    """Least squares: XᵀX, Xᵀy, L = λ_max(XᵀX)/m, w* by ``numpy.linalg.lstsq``."""

    gram: np.ndarray
    moment: np.ndarray

    @classmethod
    def of(cls, problem: Problem) -> QuadraticGeometry:
        gram = _gram(problem)
        optimum = np.linalg.lstsq(problem.x, problem.y, rcond=None)[0]
        return cls(_largest_eigenvalue(gram) / problem.rows, optimum,
                   float(problem.loss(optimum[None, :])[0]), problem.rows, gram,
                   problem.x.T @ problem.y)

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """G = Xᵀ(Xw − y) for each row of ``w``."""
        return w @ self.gram - self.moment  # XᵀX is symmetric

    def loss(self, w: np.ndarray) -> np.ndarray:
        """f(w) = f(w*) + (w − w*)ᵀXᵀX(w − w*)/(2m): exact for least squares, and free of
        the cancellation of ‖Xw − y‖² near the optimum."""
        gap = w - self.optimum
        return self.optimal_loss + np.einsum("ri,ij,rj->r", gap, self.gram, gap) / (
            2 * self.rows)


@dataclass(frozen=True)
class LogisticGeometry(Geometry):
    """Logistic regression: L = λ_max(XᵀX)/(4m) (σ' ≤ 1/4), w* by Newton's method."""

    problem: Problem = field(repr=False, compare=False)

    @classmethod
    def of(cls, problem: Problem) -> LogisticGeometry:
        gram = _gram(problem)
        optimum = _newton(problem)
        return cls(_largest_eigenvalue(gram) / (4 * problem.rows), optimum,
                   float(problem.loss(optimum[None, :])[0]), problem.rows, problem)

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """G = Xᵀ(σ(Xw) − y) for each row of ``w``."""
        return Logistic(self.problem.x[None], self.problem.y[None]).gradients(w)[:, 0]

    def loss(self, w: np.ndarray) -> np.ndarray:
        return self.problem.loss(w)


_GEOMETRIES: dict[str, type[Geometry]] = {"least_squares": QuadraticGeometry,
                                          "logistic": LogisticGeometry}


def _newton(problem: Problem) -> np.ndarray:
    """The logistic minimiser by Newton's method from w = 0, each step halved until f does
    not increase. The step solves the Newton system by least squares, so that a singular
    Hessian (a feature that combines others) gives the minimum-norm step and still a
    minimiser. Separable classes have no minimiser: once w separates every row (the
    infimum 0 is approached along it), or Newton does not converge, a ConfigError."""
    x, y, m = problem.x, problem.y, problem.rows
    w = np.zeros(problem.features)
    loss = float(problem.loss(w[None])[0])
    for _ in range(NEWTON_ITERATIONS):
        logits = x @ w
        if np.all(np.where(y == 1, logits, -logits) > 0):
            break  # w separates the classes: f has no minimiser
        p = expit(logits)
        gradient = x.T @ (p - y) / m
        hessian = (x.T * (p * (1 - p))) @ x / m
        step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        decrement = float(gradient @ step)
        if decrement / 2 <= NEWTON_TOLERANCE * loss:
            return w
        scale = 1.0
        while (trial_loss := float(problem.loss((w - scale * step)[None])[0])) > loss:
            scale /= 2
            if scale < 1e-10:  # no step decreases f beyond rounding: w is the minimiser
                return w
        w, loss = w - scale * step, trial_loss
    raise ConfigError("data", problem.name, "has separable classes (a linear model "
                      "labels every row correctly), so the logistic loss has no minimiser "
                      "and f(w*) is undefined: use data whose classes overlap, or more rows")


@dataclass(frozen=True)
class Learning:
    """What a training run with real numbers produced.

    ``summary``: one row per (scheme, realization, iteration): the timing columns of
    :func:`pssim.api.simulate`, then ``loss`` (f(w_{t+1})), ``gradient_error``
    (‖Ĝ − G‖/‖G‖) and ``condition_number`` (NaN where no system is solved); over a prime
    field also ``quantization_error`` (‖G_q − G‖/‖G‖, G_q the fixed-point gradient).
    ``weights``: the final model per (scheme, rep), long form (``feature``, ``weight``).
    """

    summary: pd.DataFrame
    weights: pd.DataFrame
    initial_loss: float
    optimal_loss: float
    step: float
    #: Over a prime field, the fixed point and the moduli; empty over the reals.
    arithmetic: str = ""


def decode_seconds(config: Config, code: Code, dimension: int,
                   scheme: Scheme | None = None) -> float:
    """The master's decoding time per iteration: the configured seconds, or under
    ``decode_time = model`` the decode's operations divided by ``master_flops``; under a
    server policy (``scheme`` given), those of summing and scaling the largest K of
    gradients an update of the run waits for, K·d."""
    if config.decode_time != "model":
        return float(config.decode_time)
    policy = None if scheme is None else build_policy(config.server, scheme,
                                                      config.server_k,
                                                      config.server_period)
    if policy is None:
        return float(code.flops(dimension)) / config.master_flops
    largest = max(policy.k(u) for u in range(config.iterations))
    return float(largest * dimension) / config.master_flops


def train(config: Config | None = None, problem: Problem | None = None, *,
          step: float | None = None, points: str = "chebyshev", basis: str = "chebyshev",
          staleness_power: float = 0.0, field: str = "real", quantization: int | None = None,
          **options: Any) -> Learning:
    """K iterations of gradient descent w_{t+1} = w_t − η·Ĝ_t/m from w_0 = 0, with each
    scheme's decoded gradient Ĝ_t from the messages its master held at T_t, for every
    realization of ``config`` (a Config, or options that build one). ``step`` η defaults
    to 1/L. ``points`` and ``basis`` are LCC's evaluation points and interpolation basis;
    ``field`` ``prime`` runs the LCC family over prime fields on data and model quantized
    to ``quantization`` fraction bits (default 16), and refuses the other schemes as LCC's
    are refused for logistic. Under a server policy, gradients of staleness s step by
    η·(1 + s)^(−``staleness_power``) (:mod:`pssim.stale`).
    The schemes of ``all`` that cannot decode ``problem``'s gradient (LCC's for logistic)
    are skipped with a :class:`~pssim.errors.Note`; a scheme named on its own, refused.
    """
    if points not in POINT_SETS:
        raise ConfigError("points", points, f"must be one of {', '.join(POINT_SETS)}")
    if basis not in BASES:
        raise ConfigError("basis", basis, f"must be one of {', '.join(BASES)}")
    power = stale.staleness_power(staleness_power)
    if field not in FIELDS:
        raise ConfigError("field", field, f"must be one of {', '.join(FIELDS)}")
    if quantization is not None:
        quantization = integer("quantization", quantization, low=1, high=MAX_QUANTIZATION)
        if field == "real":
            warnings.warn("quantization: has no effect over the real numbers (it is the "
                          "fixed point of field prime)", Note, stacklevel=2)
    cfg = configure(config, **options)
    if field == "prime":
        _prime_runs(cfg)
    problem = problem if problem is not None else Problem.parse_synthetic(DEFAULT_SYNTHETIC)
    x, y = problem.partitions(cfg.workers)
    built = build_schemes(cfg)
    check_size(cfg, problem, built)
    geometry = problem.geometry
    eta = _step(geometry.lipschitz) if step is None else finite("step", step, low=0.0,
                                                                low_open=True)
    initial = float(geometry.loss(np.zeros((1, problem.features)))[0])
    if power != 0 and cfg.server == "sync":
        warnings.warn(f"staleness_power {power:g} has no effect under server sync: every "
                      "gradient is computed on the model it updates", Note, stacklevel=2)
    arithmetic = ({} if field == "real" else
                  _prime_options(problem, geometry, eta, quantization or DEFAULT_QUANTIZATION))
    _recheck_size(cfg, problem, built, arithmetic, points)
    # Under a server policy every message is one partition's gradient (UC-MMC's).
    pieces = pieces_of(x, y, problem.kind) if cfg.server != "sync" else None
    summaries, weights, described = [], [], ""
    for scheme, code in _codes(cfg, built, x, y, problem.kind, points=points, basis=basis,
                               **arithmetic):
        seconds = decode_seconds(cfg, code, problem.features, scheme)
        timed = cfg.replace(scheme=(scheme.label,), decode_time=seconds, **_wire(cfg, code))
        if pieces is None:
            received, timing = _clock(timed, scheme)
            loss, error, cond, models, quantized = descend(code, geometry, received, eta)
        else:
            timing, loss, error, models = stale.under_policy(timed, pieces, geometry, eta,
                                                             power)
            cond = np.full(loss.shape, np.nan)
        trouble = divergence(loss, initial, eta, geometry.lipschitz)
        if trouble is not None:
            warnings.warn(f"{scheme.label}: {trouble}", Note, stacklevel=2)
        final = models[:, -1]
        summary = timing.summary.assign(loss=loss.reshape(-1),
                                        gradient_error=error.reshape(-1),
                                        condition_number=cond.reshape(-1))
        if arithmetic:
            summary["quantization_error"] = quantized.reshape(-1)
            described = getattr(code, "description", "")
        summaries.append(summary)
        reps, d = final.shape
        weights.append(pd.DataFrame({
            "scheme": scheme.label, "rep": np.repeat(np.arange(reps, dtype=np.int64), d),
            "feature": np.tile(np.arange(d, dtype=np.int64), reps),
            "weight": final.reshape(-1)}))
    summary = pd.concat(summaries, ignore_index=True)
    summary.attrs = summaries[0].attrs
    return Learning(summary, pd.concat(weights, ignore_index=True), initial,
                    geometry.optimal_loss, eta, described)


def _prime_runs(config: Config) -> None:
    """Refuse, naming ``field``, before anything is built (so in one line, without the
    notes of skipped schemes), a prime-field run with no scheme to run: under a server
    policy (the LCC family runs under sync only), or ``all`` alone at an N and r where no
    scheme of the family is feasible."""
    if resolve_server(config.server) != SYNC:
        raise ConfigError("field", "prime", f"runs the LCC family, which runs under server "
                          f"sync only (its coded messages need every piece of a round), not "
                          f"server {config.server}: use field real")
    family = [name for name in PAPER_SCHEMES if name.startswith("LCC")]
    if (all(s.strip().lower() == "all" for s in config.scheme)
            and not any(feasible(name, config.workers, config.load) for name in family)):
        raise ConfigError("field", "prime", f"runs the LCC family, and none of "
                          f"{', '.join(family)} can run at N={config.workers}, "
                          f"r={config.load} (LCC needs 2⌈N/r⌉ − 1 ≤ N, LCC-MMC N·r ≥ "
                          "2N − 1, LCC-MMC-2 an even r): raise the load")


def _prime_options(problem: Problem, geometry: Geometry, step: float, bits: int
                   ) -> dict[str, Any]:
    """The prime-field codes' options, refused in one line where they cannot be exact: a
    gradient that is no polynomial, or a step beyond which the model has no bound."""
    if problem.kind != "least_squares":
        raise ConfigError("field", "prime", f"needs a polynomial gradient, such as least "
                          f"squares (the {problem.kind} gradient is not): use field real")
    limit = 2 / geometry.lipschitz if geometry.lipschitz > 0 else math.inf
    if step >= limit:
        raise ConfigError("step", step, f"must be below 2/L = {limit:.6g} with field prime: "
                          "beyond it the model has no bound, so its fixed-point gradient "
                          "could wrap")
    radius = RADIUS * float(np.linalg.norm(geometry.optimum))
    return {"field": "prime", "quantization": bits, "radius": radius}


def _wire(config: Config, code: Code) -> dict[str, float]:
    """A message's size on the network in the code's arithmetic, where a real message
    carries d float64s (``message_size``): over a prime field c·d residues below 2^21,
    each in a 32-bit word, so ``message_size`` times c/2; at roots of unity d complex
    numbers, twice it. The model sent stays d numbers of 8 bytes (fixed-point int64s over
    a prime field), ``model_size`` (by default the real message's size). Nothing changes
    without a ``message_size``, or for a real code."""
    if isinstance(code, PrimeLagrangeCode):
        factor = len(code.moduli) * RESIDUE_BYTES / 8
    elif isinstance(code, CircleCode):
        factor = 2.0
    else:
        return {}
    if config.message_size is None:
        return {}
    model = config.message_size if config.model_size is None else config.model_size
    return {"message_size": config.message_size * factor, "model_size": model}


def _recheck_size(config: Config, problem: Problem, schemes: list[Scheme],
                  arithmetic: dict[str, Any], points: str) -> None:
    """The memory check again, once the arithmetic is known (over a prime field its
    moduli are chosen from the optimum, which the first check's XᵀX gives), before any
    code is built: over a prime field c copies of every LCC piece and message and c Gram
    matrices of the uncoded data, at roots of unity complex ones."""
    if arithmetic and problem.kind == "least_squares":
        x, y = problem.partitions(config.workers)
        c = len(choose_moduli(x, y, arithmetic["quantization"], arithmetic["radius"])[1])
        check_size(config, problem, schemes, copies=c, references=c,
                   arithmetic=f" (the LCC family's {c} times over, one copy per prime of "
                   "field prime)")
    elif points == "circle":
        check_size(config, problem, schemes, copies=2,
                   arithmetic=" (the LCC family's complex, of twice the size, at points "
                   "circle)")


def _step(lipschitz: float) -> float:
    """The default step 1/L, or a ConfigError when L gives none (all-zero features)."""
    eta = 1.0 / lipschitz if lipschitz > 0 else math.inf
    if not math.isfinite(eta):
        raise ConfigError("step", None, f"cannot be derived as 1/L: L = {lipschitz:.3g} "
                          "(the features are zero, or nearly, in every row); give a step "
                          "(--step)")
    return eta


def check_size(config: Config, problem: Problem, schemes: list[Scheme], copies: int = 1,
               references: int = 0, arithmetic: str = "") -> None:
    """Refuse, with the estimate, a training run whose arrays could not fit in memory: XᵀX
    and, for least squares, the Gram matrices of every scheme's pieces (all codes are
    built before the first run; at most one piece per message), then one scheme at a time
    an iteration's messages and gradients and the iterates kept. A piece of the LCC family
    and its messages take ``copies`` times a real one's numbers (c over a prime field,
    one per prime; 2 at roots of unity, complex), and each LCC code keeps ``references``
    Gram matrices of the uncoded data (c over a prime field), as ``arithmetic`` says."""
    d, reps = problem.features, config.reps
    family = [isinstance(s, LCC) for s in schemes]
    pieces = [s.workers * s.messages_per_worker * (copies if lcc else 1)
              for s, lcc in zip(schemes, family, strict=True)]
    grams = ((sum(pieces) + references * sum(family) if problem.kind == "least_squares"
              else 0) + 1) * d * d * 8
    arrays = (ARRAYS_PER_ITERATION * max(pieces) + config.iterations) * reps * d * 8
    available = memory()
    if grams + arrays <= available / 4:
        return
    parameter, value, what = (
        ("data", problem.name, f"its {d} features need {grams / 2**30:.3g} GiB of Gram "
         f"matrices{arithmetic}") if grams >= arrays else
        ("reps", reps, f"{reps} realizations of {d} features need {arrays / 2**30:.3g} "
         "GiB of messages and iterates"))
    raise ConfigError(parameter, value, f"{what}, about {(grams + arrays) / 2**30:.3g} GiB "
                      f"in all, more than a quarter of this machine's "
                      f"{available / 2**30:.3g} GiB")


def divergence(loss: np.ndarray, initial: float, step: float, lipschitz: float
               ) -> str | None:
    """What went wrong with the losses (reps, K) of a run, in words, or None: a loss that
    stops being finite, or a final loss above the initial one f(w_0)."""
    runs = loss.shape[0]
    limit = 2 / lipschitz if lipschitz > 0 else math.inf
    # Exact gradients converge for every step below 2/L: above it the step is to blame,
    # below it the decoded gradients' errors.
    cause = (f"the step {step:.3g} is at least 2/L = {limit:.3g}, beyond which gradient "
             "descent diverges" if step >= limit else
             f"the step {step:.3g} is below 2/L = {limit:.3g}, so the decoded gradients' "
             "errors are to blame (see gradient_error)")
    broken = ~np.isfinite(loss)
    if broken.any():
        first = int(np.argmax(broken.any(axis=0)))
        return (f"the loss stops being finite at iteration {first} in "
                f"{int(broken.any(axis=1).sum())} of {runs} realization(s): {cause}")
    above = loss[:, -1] > initial
    if above.any():
        return (f"the loss diverges: it ends above f(w_0) = {initial:.6g} in "
                f"{int(above.sum())} of {runs} realization(s): {cause}")
    return None


def _codes(config: Config, schemes: list[Scheme], x: np.ndarray, y: np.ndarray, kind: str,
           **options: Any) -> list[tuple[Scheme, Code]]:
    """Each scheme's code on the partitions, all built before any is simulated so that a
    refused scheme costs no run; ``schemes`` are those of ``config``."""
    explicit = tuple(s for s in config.scheme if s.strip().lower() != "all")
    from_all = len(explicit) < len(config.scheme)
    named = ({s.identity() for s in build_schemes(config.replace(scheme=explicit))}
             if from_all and explicit else set())
    codes: list[tuple[Scheme, Code]] = []
    refused: list[tuple[Scheme, ConfigError]] = []
    field = options.get("field", "real")
    for scheme in schemes:
        try:
            if field not in scheme.fields:
                raise ConfigError("field", field, f"{scheme.label} decodes over the real "
                                  "numbers only: field prime is for the LCC family (LCC, "
                                  "LCC(p), LCC-MMC, LCC-MMC-2)")
            codes.append((scheme, scheme.code(x, y, problem=kind, **options)))
        except ConfigError as err:
            if (err.parameter not in ("problem", "field") or not from_all
                    or scheme.identity() in named):
                raise
            refused.append((scheme, err))
    if refused:
        first = refused[0][1]
        why = f"the {kind} problem" if first.parameter == "problem" else f"field {field}"
        warnings.warn(f"all: skipped {', '.join(s.label for s, _ in refused)} for {why}: "
                      f"{first.allowed}", Note, stacklevel=3)
    return codes


def _clock(config: Config, scheme: Scheme) -> tuple[np.ndarray, Results]:
    """The run's timing and, per (realization, iteration), when the master received each
    message it held at T_t (∞ for the others): from the vectorized engine's reception
    times where it runs the configuration, else from the SimPy engine's trace."""
    prepared = prepare(config)
    engine = choose(config.engine, prepared.network, False, prepared.training)
    if engine.name != "vectorized":
        timing = simulate(config, trace=True)
        assert timing.trace is not None  # asked for
        return held(timing.summary, timing.trace, config, scheme), timing
    timing = simulate(config, receptions=True)
    assert timing.receptions is not None  # asked for
    times = timing.receptions[0]
    end = timing.summary["end"].to_numpy().reshape(config.reps, config.iterations)
    # Everything at T_t itself counts for iteration t; later messages are discarded.
    return np.where(times <= end[:, :, None, None], times, np.inf), timing


def held(summary: pd.DataFrame, trace: pd.DataFrame, config: Config, scheme: Scheme
         ) -> np.ndarray:
    """When the master received each message of each iteration, if at or before that
    iteration's T_t, else ∞: (reps, K, N, messages per worker), from the trace."""
    reps, k = config.reps, config.iterations
    received = trace[trace["event"] == "received"]
    rep = received["rep"].to_numpy() - int(summary["rep"].min())
    t = received["iteration"].to_numpy()
    time = received["time"].to_numpy()
    end = summary["end"].to_numpy().reshape(reps, k)
    # Everything at T_t itself counts for iteration t; later messages are discarded.
    kept = time <= end[rep, t]
    out = np.full((reps, k, scheme.workers, scheme.messages_per_worker), np.inf)
    out[rep[kept], t[kept], received["worker"].to_numpy(dtype=np.int64)[kept],
        received["message"].to_numpy(dtype=np.int64)[kept] - 1] = time[kept]
    return out


def descend(code: Code, geometry: Geometry, received: np.ndarray, step: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent in lockstep over realizations: per (realization, iteration) the
    loss after the update, the relative gradient error and the condition number, the
    models after each update (R, K, d), and the relative error of the fixed-point gradient
    (NaN for a code with real numbers)."""
    reps, iterations = received.shape[:2]
    dimension = len(geometry.optimum)
    w = np.zeros((reps, dimension))
    loss, error, cond = (np.empty((reps, iterations)) for _ in range(3))
    quantization = np.full((reps, iterations), np.nan)
    models = np.empty((reps, iterations, dimension))
    # A diverging run overflows: its losses are reported, in words, by the caller.
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(iterations):
            decoded, cond[:, t] = code.decode(code.messages(w), received[:, t])
            exact = geometry.gradient(w)
            reference = code.quantized(w)
            with np.errstate(divide="ignore"):  # G = 0 gives NaN
                norm = np.linalg.norm(exact, axis=1)
                error[:, t] = np.linalg.norm(decoded - exact, axis=1) / norm
                if reference is not None:
                    quantization[:, t] = np.linalg.norm(reference - exact, axis=1) / norm
            w = w - (step / geometry.rows) * decoded
            models[:, t] = w
            loss[:, t] = geometry.loss(w)
    return loss, error, cond, models, quantization

