"""Server policies at their edges (docs/model.md, "Server policies"): the memory estimate
against what a run draws and records, every network and option a policy runs through,
sweeps of policies, and the same results whatever the chunking or the executor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import pssim
import pssim.api
from pssim.compute import ComputeModel


class Recording(ComputeModel):
    """Worker i takes ``durations[i]`` seconds per computation in every round; records
    the rounds each chunk of realizations asks for."""

    name = "recording"

    def __init__(self, durations: list[float]) -> None:
        self.durations = np.array(durations)
        self.asked: dict[tuple[int, int], set[int]] = {}

    def finish_times(self, seed: int, start: int, stop: int, workers: int, load: int,
                     iteration: int = 0) -> np.ndarray:
        self.asked.setdefault((start, stop), set()).add(iteration)
        finish = self.durations[:, None] * np.arange(1, load + 1)
        return np.broadcast_to(finish, (stop - start, workers, load)).copy()

    def parameters(self) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize(("server", "k", "ends", "drawn"), [
    # Worker 0 (1 s) pulls and pushes 32 gradients before worker 1 (1000 s) sends one: it
    # draws rounds 0 … 31, K·updates of them, not 4.
    ("k-batch-async", 8, [8.0, 16.0, 24.0, 32.0], 32),
    # Worker 0 takes each version as it comes: a round per update (the last update's
    # model is never sent).
    ("k-async", 1, [1.0, 2.0, 3.0, 4.0], 4),
    ("k-sync", 1, [1.0, 2.0, 3.0, 4.0], 4),
])
def test_the_chunks_hold_every_round_a_worker_draws(
        monkeypatch: pytest.MonkeyPatch, server: str, k: int, ends: list[float],
        drawn: int) -> None:
    # N = 2, r = 1, 4 updates, with a budget of 1 KiB for a chunk's draws.
    budget = 1024
    monkeypatch.setattr(pssim.api, "CHUNK_BUDGET", budget)
    model = Recording([1.0, 1000.0])
    options = {"server": server, "server_k": k, "iterations": 4}
    run = pssim.simulate("UC-MMC", 2, 1, reps=4, compute_times=model, trace=True,
                         **options)
    policy, = pssim.api.prepare(pssim.api.configure("UC-MMC", 2, 1, reps=4,
                                                    **options)).policies or []
    assert run.summary["end"].tolist() == ends * 4
    for (start, stop), rounds in model.asked.items():
        assert (stop - start) * len(rounds) * 2 * 1 * 8 <= budget, (start, stop)
        assert max(rounds) + 1 == drawn <= policy.max_rounds(4)
    per_rep = run.trace.groupby("rep").size()
    assert (per_rep <= policy.max_gradients(4)).all()
