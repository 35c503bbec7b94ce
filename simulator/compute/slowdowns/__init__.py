"""Slowdowns, one module each, registered by name
(docs/model.md, "Straggler models")."""

from pssim.compute.slowdowns import groups, markov, persistent, shared, speeds
from pssim.compute.slowdowns.base import Slowdown, build, names, register
from pssim.compute.slowdowns.groups import Groups
from pssim.compute.slowdowns.markov import Markov
from pssim.compute.slowdowns.persistent import Persistent
from pssim.compute.slowdowns.shared import Shared
from pssim.compute.slowdowns.speeds import Speeds

__all__ = ["Groups", "Markov", "Persistent", "Shared", "Slowdown", "Speeds", "build", "groups",
           "markov", "names", "persistent", "register", "shared", "speeds"]
