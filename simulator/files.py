"""Every file pssim writes is written to a temporary name in its folder and renamed into
place: a reader, a resumed run or a kill at any moment sees the old file or the new one,
never a part of one (docs/model.md, "Configuration")."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write`` on a temporary path beside ``path``, then rename it to ``path``; on
    failure nothing is left at either."""
    # A hidden name that ends in .tmp: no reader of the folder takes it for a result.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
