"""Straggler-mitigation schemes, registered by name."""

from pssim.schemes import gradient_coding, lagrange, uncoded  # noqa: F401  (they register)
from pssim.schemes.base import Scheme
from pssim.schemes.registry import (
    PAPER_SCHEMES,
    feasible,
    is_alias,
    make_scheme,
    register,
)

__all__ = ["PAPER_SCHEMES", "Scheme", "feasible", "is_alias", "make_scheme",
           "register"]
