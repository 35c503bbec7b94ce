"""What a server policy is (docs/model.md, "Server policies"), and the policies by name.

A policy decides when the master updates the model and how a worker goes on after a
gradient. The SimPy engine (:mod:`pssim.server.engine`) sees a policy only through its
class attributes (:attr:`Policy.rounds`, :attr:`Policy.pulls`) and :meth:`Policy.enough`;
it never branches on a policy's name. A new policy is one module with one ``@register``
class.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pssim.errors import ConfigError
from pssim.schemes import Scheme

#: The synchronous server: every scheme, the model of docs/model.md without a policy.
SYNC = "sync"

_REGISTRY: dict[str, type[Policy]] = {}


class Policy(ABC):
    """When the master updates, for one scheme at its N and r."""

    #: The name a configuration gives (``server = "k-sync"``), and the summary shows.
    name: ClassVar[str]
    #: Update u is made of round u alone: every worker computes round u on version u and
    #: gets version u + 1 by the downlink, which cancels or drains (``late_policy``) what
    #: is left of round u. Otherwise the workers run rounds of their own (asynchronous).
    rounds: ClassVar[bool] = True
    #: Asynchronous only: after each gradient a worker pulls the newest model, and waits
    #: for it (otherwise every update's model is sent to every worker over the downlink).
    pulls: ClassVar[bool] = False
    #: The schemes whose messages stand alone as gradients, by registry name.
    schemes: ClassVar[tuple[str, ...]] = ("UC-MMC",)
    #: Whether server_k must be given.
    needs_k: ClassVar[bool] = True

    def __init__(self, scheme: Scheme, k: int | None, period: int) -> None:
        if scheme.name not in self.schemes:
            raise ConfigError("server", self.name, f"cannot run scheme {scheme.label}; "
                              f"allowed with {self.name}: {', '.join(self.schemes)} (coded "
                              "schemes need every piece of a round: they run under server "
                              "sync)")
        if k is None and self.needs_k:
            raise ConfigError("server_k", None, f"is required with server {self.name}: the "
                              f"K of the policy, {self.limit_text(scheme)}")
        self.scheme = scheme
        self.workers = scheme.workers
        self.load = scheme.load
        self.first = 1 if k is None else k
        top = self.limit(scheme)
        if self.first < 1 or (top is not None and self.first > top):
            raise ConfigError("server_k", k, f"must be {self.limit_text(scheme)} with server "
                              f"{self.name}")
        self.period = period

    def limit(self, scheme: Scheme) -> int | None:
        """The largest K the scheme can reach (None: no bound)."""
        return scheme.workers

    def limit_text(self, scheme: Scheme) -> str:
        top = self.limit(scheme)
        return "an integer >= 1" if top is None else (
            f"between 1 and {top} ({self.bound_reason(scheme)})")

    def bound_reason(self, scheme: Scheme) -> str:
        return f"workers={scheme.workers}"

    def k(self, update: int) -> int:
        """The K that update ``update`` uses."""
        return self.first

    def max_rounds(self, updates: int) -> int:
        """The most rounds one worker can begin in a run of ``updates`` updates: how many
        rounds of draws a realization may hold. Round policies run round u for update u;
        a k-async worker runs one per version it takes, 0 … updates − 1 (the last
        update's model is never sent)."""
        return updates

    def max_gradients(self, updates: int) -> int:
        """The most gradients the master can receive in a run of ``updates`` updates: the
        trace's rows of a realization. A round gives each worker at most r."""
        return self.workers * self.load * self.max_rounds(updates)

    @abstractmethod
    def enough(self, update: int, gradients: int, workers: int, partitions: int) -> bool:
        """Whether update ``update`` happens once the master holds ``gradients`` gradients
        for it, from ``workers`` distinct workers, of ``partitions`` distinct partitions."""

    def parameters(self) -> dict[str, Any]:
        """The policy's columns of the summary, beside the per-update ``server_k``."""
        return {"server": self.name}


def register(cls: type[Policy]) -> type[Policy]:
    """Make a policy available by its ``name``."""
    _REGISTRY[cls.name] = cls
    return cls


def names() -> tuple[str, ...]:
    """Every server, ``sync`` first."""
    return (SYNC, *_REGISTRY)


def resolve(name: str) -> str:
    """The registered spelling of ``name`` (any case), ``sync``, or a ConfigError that
    suggests the closest names."""
    key = name.strip().lower()
    if key in names():
        return key
    close = difflib.get_close_matches(key, list(names()), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise ConfigError("server", name, f"must be one of {', '.join(names())}{hint}")


def accepts(name: str, scheme: Scheme) -> bool:
    """Whether server ``name`` can run ``scheme`` (every scheme runs under ``sync``)."""
    key = resolve(name)
    return key == SYNC or scheme.name in _REGISTRY[key].schemes


def build(name: str, scheme: Scheme, k: int | None, period: int) -> Policy | None:
    """The policy ``name`` for ``scheme`` (None for ``sync``), every check done."""
    key = resolve(name)
    if key == SYNC:
        if k is not None:
            raise ConfigError("server_k", k, "is the K of a server policy; server sync "
                              f"takes none (choose one of {', '.join(_REGISTRY)}, or drop "
                              "server_k)")
        return None
    return _REGISTRY[key](scheme, k, period)
