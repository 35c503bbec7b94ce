"""Schemes by name. A new scheme is one module with one ``@register`` class."""

from __future__ import annotations

import difflib
import inspect
import re
from typing import Any

from pssim.errors import ConfigError
from pssim.schemes.base import Scheme

_REGISTRY: dict[str, type[Scheme]] = {}

#: The paper's six schemes, the set that ``"all"`` selects.
PAPER_SCHEMES = ("GC", "LCC", "LCC-MMC", "LCC-MMC-2", "UC-MMC", "UC-MMC-PG")

_FAMILY = re.compile(r"^LCC\((\d+)\)$", re.IGNORECASE)


def register(cls: type[Scheme]) -> type[Scheme]:
    _REGISTRY[cls.name] = cls
    return cls


def is_alias(name: str) -> bool:
    """Whether ``name`` is family notation, LCC(p), that can name a scheme the paper
    names otherwise (LCC(1) is LCC-MMC)."""
    return _FAMILY.match(name.strip()) is not None


def make_scheme(name: str, workers: int, load: int, **options: Any) -> Scheme:
    """Build scheme ``name`` (or ``LCC(p)``) at N workers and load r.

    Options a scheme does not take (``polynomials`` for UC-MMC, say) are ignored, so one
    set of options can serve a list of schemes run together.
    """
    cls, options = resolve(name, options)
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in options.items() if k in accepted and v is not None}
    return cls(workers, load, **kwargs)


def feasible(name: str, workers: int, load: int, **options: Any) -> bool:
    """Whether ``name`` can run at N workers and load r (an unknown name is an error)."""
    resolve(name)
    try:
        make_scheme(name, workers, load, **options)
    except ConfigError:
        return False
    return True


def resolve(name: str, options: dict[str, Any] | None = None
            ) -> tuple[type[Scheme], dict[str, Any]]:
    """The class registered as ``name`` and its options (``LCC(p)`` sets polynomials), or a
    ConfigError that suggests the closest names."""
    options = dict(options or {})
    family = _FAMILY.match(name.strip())
    if family:
        name, options = "LCC", {**options, "polynomials": int(family.group(1))}
    cls = _REGISTRY.get(name.strip()) or _by_case(name)
    if cls is None:
        close = difflib.get_close_matches(name.upper(), list(_REGISTRY), n=3, cutoff=0.4)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError("scheme", name,
                          f"must be one of {', '.join(_REGISTRY)}, LCC(p) or all{hint}")
    return cls, options


def _by_case(name: str) -> type[Scheme] | None:
    for key, cls in _REGISTRY.items():
        if key.lower() == name.strip().lower():
            return cls
    return None
