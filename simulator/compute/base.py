"""What a compute model is, and the random streams every model draws from (docs/model.md,
"Cluster and compute times" and "Randomness").

A model turns (root seed, realizations, N, r) into an array of finish times of shape
(realizations, N, r). Every engine takes its timing from a model, so all see the very same
finish times.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

#: Realizations per random stream. Realization k always takes row k % BLOCK of stream
#: k // BLOCK, so its draws never depend on how a run is chunked or parallelised.
BLOCK = 1024


class ComputeModel(ABC):
    """When each computation of each worker finishes, per realization."""

    name: str

    @abstractmethod
    def finish_times(self, seed: int, start: int, stop: int, workers: int, load: int,
                     iteration: int = 0) -> np.ndarray:
        """Finish times from the start of ``iteration``, shape (stop - start, workers,
        load), of realizations start..stop-1, nondecreasing along the last axis (a worker
        performs its computations in order).

        Row k depends only on (seed, k, iteration, the model and its parameters, workers):
        never on the scheme, the network, the engine, the number of iterations of the run,
        or on start and stop. Iteration 0 is what a single-iteration run draws.
        """

    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The model's parameters, as columns of the summary."""

    def check(self, workers: int, load: int, reps: int,  # noqa: B027
              iterations: int = 1) -> None:
        """Raise ConfigError if the model cannot serve this configuration."""


def stream(seed: int, block: int, iteration: int, tag: int | None = None
           ) -> np.random.Generator:
    """The generator of a block of realizations in one iteration. Iteration 0 keeps the
    stream of single-iteration runs; iteration t > 0 has a stream of its own, so that its
    draws depend neither on the number of iterations nor on how a run is split. A
    slowdown draws from streams of its own, told apart by ``tag`` (a key of three
    numbers never equals a family's key of one or two)."""
    key = ((block,) if iteration == 0 else (block, iteration)) if tag is None else (
        block, iteration, tag)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


#: Bytes of recent blocks' draws kept for the chunks that follow: a large cluster's
#: chunks hold a few realizations each, and drawing a block of 1,024 anew for every chunk
#: would make the cost per draw grow with N.
CACHE_BYTES = 256 * 2**20
_cache: OrderedDict[Hashable, np.ndarray] = OrderedDict()
_lock = threading.Lock()


def blockwise(seed: int, start: int, stop: int, iteration: int,
              draw: Callable[[np.random.Generator], np.ndarray],
              tag: int | None = None, key: Hashable = None) -> np.ndarray:
    """Rows start..stop-1 of the draws of ``iteration``: ``draw`` gives BLOCK rows (one
    per realization) from a block's stream, so realization k's row is the same whatever
    chunk asks for it. With ``key`` (what, besides the seed, block, iteration and tag,
    decides the draws: the law and the shape), recent blocks are kept for the next
    chunks."""
    parts = []
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):
        name = None if key is None else (seed, block, iteration, tag, key)
        with _lock:  # threads of one process (a Dask worker's) share the cache
            rows = _cache.get(name) if name is not None else None
            if rows is not None:
                _cache.move_to_end(name)
        if rows is None:
            rows = draw(stream(seed, block, iteration, tag))
            if name is not None and rows.nbytes <= CACHE_BYTES // 2:
                rows.flags.writeable = False  # shared by the chunks that follow
                with _lock:
                    _cache[name] = rows
                    while sum(a.nbytes for a in _cache.values()) > CACHE_BYTES:
                        _cache.popitem(last=False)
        lo, hi = max(start, block * BLOCK), min(stop, (block + 1) * BLOCK)
        parts.append(rows[lo - block * BLOCK : hi - block * BLOCK])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def multiples(x: np.ndarray, load: int) -> np.ndarray:
    """c·x for c = 1..load along a new last axis: when computation c of a worker whose
    computations all take x finishes."""
    out = np.empty((*x.shape, load))
    for c in range(load):
        # One multiplication per c writes a whole slice; broadcasting over a last axis of
        # a few elements is four times slower.
        np.multiply(x, float(c + 1), out=out[..., c])
    return out
