"""pssim: a discrete-event simulator of a parameter-server cluster with stragglers.

The public API is loaded on first use, so that ``import pssim`` (and ``pssim --help``)
pulls in neither pandas nor SimPy until a simulation needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pssim.errors import ConfigError

if TYPE_CHECKING:
    from pssim.api import Results, analyze, run, simulate
    from pssim.compute import (
        ComputeModel,
        ExplicitDurations,
        Exponential,
        Gamma,
        Groups,
        Lognormal,
        Markov,
        Pareto,
        Persistent,
        Shared,
        ShiftedExponential,
        Speeds,
        StragglerModel,
    )
    from pssim.config import Config
    from pssim.network import Discipline

_MODELS = ("ComputeModel", "ExplicitDurations", "Exponential", "Gamma", "Groups", "Lognormal",
           "Markov", "Pareto", "Persistent", "Shared", "ShiftedExponential", "Speeds",
           "StragglerModel")

__all__ = ["ComputeModel", "Config", "ConfigError", "Discipline", "ExplicitDurations",
           "Exponential", "Gamma", "Groups", "Lognormal", "Markov", "Pareto", "Persistent",
           "Results", "Shared", "ShiftedExponential", "Speeds", "StragglerModel", "analyze",
           "run", "simulate"]

_LAZY = {"Results": "api", "run": "api", "simulate": "api", "analyze": "api",
         "Config": "config", "Discipline": "network",
         **dict.fromkeys(_MODELS, "compute")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"pssim.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'pssim' has no attribute {name!r}")
