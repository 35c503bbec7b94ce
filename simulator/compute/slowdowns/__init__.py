"""Slowdowns, one module each, registered by name
(docs/model.md, "Straggler models")."""

from pssim.compute.slowdowns import markov, persistent, shared, speeds
from pssim.compute.slowdowns.base import Slowdown, build, names, register
from pssim.compute.slowdowns.markov import Markov
from pssim.compute.slowdowns.persistent import Persistent
from pssim.compute.slowdowns.shared import Shared
from pssim.compute.slowdowns.speeds import Speeds

__all__ = ["Markov", "Persistent", "Shared", "Slowdown", "Speeds", "build", "markov",
           "names", "persistent", "register", "shared", "speeds"]
