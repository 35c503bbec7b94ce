"""Straggler families, one module each, registered by name (docs/model.md, "Straggler
models")."""

from pssim.compute.families import exponential, gamma, lognormal, pareto
from pssim.compute.families.base import Family, build, names, register
from pssim.compute.families.exponential import Exponential
from pssim.compute.families.gamma import Gamma
from pssim.compute.families.lognormal import Lognormal
from pssim.compute.families.pareto import Pareto

__all__ = ["Exponential", "Family", "Gamma", "Lognormal", "Pareto", "build", "exponential",
           "gamma", "lognormal", "names", "pareto", "register"]
