"""Engines: ways to compute the same model (docs/model.md, "Engines").

``des`` (SimPy, the reference semantics), ``vectorized`` (numpy recursions over all
realizations at once) and ``analytic`` (the paper's closed forms, :mod:`.analytic`). A
realization engine says itself which configurations it reproduces exactly
(:meth:`Engine.unsupported`), from what the network discipline declares; ``auto`` picks the
fastest that does. Every realization engine returns an :class:`Outcome`.
"""

from __future__ import annotations

from pssim import config
from pssim.engines.base import Engine, Outcome, TraceRow
from pssim.engines.des import Des
from pssim.engines.vectorized import Vectorized
from pssim.errors import ConfigError
from pssim.network import Discipline
from pssim.training import Training

#: The realization engines, fastest first: ``auto`` takes the first that is exact.
ENGINES: dict[str, Engine] = {e.name: e for e in (Vectorized(), Des())}


def choose(name: str, network: Discipline, trace: bool,
           training: Training | None = None) -> Engine:
    """The engine ``name`` (or, for ``auto``, the fastest exact one), or a ConfigError
    that says why it cannot run this configuration."""
    if name == "auto":
        return next(e for e in ENGINES.values()
                    if e.unsupported(network, trace, training) is None)
    if name == "analytic":
        raise ConfigError("engine", name, "gives distributions, not realizations: call "
                          "analyze() (on the command line, pssim run --engine analytic)")
    engine = ENGINES.get(name)
    if engine is None:
        raise ConfigError("engine", name, f"must be one of {', '.join(config.ENGINES)}")
    why = engine.unsupported(network, trace, training)
    if why is not None:
        raise ConfigError("engine", name, f"{why}; use engine 'des' or 'auto'")
    return engine


__all__ = ["ENGINES", "Engine", "Outcome", "TraceRow", "choose"]
