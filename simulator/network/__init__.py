"""Network disciplines, registered by name: ``none``, ``fifo``, ``fair`` and ``tcp``
(docs/model.md, "Network"). A new discipline is one module with one ``@register`` class,
imported below so that it registers."""

from pssim.network import fair, fifo, none, tcp  # noqa: F401  (they register)
from pssim.network.base import Cluster, Discipline, Send, build, names, register, uplinks
from pssim.network.fair import Fair
from pssim.network.fifo import Fifo
from pssim.network.none import NoNetwork
from pssim.network.tcp import Tcp

__all__ = [
           "Cluster",
           "Discipline",
           "Fair",
           "Fifo",
           "NoNetwork",
           "Send",
           "Tcp",
           "build",
           "names",
           "register",
           "uplinks",
]
