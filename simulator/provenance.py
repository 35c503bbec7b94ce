"""Where a result comes from: the pssim version, the git commit of the source when it is a
checkout, and the date, recorded in every file pssim writes (docs/model.md, "Outputs")."""

from __future__ import annotations

import datetime
import functools
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any


@functools.cache
def version() -> str:
    try:
        return _version("pssim")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@functools.cache
def commit() -> str | None:
    """The git commit of the source folder, with ``+dirty`` when it has changes, or None
    (an installed copy, or no git)."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def stamp() -> dict[str, Any]:
    """``pssim_version``, ``git_commit`` and ``date`` (UTC, ISO 8601)."""
    return {"pssim_version": version(), "git_commit": commit(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
