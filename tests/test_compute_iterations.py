"""Compute models draw each iteration of a training run from a stream of its own
(docs/model.md, "Randomness"): iteration 0 is what a single-iteration run draws, and the
draws of iteration t depend only on (seed, realization, t, the model, N)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pssim
from pssim import ConfigError
from pssim.compute import ExplicitDurations, ShiftedExponential


def test_iteration_0_is_the_single_iteration_draw() -> None:
    model = ShiftedExponential(10.0, 0.01)
    np.testing.assert_array_equal(model.finish_times(5, 0, 3000, 8, 4, iteration=0),
                                  model.finish_times(5, 0, 3000, 8, 4))


def test_each_iteration_has_its_own_stream_whatever_the_chunking() -> None:
    model = ShiftedExponential(10.0, 0.01)
    whole = [model.finish_times(5, 0, 2100, 8, 1, iteration=t) for t in range(3)]
    assert not np.array_equal(whole[0], whole[1])
    assert not np.array_equal(whole[1], whole[2])
    for t in range(3):
        parts = np.concatenate([model.finish_times(5, 0, 700, 8, 1, iteration=t),
                                model.finish_times(5, 700, 2100, 8, 1, iteration=t)])
        np.testing.assert_array_equal(parts, whole[t])
    # Each iteration is the model itself: X − alpha is Exp(mu), mean 1/mu, within 4 SE.
    x = whole[2].ravel() - 0.01
    assert abs(x.mean() - 0.1) < 4 * x.std(ddof=1) / np.sqrt(x.size)
    # Iterations are independent: their correlation is within 4 SE of 0.
    r = np.corrcoef(whole[1].ravel(), whole[2].ravel())[0, 1]
    assert abs(r) < 4 / np.sqrt(whole[1].size)


def durations_of_two_iterations() -> pd.DataFrame:
    return pd.DataFrame({"iteration": [0, 0, 1, 1], "worker": [0, 1, 0, 1],
                         "duration": [1.0, 2.0, 3.0, 0.5]})


def test_a_trace_of_iterations_replays_each_iteration() -> None:
    model = ExplicitDurations(durations_of_two_iterations())
    model.check(2, 2, 1, iterations=2)
    np.testing.assert_array_equal(model.finish_times(0, 0, 1, 2, 2, iteration=0),
                                  [[[1.0, 2.0], [2.0, 4.0]]])
    np.testing.assert_array_equal(model.finish_times(0, 0, 1, 2, 2, iteration=1),
                                  [[[3.0, 6.0], [0.5, 1.0]]])
    # A single-iteration run replays iteration 0: GC at N = 2, r = 2 needs 1 message, the
    # first after both computations of worker 0, at 2.
    assert pssim.run("GC", 2, 2, reps=1, compute_times=durations_of_two_iterations()
                     )["completion_time"].tolist() == [2.0]


def test_without_an_iteration_column_every_iteration_is_the_same() -> None:
    model = ExplicitDurations(pd.DataFrame({"worker": [0, 1], "duration": [1.0, 2.0]}))
    model.check(2, 1, 1, iterations=5)
    np.testing.assert_array_equal(model.finish_times(0, 0, 1, 2, 1, iteration=4),
                                  model.finish_times(0, 0, 1, 2, 1))


def test_gaps_and_holes_in_the_iterations_are_refused() -> None:
    model = ExplicitDurations(durations_of_two_iterations())
    with pytest.raises(ConfigError, match="has no rows of iteration 2"):
        model.check(2, 1, 1, iterations=3)
    holey = durations_of_two_iterations().iloc[:3]
    with pytest.raises(ConfigError, match=r"no duration for worker 1 \(iteration 1\)"):
        ExplicitDurations(holey).check(2, 1, 1, iterations=2)


def test_bad_iteration_ids_name_the_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("iteration,worker,duration\n0,0,1\n-1,1,1\n")
    with pytest.raises(ConfigError, match="column iteration: -1 is not allowed"):
        pssim.run("GC", 2, 1, reps=1, compute_times=path)
    path.write_text("iteration,worker,duration\n0,0,1\n0,0,2\n0,1,1\n")
    with pytest.raises(ConfigError, match="iteration 0, worker 0 twice"):
        pssim.run("GC", 2, 1, reps=1, compute_times=path)
