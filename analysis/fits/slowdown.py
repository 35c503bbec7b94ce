"""The slowdown that the evidence picks for the model: none, a Markov chain or persistent
stragglers (docs/fitting.md, "The model, its slowdown and `--markov`")."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pssim.analysis.fits.persistence import SIGNIFICANT_Z, Persistence


@dataclass(frozen=True)
class Slowdown:
    """The slowdown chosen: ``kind`` ``none``, ``markov`` or ``persistent``, its
    ``[stragglers]`` table (None for none), which worker-iterations it makes slow (rep ×
    iteration × worker; None for none) and ``why``, a sentence for the report."""

    kind: str
    why: str
    table: dict[str, float] | None = None
    slow: np.ndarray | None = field(default=None, repr=False)


def _z(found: Persistence, name: str) -> str:
    value = found.value(name)
    return "not estimable" if math.isnan(value) else f"{value:.3g}"


def choose(found: Persistence, values: np.ndarray) -> Slowdown:
    """The slowdown of the trace whose worker-iteration durations are ``values``, by the
    evidence in ``found``: none without significant positive persistence; otherwise
    persistent when the workers keep their state longer than the fitted Markov chain does
    (``beyond_markov_z`` ≥ :data:`SIGNIFICANT_Z`, or no worker ever changes state), and
    the Markov chain else."""
    if found.slow is None:
        return Slowdown("none", found.note("lag1_z"))
    zs = f"lag-1 z = {_z(found, 'lag1_z')}, half z = {_z(found, 'half_z')}"
    if not found.significant:
        if found.negative:
            return Slowdown("none", f"the persistence is negative ({zs}), which no slowdown "
                            "of the [stragglers] format models")
        return Slowdown("none", f"no significant persistence ({zs}; both below "
                        f"{SIGNIFICANT_Z:g})")
    slow = found.slow
    if not slow.any():
        return Slowdown("none", f"slowness persists ({zs}) but no worker-iteration is slow "
                        f"at threshold {found.threshold:g}; --threshold "
                        f"{found.value('suggested_threshold'):g} finds some")
    p_slow, p_recover, factor = (found.value(k) for k in ("p_slow", "p_recover", "factor"))
    if not all(map(math.isfinite, (p_slow, p_recover, factor))):
        reason = next(found.note(k) for k in ("p_slow", "p_recover", "factor")
                      if found.note(k))
        return Slowdown("none", f"slowness persists ({zs}) but the Markov fit is {reason}")
    if factor < 1:
        return Slowdown("none", f"slow worker-iterations are not slower (factor "
                        f"{factor:.3g})")
    beyond = found.value("beyond_markov_z")
    if p_slow + p_recover == 0 or beyond >= SIGNIFICANT_Z:
        # Each (rep, worker) is slow when most of its iterations are.
        workers = np.broadcast_to(slow.mean(axis=1, keepdims=True) > 0.5, slow.shape)
        if 0 < np.count_nonzero(workers) < workers.size:
            kept = ("no worker ever changes state" if p_slow + p_recover == 0 else
                    "the slow workers stay slow: their shares of slow iterations correlate "
                    f"{found.value('half_slow_correlation'):.3g} between the halves of the "
                    "iterations, where the Markov chain's keep "
                    f"{found.value('markov_half_slow_correlation'):.3g} (z = {beyond:.3g})")
            table = {"fraction": float(workers.mean()),
                     "factor": float(values[workers].mean() / values[~workers].mean())}
            return Slowdown("persistent", f"slowness persists ({zs}) and {kept}", table,
                            workers)
    held = ("" if math.isnan(beyond) else
            f"; the shares of slow iterations correlate "
            f"{found.value('half_slow_correlation'):.3g} between the halves, the chain's "
            f"{found.value('markov_half_slow_correlation'):.3g} (z = {beyond:.3g})")
    return Slowdown("markov", f"slowness persists ({zs}) and comes and goes{held}",
                    {"p_slow": p_slow, "p_recover": p_recover, "factor": factor}, slow)
