"""Straggler-mitigation schemes, registered by name."""

from schemes import gradient_coding, lagrange, uncoded  # noqa: F401  (they register)
from schemes.base import Scheme
from schemes.registry import (
    PAPER_SCHEMES,
    expand_names,
    feasible,
    make_scheme,
    register,
)

__all__ = ["PAPER_SCHEMES", "Scheme", "expand_names", "feasible", "make_scheme", "register"]
