"""Every file pssim writes is written to a temporary name in its folder and renamed into
place: a reader, a resumed run or a kill at any moment sees the old file or the new one,
never a part of one (docs/model.md, "Configuration"). Also the one rule for which files
are Parquet, and the names and metadata of a sweep's chunks, which the run machinery
writes and the analysis reads (docs/sweeps.md, "Output")."""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Parquet files, whatever the case of their suffix (``.PQ`` is Parquet too).
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Tables pssim reads and writes: Parquet, or CSV for any other suffix it accepts.
TABLE_SUFFIXES = (*PARQUET_SUFFIXES, ".csv")
TABLE_SUFFIXES_TEXT = ".parquet, .pq or .csv"

#: The key of pssim's entry in a Parquet file's metadata.
META_KEY = b"pssim"

#: A sweep's chunk: realizations START..STOP-1 of point P.
_CHUNK = re.compile(r"p(\d{5,})_r(\d{10})-(\d{10})\.parquet")


def is_parquet(path: str | Path) -> bool:
    """Whether ``path`` names a Parquet file (by its suffix, in any case)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def is_table(path: str | Path) -> bool:
    """Whether ``path`` has the suffix of a table pssim reads and writes."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def chunk_name(point: int, start: int, stop: int) -> str:
    """The file name of realizations ``start``..``stop``-1 of ``point`` in ``data/``."""
    return f"p{point:05d}_r{start:010d}-{stop:010d}.parquet"


def chunk_point(name: str) -> int | None:
    """The point of a chunk's file name, or None for a name no run gives a chunk."""
    match = _CHUNK.fullmatch(name)
    return None if match is None else int(match[1])


def read_meta(path: Path) -> tuple[dict[str, Any], int]:
    """A Parquet file's pssim metadata and its number of rows (raises on a damaged file)."""
    import pyarrow.parquet as pq

    info = pq.read_metadata(path)
    raw = (info.schema.to_arrow_schema().metadata or {}).get(META_KEY)
    return (json.loads(raw) if raw else {}), info.num_rows


def _temporary(path: Path) -> tuple[Path, int]:
    """A new temporary beside ``path``, created and locked: the lock, which the kernel
    drops when the writer dies, tells :func:`remove_orphans` that it is in use."""
    while True:
        # A hidden name that ends in .tmp: no reader of the folder takes it for a result.
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                return tmp, fd  # a file system without locks: its orphans are left alone
            try:
                if os.path.samestat(os.fstat(fd), os.stat(tmp)):
                    return tmp, fd
            except FileNotFoundError:
                pass
        except BaseException:  # Ctrl-C or SIGTERM meanwhile: leave nothing behind
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        # Taken for an orphan and removed between its creation and its lock: another name.
        os.close(fd)


def write_atomically(path: Path, write: Callable[[Path], Any]) -> None:
    """Call ``write`` on a temporary path beside ``path``, then rename it to ``path``; on
    failure nothing is left at either."""
    tmp, fd = _temporary(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        os.close(fd)


def remove_orphans(path: Path) -> list[Path]:
    """Remove the temporaries of ``path`` that runs killed while writing it left behind
    (those no live writer holds), and return them; any other file is left alone."""
    own = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{12}}\.tmp")
    removed = []
    for candidate in sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp")):
        if not own.fullmatch(candidate.name):
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held by a writer (or no locks here to tell): not an orphan
        else:
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
        finally:
            os.close(fd)
    return removed
