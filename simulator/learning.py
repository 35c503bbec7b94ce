"""Coded gradient descent with real numbers (docs/model.md, "Coded gradient descent").

A training run of :func:`pssim.api.simulate` gives the clock: for each realization and
iteration, which messages the master received by T_t (from the SimPy engine's trace). This
module gives the numbers: a least-squares problem split into N partitions, each scheme's
encoder and decoder (``Scheme.code``), and gradient descent on the decoded gradients. The
numbers never change the clock, except through ``decode_time = model``, a cost fixed
before the run by the scheme, N, r, p and d.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim.api import build_schemes, configure, simulate
from pssim.config import Config
from pssim.errors import ConfigError, finite, integer
from pssim.schemes import Scheme
from pssim.schemes.coding import Code
from pssim.schemes.lagrange import BASES, POINT_SETS

PROBLEMS = ("least_squares",)
#: The synthetic problem of ``pssim train`` when no data are named: ROWS,FEATURES,NOISE.
DEFAULT_SYNTHETIC = "40000,100,1"


@dataclass(frozen=True)
class Problem:
    """Least squares f(w) = ‖Xw − y‖²/(2m) on m rows and d features (no intercept)."""

    x: np.ndarray
    y: np.ndarray
    name: str = "data"

    @classmethod
    def synthetic(cls, rows: int, features: int, noise: float = 1.0, seed: int = 0
                  ) -> Problem:
        """X with standard normal entries, a true w with standard normal entries, and
        y = Xw + noise·(standard normal), all from ``seed``."""
        rows = integer("synthetic", rows, low=1)
        features = integer("synthetic", features, low=1)
        noise = finite("synthetic", noise, low=0.0)
        rng = np.random.default_rng(np.random.SeedSequence(integer("data_seed", seed, low=0)))
        x = rng.standard_normal((rows, features))
        w = rng.standard_normal(features)
        y = x @ w + noise * rng.standard_normal(rows)
        return cls(x, y, f"synthetic {rows}x{features}, noise {noise:g}")

    @classmethod
    def parse_synthetic(cls, text: str, seed: int = 0) -> Problem:
        """From ``ROWS,FEATURES[,NOISE]``."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError("synthetic", text, "must be ROWS,FEATURES or "
                              "ROWS,FEATURES,NOISE (say 40000,100,1)")
        noise = finite("synthetic", parts[2], low=0.0) if len(parts) == 3 else 1.0
        return cls.synthetic(integer("synthetic", parts[0], low=1),
                             integer("synthetic", parts[1], low=1), noise, seed)

    @classmethod
    def from_file(cls, path: str | Path, target: str | None) -> Problem:
        """A CSV or Parquet table: ``target`` is y, every other column a feature; all
        must be numbers, none missing."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError("data", str(path), "must be an existing CSV or Parquet file")
        try:
            table = (pd.read_csv(path) if path.suffix.lower() == ".csv"
                     else pd.read_parquet(path))
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
                   f"{path.name}, target {target}")

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
        """XᵀX, L, w* and f(w*), computed once per problem."""
        return Geometry.of(self)

    def loss(self, w: np.ndarray) -> np.ndarray:
        """f(w) for each row of ``w`` (R, d), computed directly (2md operations each)."""
        residual = w @ self.x.T - self.y
        return np.einsum("ri,ri->r", residual, residual) / (2 * self.rows)


@dataclass(frozen=True)
class Geometry:
    """What gradient descent needs of a problem beyond its partitions: XᵀX, Xᵀy, the
    Lipschitz constant L = λ_max(XᵀX)/m, a minimiser w* and f(w*)."""

    gram: np.ndarray
    moment: np.ndarray
    lipschitz: float
    optimum: np.ndarray
    optimal_loss: float
    rows: int

    @classmethod
    def of(cls, problem: Problem) -> Geometry:
        gram = problem.x.T @ problem.x
        optimum = np.linalg.lstsq(problem.x, problem.y, rcond=None)[0]
        return cls(gram, problem.x.T @ problem.y,
                   float(np.linalg.eigvalsh(gram)[-1]) / problem.rows, optimum,
                   float(problem.loss(optimum[None, :])[0]), problem.rows)

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
class Learning:
    """What a training run with real numbers produced.

    ``summary``: one row per (scheme, realization, iteration): the timing columns of
    :func:`pssim.api.simulate`, then ``loss`` (f(w_{t+1})), ``gradient_error``
    (‖Ĝ − G‖/‖G‖) and ``condition_number`` (NaN where no system is solved).
    ``weights``: the final model per (scheme, rep), long form (``feature``, ``weight``).
    """

    summary: pd.DataFrame
    weights: pd.DataFrame
    initial_loss: float
    optimal_loss: float
    step: float


def decode_seconds(config: Config, code: Code, dimension: int) -> float:
    """The master's decoding time per iteration: the configured seconds, or under
    ``decode_time = model`` the decode's operations divided by ``master_flops``."""
    if config.decode_time == "model":
        return float(code.flops(dimension)) / config.master_flops
    return float(config.decode_time)


