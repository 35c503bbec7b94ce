"""pssim: a discrete-event simulator of a parameter-server cluster with stragglers."""

from simulator.compute import ComputeModel, ExplicitDurations, ShiftedExponential
from simulator.errors import ConfigError
from simulator.network import Network
from simulator.run import Results, run, simulate

__all__ = ["ComputeModel", "ConfigError", "ExplicitDurations", "Network",
           "Results", "ShiftedExponential", "run", "simulate"]
