"""pssim: a discrete-event simulator of a parameter-server cluster with stragglers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.errors import ConfigError

if TYPE_CHECKING:
    from simulator.api import Results, run, simulate
    from simulator.compute import ComputeModel, ExplicitDurations, ShiftedExponential
    from simulator.network import Network

__all__ = ["ComputeModel", "ConfigError", "ExplicitDurations", "Network", "Results",
           "ShiftedExponential", "run", "simulate"]

_LAZY = {"Results": "api", "run": "api", "simulate": "api", "ComputeModel": "compute",
         "ExplicitDurations": "compute", "ShiftedExponential": "compute", "Network": "network"}


def __getattr__(name: str) -> Any:
    # Imported on first use: schemes/ needs simulator.errors, and the API needs schemes/,
    # so importing the API eagerly here would make the two packages import each other.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"simulator.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
