"""``pssim fit``, issue 18: constant traces are not estimable, durations and keys of the
wrong type are converted or refused, the user's own column names, what a threshold
finds, and a slowdown chosen by the evidence (docs/fitting.md)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pssim import sampling
from pssim.analysis.fits import check_trace, fit_families, fit_trace, read_trace, write_report
from pssim.cli import app
from pssim.errors import ConfigError

RUNNER = CliRunner()


def long_form(durations: np.ndarray) -> pd.DataFrame:
    """A trace from an (iterations × workers) or (reps × iterations × workers) array."""
    d = durations[None] if durations.ndim == 2 else durations
    index = np.indices(d.shape).reshape(3, -1)
    frame = pd.DataFrame({"iteration": index[1], "worker": index[2], "duration": d.ravel()})
    return frame if len(d) == 1 else frame.assign(rep=index[0])


def one_line_error(args: list[str]) -> str:
    """The one line of a refused ``pssim`` command (exit code 2, no traceback)."""
    done = RUNNER.invoke(app, args)
    assert done.exit_code == 2, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1, done.output
    assert lines[0].startswith("Error: invalid "), done.output
    return lines[0]


# -- item 3: durations that do not vary ------------------------------------------------------


@pytest.mark.parametrize("n", [3, 1000])
def test_constant_durations_fit_no_family_whatever_rounding_does(n: int,
                                                                 tmp_path: Path) -> None:
    # 0.1 repeated 3 or 1000 times has mean − min = 1.4e-17 in floating point, not 0.
    x = np.full(n, 0.1)
    assert x.mean() - x.min() > 0
    table = fit_families(x)
    assert not np.isfinite(table["aic"].to_numpy(dtype=float)).any()
    assert (table["note"] == "not estimable: the durations do not vary").all()
    report = fit_trace(long_form(x.reshape(1, n)))
    assert report.chosen is None and report.toml is None
    assert "model.toml" not in {p.name for p in write_report(report, tmp_path)}


def test_constant_durations_have_no_common_factor() -> None:
    # 0.1 in 7 workers × 3 iterations: the mean of the logs is off by rounding.
    found = fit_trace(long_form(np.full((3, 7), 0.1))).persistence
    assert math.isnan(found.value("common_share"))
    assert found.note("common_share") == "not estimable: the durations do not vary"


# -- item 10: the types of a trace's columns -------------------------------------------------


def base(duration: object, iteration: object = (0, 0, 1, 1)) -> pd.DataFrame:
    return pd.DataFrame({"iteration": list(iteration), "worker": [0, 1, 0, 1],
                         "duration": duration})


def test_timedelta_durations_are_seconds(tmp_path: Path) -> None:
    seconds = [0.25, 0.5, 1.5, 2.0]
    checked = check_trace(base(pd.to_timedelta(seconds, unit="s")))
    assert checked["duration"].tolist() == seconds
    path = tmp_path / "trace.parquet"
    base(pd.to_timedelta(seconds, unit="ms")).to_parquet(path)
    assert read_trace(path)["duration"].tolist() == [s / 1000 for s in seconds]


@pytest.mark.parametrize(("duration", "says"), [
    ([True, True, True, True], "has duration True, a boolean"),
    ([0.5, True, 0.25, 1.0], "data row 2 has duration True, a boolean"),
    (pd.to_datetime(["2026-01-01"] * 4), "a date-time"),
])
def test_booleans_and_dates_are_no_durations(duration: object, says: str) -> None:
    with pytest.raises(ConfigError, match="duration") as err:
        check_trace(base(duration))
    assert says in str(err.value)


@pytest.mark.parametrize(("iteration", "says"), [
    (np.array([2**63, 2**63, 2**63 + 4096, 2**63 + 4096], dtype=np.uint64),
     "data row 1 has iteration 9223372036854775808"),
    ([1e19, 1e19, 2e19, 2e19], "data row 1 has iteration 1e+19"),
    ([False, False, True, True], "data row 1 has iteration False, a boolean"),
    (pd.to_timedelta([0, 0, 1, 1], unit="s"), "a timedelta"),
])
def test_keys_that_are_no_int64_integers_are_refused(iteration: object, says: str) -> None:
    with pytest.raises(ConfigError, match="integer iteration") as err:
        check_trace(base([1.0, 2.0, 3.0, 4.0], iteration))
    assert says in str(err.value)


def test_the_cli_refuses_a_boolean_column_and_a_huge_iteration(tmp_path: Path) -> None:
    path = tmp_path / "true.csv"
    path.write_text("worker,iteration,duration\n0,0,True\n1,0,True\n")
    assert "data row 1 has duration True, a boolean" in one_line_error(["fit", str(path)])
    path = tmp_path / "huge.csv"
    path.write_text("worker,iteration,duration\n0,9223372036854775808,1\n"
                    "1,9223372036854775808,2\n")
    line = one_line_error(["fit", str(path)])
    assert "data row 1 has iteration 9223372036854775808" in line


# -- low items -------------------------------------------------------------------------------


def test_a_one_row_trace_reads_as_sentences() -> None:
    text = fit_trace(pd.DataFrame({"iteration": [0], "worker": [0], "duration": [0.5]})).text()
    lines = text.splitlines()
    assert lines[0] == ("trace: DataFrame: 1 worker, 1 iteration, 1 rep; 1 duration (one per "
                        "worker and iteration: per_iteration)")
    assert "  common factor: not estimable: a single rep and iteration" in lines


def test_subnormal_durations_give_a_note_in_every_row_not_fitted() -> None:
    x = 1e-310 * (1 + np.random.default_rng(1).exponential(1.0, 50))
    table = fit_families(x)
    failed = table[~np.isfinite(table["aic"].to_numpy(dtype=float))]
    assert "exponential" in set(failed["family"])
    assert failed["note"].str.startswith("not estimable: ").all()
    text = fit_trace(long_form(x.reshape(5, 10))).text()
    assert all(line.split() != ["exponential"] for line in text.splitlines())


def test_a_sample_of_a_per_iteration_trace_fits_per_iteration() -> None:
    rng = np.random.default_rng(3)
    table = long_form(0.01 + rng.exponential(0.1, (20, 6)))
    drawn = sampling.sample(workers=6, load=3, reps=1, iterations=20, seed=1,
                            compute_times=table)
    assert drawn is not None
    # Computation c ends at c·x: the durations, differences of those, are x up to rounding.
    report = fit_trace(drawn)
    assert report.granularity == "per_iteration"
    assert report.durations.tolist() == table["duration"].tolist()
