"""Compute-time models: when each worker finishes each of its computations (docs/model.md,
"Cluster and compute times" and "Straggler models").

Straggler models draw durations from a family, shifted, with slowdowns; explicit durations
replay a table. Every engine takes its timing from a model, so all see the very same
finish times.
"""

from pssim.compute.base import BLOCK, ComputeModel, blockwise, multiples, stream
from pssim.compute.explicit import MAX_ID, ExplicitDurations
from pssim.compute.families import Exponential, Family, Gamma, Lognormal, Pareto
from pssim.compute.slowdowns import Groups, Markov, Persistent, Shared, Slowdown, Speeds
from pssim.compute.stragglers import FIELDS, ShiftedExponential, StragglerModel, build

__all__ = ["BLOCK", "FIELDS", "MAX_ID", "ComputeModel", "ExplicitDurations", "Exponential",
           "Family", "Gamma", "Groups", "Lognormal", "Markov", "Pareto", "Persistent", "Shared",
           "ShiftedExponential", "Slowdown", "Speeds", "StragglerModel", "blockwise", "build",
           "multiples", "stream"]
