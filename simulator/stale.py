"""Gradient descent under a server policy, with stale gradients (docs/model.md, "Learning
under a server policy").

A policy's timing run traces every gradient the master received: which partition it is
of, the model version it was computed on and the update it counted in. This module gives
the numbers: update u turns version u into version u + 1 by

    w_{u+1} = w_u − (η/m)·(N/n_u)·Σ_j (1 + s_j)^(−γ)·g_{p_j}(w_{v_j}),

over the n_u gradients of update u, s_j = u − v_j their staleness, g_p = X_pᵀ(X_p w − y_p)
(or its logistic counterpart) partition p's gradient. Each N·g_p/m is an unbiased
estimate of ∇f, so with n_u = N distinct partitions of staleness 0 the update is
full-batch gradient descent. All realizations run in lockstep, update by update.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pssim.api import Results, simulate
from pssim.config import Config
from pssim.errors import ConfigError, finite

if TYPE_CHECKING:
    from pssim.learning import Geometry
    from pssim.schemes.coding import Pieces

#: The trace columns the descent reads (one row per gradient delivered to the master).
TRACE_COLUMNS = ("rep", "partition", "version", "update")


def staleness_power(value: object) -> float:
    """The exponent γ of the staleness-dependent step η·(1 + s)^(−γ): a finite γ ≥ 0 (0,
    the default, is a constant step; 1 divides the step by 1 + s)."""
    return finite("staleness_power", value, low=0.0)


def step_factors(staleness: np.ndarray, power: float) -> np.ndarray:
    """(1 + s)^(−γ) for each staleness s; exactly 1 when γ = 0."""
    if power == 0:
        return np.ones(staleness.shape)
    return (1.0 + staleness) ** -power


def used_gradients(trace: pd.DataFrame, reps: int, updates: int, workers: int,
                   first_rep: int = 0) -> pd.DataFrame:
    """One scheme's traced gradients that counted in an update (``update`` ≥ 0), checked, in a
    fixed order (by update, realization, partition, version) whatever order the trace
    lists them in: ``rep`` (counted from ``first_rep``, which becomes 0), ``update``,
    ``partition``, ``version`` and ``staleness``."""
    missing = [c for c in TRACE_COLUMNS if c not in trace.columns]
    if missing:
        raise ConfigError("trace", f"columns {list(trace.columns)}",
                          f"must have the columns {', '.join(TRACE_COLUMNS)} (missing "
                          f"{', '.join(missing)})")
    used = trace[trace["update"].to_numpy() >= 0]
    frame = pd.DataFrame({column: used[column].to_numpy(dtype=np.int64)
                          for column in TRACE_COLUMNS})
    for column, low, high in (("rep", first_rep, first_rep + reps - 1),
                              ("update", 0, updates - 1), ("partition", 0, workers - 1),
                              ("version", 0, updates - 1)):
        values = frame[column]
        bad = values[(values < low) | (values > high)]
        if len(bad):
            raise ConfigError("trace", f"{column} {int(bad.iloc[0])}",
                              f"must have {column} from {low} to {high}")
    frame["rep"] -= first_rep
    frame["staleness"] = frame["update"] - frame["version"]
    ahead = frame[frame["staleness"] < 0]
    if len(ahead):
        row = ahead.iloc[0]
        raise ConfigError("trace", f"version {int(row['version'])} in update "
                          f"{int(row['update'])}", "must have each gradient's version at "
                          "most its update's (version u is the model that update u changes)")
    counts = np.zeros((reps, updates), dtype=np.int64)
    np.add.at(counts, (frame["rep"].to_numpy(), frame["update"].to_numpy()), 1)
    if (counts == 0).any():
        rep, update = np.argwhere(counts == 0)[0]
        raise ConfigError("trace", f"rep {int(rep) + first_rep}, update {int(update)}",
                          "must give every update of every realization a gradient")
    return frame.sort_values(["update", "rep", "partition", "version"], kind="stable",
                             ignore_index=True)


def descend(pieces: Pieces, geometry: Geometry, used: pd.DataFrame, reps: int,
            updates: int, workers: int, step: float, power: float = 0.0
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradient descent from w_0 = 0 on the gradients of :func:`used_gradients`, N =
    ``workers`` partitions, step η·(1 + s)^(−γ) (γ = ``power``): per (realization,
    update) the loss f(w_{u+1}) and the relative error ‖Ĝ_u − G(w_u)‖/‖G(w_u)‖ of the
    unweighted estimate Ĝ_u = (N/n_u)·Σ_j g_{p_j}(w_{v_j}) against the exact gradient of
    the model being updated; and the versions w_1 … w_U (R, U, d)."""
    dimension = len(geometry.optimum)
    models = np.zeros((reps, updates + 1, dimension))
    loss, error = np.empty((reps, updates)), np.empty((reps, updates))
    singles = [pieces.select(np.array([p])) for p in range(workers)]
    rep_all, version_all = used["rep"].to_numpy(), used["version"].to_numpy()
    partition_all = used["partition"].to_numpy()
    factor_all = step_factors(used["staleness"].to_numpy(dtype=float), power)
    # Sorted by update, then realization: each update is one block, each realization's
    # gradients within it another.
    bounds = np.searchsorted(used["update"].to_numpy(), np.arange(updates + 1))
    # A diverging run overflows: its losses are reported, in words, by the caller.
    with np.errstate(over="ignore", invalid="ignore"):
        for u in range(updates):
            block = slice(bounds[u], bounds[u + 1])
            rep, partition = rep_all[block], partition_all[block]
            on = models[rep, version_all[block]]
            gradients = np.empty_like(on)
            for p in np.unique(partition):
                at = partition == p
                gradients[at] = singles[p].gradients(on[at])[:, 0]
            count = np.bincount(rep, minlength=reps)
            slot = np.arange(len(rep)) - np.searchsorted(rep, rep)
            # Each realization's gradients side by side (zeros pad the shorter), so that
            # the sum is one product, as UC-MMC's decode sums its partitions.
            dense = np.zeros((reps, int(count.max()), dimension))
            dense[rep, slot] = gradients
            scale = np.zeros((reps, int(count.max())))
            scale[rep, slot] = workers / count[rep]
            estimate = np.einsum("rs,rsd->rd", scale, dense)
            applied = estimate
            if power != 0:
                scale[rep, slot] *= factor_all[block]
                applied = np.einsum("rs,rsd->rd", scale, dense)
            exact = geometry.gradient(models[:, u])
            with np.errstate(divide="ignore"):  # G = 0 gives NaN
                error[:, u] = (np.linalg.norm(estimate - exact, axis=1)
                               / np.linalg.norm(exact, axis=1))
            models[:, u + 1] = models[:, u] - (step / geometry.rows) * applied
            loss[:, u] = geometry.loss(models[:, u + 1])
    return loss, error, models[:, 1:]


def under_policy(config: Config, pieces: Pieces, geometry: Geometry, step: float,
                 power: float = 0.0) -> tuple[Results, np.ndarray, np.ndarray, np.ndarray]:
    """A training run of ``config`` (one scheme, a server policy) on the SimPy engine, and
    gradient descent on the gradients its trace says each update used: the timing (its
    summary by realization, then update), the loss f(w_{u+1}) and the gradient error per
    (realization, update), and the versions w_1 … w_U (R, U, d)."""
    timing = simulate(config, trace=True)
    assert timing.trace is not None  # asked for
    summary = timing.summary.sort_values(["rep", "update"], kind="stable",
                                         ignore_index=True)
    summary.attrs = timing.summary.attrs
    used = used_gradients(timing.trace, config.reps, config.iterations, config.workers,
                          int(summary["rep"].min()))
    loss, error, models = descend(pieces, geometry, used, config.reps, config.iterations,
                                  config.workers, step, power)
    return dataclasses.replace(timing, summary=summary), loss, error, models