def train(config: Config | None = None, problem: Problem | None = None, *,
          step: float | None = None, points: str = "chebyshev", basis: str = "chebyshev",
          problem_kind: str = "least_squares", **options: Any) -> Learning:
    """K iterations of gradient descent w_{t+1} = w_t − η·Ĝ_t/m from w_0 = 0, with each
    scheme's decoded gradient Ĝ_t from the messages its master held at T_t, for every
    realization of ``config`` (a Config, or options that build one). ``step`` η defaults
    to 1/L. ``points`` and ``basis`` are LCC's evaluation points and interpolation basis.
    """
    if problem_kind not in PROBLEMS:
        raise ConfigError("problem", problem_kind, f"must be one of {', '.join(PROBLEMS)}")
    if points not in POINT_SETS:
        raise ConfigError("points", points, f"must be one of {', '.join(POINT_SETS)}")
    if basis not in BASES:
        raise ConfigError("basis", basis, f"must be one of {', '.join(BASES)}")
    cfg = configure(config, **options)
    problem = problem if problem is not None else Problem.parse_synthetic(DEFAULT_SYNTHETIC)
    x, y = problem.partitions(cfg.workers)
    geometry = problem.geometry
    eta = 1.0 / geometry.lipschitz if step is None else finite("step", step, low=0.0,
                                                                 low_open=True)
    summaries, weights = [], []
    for scheme in build_schemes(cfg):
        code = scheme.code(x, y, points=points, basis=basis)
        seconds = decode_seconds(cfg, code, problem.features)
        timing = simulate(cfg.replace(scheme=(scheme.label,), decode_time=seconds),
                          trace=True)
        assert timing.trace is not None  # asked for
        received = held(timing.summary, timing.trace, cfg, scheme)
        loss, error, cond, models = descend(code, geometry, received, eta)
        final = models[:, -1]
        summaries.append(timing.summary.assign(loss=loss.reshape(-1),
                                               gradient_error=error.reshape(-1),
                                               condition_number=cond.reshape(-1)))
        reps, d = final.shape
        weights.append(pd.DataFrame({
            "scheme": scheme.label, "rep": np.repeat(np.arange(reps, dtype=np.int64), d),
            "feature": np.tile(np.arange(d, dtype=np.int64), reps),
            "weight": final.reshape(-1)}))
    summary = pd.concat(summaries, ignore_index=True)
    summary.attrs = summaries[0].attrs
    initial = float(geometry.loss(np.zeros((1, problem.features)))[0])
    return Learning(summary, pd.concat(weights, ignore_index=True), initial,
                    geometry.optimal_loss, eta)


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
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent in lockstep over realizations: per (realization, iteration) the
    loss after the update, the relative gradient error and the condition number, and the
    models after each update (R, K, d)."""
    reps, iterations = received.shape[:2]
    w = np.zeros((reps, geometry.gram.shape[0]))
    loss, error, cond = (np.empty((reps, iterations)) for _ in range(3))
    models = np.empty((reps, iterations, len(geometry.gram)))
    for t in range(iterations):
        decoded, cond[:, t] = code.decode(code.messages(w), received[:, t])
        exact = geometry.gradient(w)
        with np.errstate(divide="ignore", invalid="ignore"):  # G = 0 gives NaN
            error[:, t] = (np.linalg.norm(decoded - exact, axis=1)
                           / np.linalg.norm(exact, axis=1))
        w = w - (step / geometry.rows) * decoded
        models[:, t] = w
        loss[:, t] = geometry.loss(w)
    return loss, error, cond, models

