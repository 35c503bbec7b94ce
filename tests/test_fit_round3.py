"""``pssim fit``: constant traces are not estimable, durations and keys of the
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


# -- item 14: what the threshold finds, and negative persistence ------------------------------


def test_a_threshold_that_finds_no_slow_one_says_so_and_suggests_one() -> None:
    # Durations within 1.6 × their iteration's median, and workers fast in the first half
    # of the iterations slow in the second and the other way round.
    rng = np.random.default_rng(21)
    workers, iterations = 48, 200
    speed = np.exp(0.08 * rng.standard_normal(workers))
    speeds = np.where(np.arange(iterations)[:, None] < iterations // 2, speed, 1 / speed)
    d = speeds * np.exp(0.05 * rng.standard_normal((iterations, workers)))
    ratio = d / np.median(d, axis=1, keepdims=True)
    assert ratio.max() < 2
    report = fit_trace(long_form(d))
    found = report.persistence
    assert found.value("slow_share") == 0
    assert found.value("largest_ratio") == ratio.max()
    text = report.text()
    assert (f"no worker-iteration is slow at threshold 2: the largest duration is "
            f"{ratio.max():.3g} × its iteration's median") in text
    # The suggestion makes at least 5% of the worker-iterations slow, and is at most the
    # 95th percentile of the ratios (rounded down to 3 digits).
    suggested = found.value("suggested_threshold")
    assert f"--threshold {suggested:g}" in text
    q = np.quantile(ratio, 0.95)
    assert q * (1 - 1e-2) <= suggested <= q
    again = fit_trace(long_form(d), threshold=suggested).persistence
    assert again.value("slow_share") >= 0.05
    assert math.isfinite(again.value("lag1_autocorrelation"))
    # Negative persistence is reported as such, not as none.
    assert found.value("half_z") <= -3
    assert found.negative and not found.significant
    assert f"significant negative persistence (half z = {found.value('half_z'):.3g})" in text
    assert "no significant persistence" not in text


# -- item 11: the slowdown the evidence picks ------------------------------------------------

#: Resamples of a fitted model, and the statistics its resamples must reproduce.
RESAMPLES = 20
REPRODUCED = ("slow_share", "half_correlation", "lag1_autocorrelation")


def assert_reproduced(trace: pd.DataFrame, model: dict[str, object]) -> None:
    """The model's samples (pssim sample, seed 1, 20 resamples of the trace's shape) have
    the trace's persistence statistics: each within 4 standard errors of the mean of the
    resamples, the standard error that of one resample (the resamples' standard
    deviation) and of their mean."""
    from pssim.analysis.fits import persistence

    reps = int(trace["rep"].nunique()) if "rep" in trace else 1
    iterations, workers = trace["iteration"].nunique(), trace["worker"].nunique()
    observed = persistence(trace)
    # One sample of 20 times the reps: realizations are independent, and pssim draws
    # blocks of them at once.
    drawn = sampling.sample(workers=workers, load=1, reps=reps * RESAMPLES,
                            iterations=iterations, seed=1, **model)
    assert drawn is not None
    rows = []
    for first in range(0, reps * RESAMPLES, reps):
        found = persistence(drawn[drawn["rep"].between(first, first + reps - 1)])
        rows.append({name: found.value(name) for name in REPRODUCED})
    resampled = pd.DataFrame(rows)
    for name in REPRODUCED:
        se = float(resampled[name].std(ddof=1)) * math.sqrt(1 + 1 / RESAMPLES)
        assert se > 0, name
        gap = observed.value(name) - float(resampled[name].mean())
        assert abs(gap) <= 4 * se, (name, observed.value(name), resampled[name].mean(), se)


def persistent_trace(rng: np.random.Generator) -> pd.DataFrame:
    """A quarter of the workers, drawn anew in each of 3 reps, 3 times slower throughout;
    durations 0.1·e^(0.25·Z), so that a few fast ones exceed twice the median and a few
    slow ones do not."""
    reps, iterations, workers = 3, 200, 40
    d = 0.1 * np.exp(0.25 * rng.standard_normal((reps, iterations, workers)))
    for rep in range(reps):
        d[rep, :, rng.permutation(workers)[: workers // 4]] *= 3.0
    return long_form(d)


def test_a_persistent_trace_gets_a_persistent_slowdown_that_reproduces_it() -> None:
    trace = persistent_trace(np.random.default_rng(31))
    report = fit_trace(trace, markov=True)
    model = report.model()
    assert model is not None and "markov" not in model
    assert model["persistent"] == {"fraction": 0.25,
                                   "factor": pytest.approx(3.0, rel=0.05)}
    assert "slowdown: persistent" in report.text()
    assert_reproduced(trace, model)


def markov_trace(rng: np.random.Generator) -> pd.DataFrame:
    """Durations 0.1·e^(0.1·Z), 4 times longer in the slow state of a two-state chain
    (p_slow 0.05, p_recover 0.3) started from its stationary law, in 2 reps."""
    reps, iterations, workers = 2, 300, 40
    slow = np.empty((reps, iterations, workers), dtype=bool)
    slow[:, 0] = rng.random((reps, workers)) < 0.05 / 0.35
    for t in range(1, iterations):
        u = rng.random((reps, workers))
        slow[:, t] = np.where(slow[:, t - 1], u >= 0.3, u < 0.05)
    base = 0.1 * np.exp(0.1 * rng.standard_normal(slow.shape))
    return long_form(np.where(slow, 4.0 * base, base))


def test_a_markov_trace_gets_a_markov_slowdown_that_reproduces_it() -> None:
    trace = markov_trace(np.random.default_rng(32))
    report = fit_trace(trace, markov=True)
    model = report.model()
    assert model is not None and "persistent" not in model
    assert set(model["markov"]) == {"p_slow", "p_recover", "factor"}
    assert "slowdown: markov" in report.text()
    assert_reproduced(trace, model)


def test_the_report_shows_the_trace_and_says_what_was_fitted_instead() -> None:
    trace = markov_trace(np.random.default_rng(33))
    report = fit_trace(trace, markov=True)
    x = trace["duration"].to_numpy()
    lines = report.text().splitlines()
    assert lines[1] == (f"durations (s): min {x.min():.6g}, median {np.median(x):.6g}, "
                        f"mean {x.mean():.6g}, max {x.max():.6g}")
    factor = report.persistence.value("factor")
    assert any(line.startswith("fitted: the durations with the slow worker-iterations' "
                               f"divided by the factor {factor:.4g}") for line in lines)


def test_iid_durations_get_no_slowdown_and_the_families_fit_them_all() -> None:
    rng = np.random.default_rng(34)
    trace = long_form(0.01 + rng.exponential(0.1, (300, 40)))
    report = fit_trace(trace, markov=True)
    found = report.persistence
    assert abs(found.value("lag1_z")) < 3 and abs(found.value("half_z")) < 3
    model = report.model()
    assert model is not None and not {"markov", "persistent"} & set(model)
    assert report.durations.tolist() == trace["duration"].tolist()
    assert "slowdown: none: no significant persistence" in report.text()


# -- item 13: the user's own column names ----------------------------------------------------


def own_names(tmp_path: Path, header: str = "round,worker_id,step_time_s") -> Path:
    rng = np.random.default_rng(41)
    trace = long_form(0.01 + rng.exponential(0.1, (30, 8)))
    path = tmp_path / "steps.csv"
    trace[["iteration", "worker", "duration"]].to_csv(path, index=False, header=False)
    path.write_text(header + "\n" + path.read_text())
    return path


def test_columns_map_the_users_names(tmp_path: Path) -> None:
    path = own_names(tmp_path, "round,worker_id,secs")
    done = RUNNER.invoke(app, ["fit", str(path), "--columns",
                               "iteration=round,worker=worker_id,duration=secs"])
    assert done.exit_code == 0, done.output
    assert "columns: iteration ← round, worker ← worker_id, duration ← secs" in done.output
    frame = pd.read_csv(path)
    mapping = {"iteration": "round", "worker": "worker_id", "duration": "secs"}
    named = frame.rename(columns={v: k for k, v in mapping.items()})
    pd.testing.assert_frame_equal(fit_trace(frame, columns=mapping).fits,
                                  fit_trace(named).fits, check_exact=True)
    pd.testing.assert_frame_equal(read_trace(path, columns=mapping), check_trace(named))


def test_common_aliases_need_no_mapping(tmp_path: Path) -> None:
    path = own_names(tmp_path)
    done = RUNNER.invoke(app, ["fit", str(path)])
    assert done.exit_code == 0, done.output
    assert "columns: iteration ← round, worker ← worker_id, duration ← step_time_s" in (
        done.output)
    assert "8 workers, 30 iterations" in done.output


@pytest.mark.parametrize(("header", "columns", "says"), [
    ("round,worker_id,secs", "iteration=nope", "columns='iteration=nope': the trace has no "
     "column 'nope' (its columns: round, worker_id, secs)"),
    ("round,worker_id,secs", "speed=round", "names 'speed'; NAME must be one of rep, "
     "iteration, worker, computation, duration"),
    ("round,worker_id,secs", "iteration", "must be NAME=COLUMN pairs separated by commas"),
    ("round,worker_id,secs", "iteration=round,worker=round", "maps both iteration and "
     "worker to the column 'round'"),
    ("round,step,secs", None, "has the columns 'round', 'step' for iteration: choose one "
     "with --columns iteration=COLUMN"),
    ("round,worker_id,secs", None, "lacks the column(s) duration; a trace has worker, "
     "duration, rep and/or iteration, optionally computation (its columns: round, "
     "worker_id, secs; name yours with --columns duration=COLUMN,...)"),
])
def test_bad_column_names_are_one_line(tmp_path: Path, header: str, columns: str | None,
                                       says: str) -> None:
    path = own_names(tmp_path, header)
    line = one_line_error(["fit", str(path), *(["--columns", columns] if columns else [])])
    assert says in line


@pytest.mark.parametrize("iterations", [2, 5, 300])
@pytest.mark.parametrize(("p_slow", "p_recover"), [(0.05, 0.3), (0.01, 0.02), (0.5, 0.5)])
def test_the_markov_chains_correlation_between_halves_is_its_covariance_sums(
        iterations: int, p_slow: float, p_recover: float) -> None:
    from pssim.analysis.fits.persistence import markov_half_correlation

    # A stationary chain's indicator has covariance π(1 − π)·λ^|i − j|; the halves'
    # shares are sums over blocks of that matrix.
    lam = 1 - p_slow - p_recover
    t = np.arange(iterations)
    cov = lam ** np.abs(t[:, None] - t[None, :]).astype(float)
    h = iterations // 2
    expected = cov[:h, h:].sum() / math.sqrt(cov[:h, :h].sum() * cov[h:, h:].sum())
    assert markov_half_correlation(p_slow, p_recover, iterations) == pytest.approx(
        expected, rel=1e-12, abs=1e-15)
    if iterations == 2:
        assert markov_half_correlation(p_slow, p_recover, 2) == pytest.approx(lam)
