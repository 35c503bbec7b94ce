"""``pssim fit``: the estimators recover known parameters from sampled traces, the shifted
exponential's MLE is its closed form, and bad traces get one clear line (docs/fitting.md)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pssim import sampling
from pssim.analysis import fits
from pssim.analysis.fits import (
    check_trace,
    common_factor_share,
    fit_families,
    fit_family,
    fit_trace,
    persistence,
    plot_duration_ecdf,
    plot_worker_heatmap,
    write_report,
)
from pssim.cli import app
from pssim.errors import ConfigError

RUNNER = CliRunner()
DRAWS = 20_000

#: The keys a [stragglers] table may hold.
ALLOWED = {"family", "alpha", "mu", "shape", "rate", "mu_log", "sigma_log", "scale",
           "granularity", "persistent", "markov", "shared", "groups"}

#: Each family's parameters, and a sampler of X = alpha + Y in the parametrisation of the
#: [stragglers] format, written independently of pssim.
TRUE: dict[str, dict[str, float]] = {
    "exponential": {"alpha": 0.01, "mu": 10.0},
    "gamma": {"alpha": 0.01, "shape": 3.0, "rate": 30.0},
    "lognormal": {"alpha": 0.01, "mu_log": -3.0, "sigma_log": 0.5},
    "pareto": {"alpha": 0.01, "shape": 2.5, "scale": 0.05},
}


def sample(family: str, n: int, rng: np.random.Generator) -> np.ndarray:
    p = TRUE[family]
    if family == "exponential":
        y = rng.exponential(1 / p["mu"], n)
    elif family == "gamma":
        y = rng.gamma(p["shape"], 1 / p["rate"], n)
    elif family == "lognormal":
        y = rng.lognormal(p["mu_log"], p["sigma_log"], n)
    else:
        # numpy's pareto is P(Z > z) = (1 + z)^−a: scale·(1 + Z) has P(Y > y) = (scale/y)^a.
        y = p["scale"] * (1 + rng.pareto(p["shape"], n))
    return p["alpha"] + y


def long_form(durations: np.ndarray) -> pd.DataFrame:
    """A trace from an (iterations × workers) or (reps × iterations × workers) array."""
    d = durations[None] if durations.ndim == 2 else durations
    index = np.indices(d.shape).reshape(3, -1)
    frame = pd.DataFrame({"iteration": index[1], "worker": index[2], "duration": d.ravel()})
    return frame if len(d) == 1 else frame.assign(rep=index[0])


# -- the families ----------------------------------------------------------------------------


def test_the_shifted_exponential_mle_is_the_closed_form() -> None:
    x = sample("exponential", DRAWS, np.random.default_rng(11))
    fitted = fit_family("exponential", x)
    assert fitted["alpha"] == x.min()
    assert fitted["mu"] == 1.0 / (x.mean() - x.min())
    row = fit_families(x).set_index("family").loc["exponential"]
    assert row["alpha"] == x.min()
    assert row["mu"] == 1.0 / (x.mean() - x.min())


@pytest.mark.parametrize("family", list(TRUE))
def test_fit_recovers_known_parameters_within_4_standard_errors(family: str) -> None:
    """The standard errors are those of the estimator itself, from a parametric bootstrap:
    the standard deviation of the MLE over 30 samples of 20,000 draws at the true
    parameters (fixed seed, drawn by numpy independently of pssim). Fisher information
    would miss the shifted families, whose support depends on the shift: the
    exponential's and the pareto's least value converges at rate 1/n, not 1/√n."""
    # The data: 20,000 durations drawn by pssim sample (500 reps × 40 workers).
    drawn = sampling.sample(workers=40, load=1, reps=DRAWS // 40, seed=2026, family=family,
                            **TRUE[family])
    assert drawn is not None and len(drawn) == DRAWS
    estimate = fit_family(family, drawn["duration"].to_numpy())
    rng = np.random.default_rng(7)
    replicates = pd.DataFrame([fit_family(family, sample(family, DRAWS, rng))
                               for _ in range(30)])
    for name, truth in TRUE[family].items():
        se = float(replicates[name].std(ddof=1))
        assert se > 0
        assert abs(estimate[name] - truth) <= 4 * se, (name, estimate[name], truth, se)


def test_log_likelihoods_are_scipys_and_the_lowest_aic_is_chosen() -> None:
    x = sample("lognormal", 5000, np.random.default_rng(3))
    table = fit_families(x)
    assert list(table.columns) == fits.FIT_COLUMNS
    for _, row in table.iterrows():
        params = {k: float(row[k]) for k in fits.PARAMETERS[row["family"]]}
        dist = fits.frozen(row["family"], params)
        assert row["loglik"] == pytest.approx(float(dist.logpdf(x).sum()), rel=1e-9)
        assert row["aic"] == pytest.approx(2 * len(params) - 2 * row["loglik"])
        assert 0 <= row["ks_stat"] <= 1 and 0 <= row["ks_pvalue"] <= 1
    assert fits.chosen_family(table) == "lognormal"
    # Pareto: Y ≥ scale, so no duration is below alpha + scale.
    pareto = table.set_index("family").loc["pareto"]
    assert pareto["alpha"] + pareto["scale"] == pytest.approx(x.min(), rel=1e-12)


def test_a_family_that_cannot_be_fitted_is_a_row_with_a_note() -> None:
    table = fit_families([0.5, 0.5, 0.5, 0.5, 1.0])
    assert set(table["family"]) == set(fits.FAMILIES)
    failed = table[~np.isfinite(table["aic"].to_numpy(dtype=float))]
    assert len(failed) >= 1
    assert failed["note"].str.startswith("not estimable").all()


# -- persistence and the common factor -------------------------------------------------------


def markov_trace(workers: int, iterations: int, p_slow: float, p_recover: float,
                 factor: float, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Durations 0.1·e^(0.1·Z), times ``factor`` in the slow state of a two-state chain
    started from its stationary law; returns the trace and the states."""
    slow = np.empty((iterations, workers), dtype=bool)
    slow[0] = rng.random(workers) < p_slow / (p_slow + p_recover)
    for t in range(1, iterations):
        u = rng.random(workers)
        slow[t] = np.where(slow[t - 1], u >= p_recover, u < p_slow)
    base = 0.1 * np.exp(0.1 * rng.standard_normal((iterations, workers)))
    return long_form(np.where(slow, factor * base, base)), slow


def test_markov_fit_recovers_p_slow_p_recover_and_factor() -> None:
    truth = {"p_slow": 0.05, "p_recover": 0.3, "factor": 4.0}
    trace, slow = markov_trace(200, 500, **truth, rng=np.random.default_rng(5))
    found = persistence(trace)
    # Standard errors: binomial for the transition probabilities (the MLE of a two-state
    # chain counts transitions); the delta method for the ratio of the two means.
    for name in ("p_slow", "p_recover"):
        assert abs(found.value(name) - truth[name]) <= 4 * found.value(f"{name}_se")
    d = trace["duration"].to_numpy().reshape(slow.shape)
    s, f = d[slow], d[~slow]
    ratio = s.mean() / f.mean()
    se = ratio * math.sqrt(s.var() / (s.size * s.mean() ** 2)
                           + f.var() / (f.size * f.mean() ** 2))
    assert abs(found.value("factor") - truth["factor"]) <= 4 * se
    # A two-state chain's lag-1 autocorrelation is 1 − p_slow − p_recover.
    assert found.value("lag1_autocorrelation") == pytest.approx(0.65, abs=0.02)
    assert found.significant


def test_persistence_is_near_zero_when_iid_and_high_when_workers_keep_their_speed() -> None:
    rng = np.random.default_rng(8)
    workers = 128
    iid = persistence(long_form(0.01 + rng.exponential(0.1, (400, workers))))
    assert abs(iid.value("half_correlation")) <= 4 / math.sqrt(workers - 3)
    assert abs(iid.value("lag1_autocorrelation")) <= 4 / math.sqrt(399 * workers)
    speed = np.exp(0.5 * rng.standard_normal(workers))
    kept = persistence(long_form(speed * (0.01 + rng.exponential(0.1, (400, workers)))))
    assert kept.value("half_correlation") > 0.9
    assert kept.significant
    assert len(kept.workers) == workers


def test_persistence_pools_the_reps() -> None:
    rng = np.random.default_rng(9)
    speed = np.exp(0.5 * rng.standard_normal((3, 1, 64)))  # each rep its own slow workers
    found = persistence(long_form(speed * (0.05 + rng.exponential(0.1, (3, 200, 64)))))
    assert found.value("half_correlation") > 0.8
    # The transitions are counted within each rep: 3 × 199 × 64 pairs.
    from_fast = found.value("p_slow") * (1 - found.value("p_slow")) / found.value(
        "p_slow_se") ** 2
    slow = found.slow
    assert slow is not None and slow.shape == (3, 200, 64)
    assert from_fast == pytest.approx(np.count_nonzero(~slow[:, :-1, :]), rel=1e-9)


def test_common_factor_share_with_a_known_shared_factor_and_without() -> None:
    rng = np.random.default_rng(10)
    iterations, workers, sigma, spread = 400, 32, 0.5, 0.3
    base = np.exp(-2.0 + spread * rng.standard_normal((iterations, workers)))
    shared = np.exp(sigma * rng.standard_normal((iterations, 1)))
    with_factor = long_form(base * shared)
    # The between-iteration variance is σ² plus the within variance over N.
    expected = (sigma**2 + spread**2 / workers) / (sigma**2 + spread**2)
    assert common_factor_share(with_factor) == pytest.approx(expected, abs=0.08)
    report = fit_trace(with_factor)
    assert report.persistence.value("shared_sigma") == pytest.approx(sigma, abs=0.08)
    none = common_factor_share(long_form(base))
    assert none < 2 / workers
    assert fit_trace(long_form(base)).persistence.value("common_share_adjusted") < 0.01


# -- the report, the model and the files -----------------------------------------------------


def test_fewer_than_two_iterations_or_no_iteration_column_is_not_estimable() -> None:
    one = long_form(0.01 + np.random.default_rng(1).exponential(0.1, (1, 50)))
    report = fit_trace(one)
    assert math.isnan(report.persistence.value("half_correlation"))
    assert "not estimable: fewer than two iterations" in report.text()
    assert report.chosen is not None
    reps_only = long_form(0.01 + np.random.default_rng(1).exponential(0.1, (40, 1, 20)))
    reps_only = reps_only.drop(columns="iteration")
    report = fit_trace(reps_only)
    assert "no iteration column" in report.persistence.note("lag1_autocorrelation")
    # A common factor needs groups only: here the reps.
    assert math.isfinite(report.persistence.value("common_share"))


def test_out_writes_the_tables_figures_and_a_loadable_model(tmp_path: Path) -> None:
    trace, _ = markov_trace(32, 200, 0.05, 0.3, 4.0, np.random.default_rng(12))
    path = tmp_path / "trace.parquet"
    trace.to_parquet(path)
    done = RUNNER.invoke(app, ["fit", str(path), "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "chosen:" in done.output and "slowness persists" in done.output
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"fits.csv", "persistence.csv", "workers.csv",
                                               "groups.csv", "model.toml", "ecdf.png",
                                               "heatmap.png"}
    table = pd.read_csv(out / "fits.csv")
    assert list(table.columns) == fits.FIT_COLUMNS
    assert list(table["family"]) == list(fits.FAMILIES)
    model = tomllib.loads((out / "model.toml").read_text())
    assert set(model) == {"stragglers"}
    assert set(model["stragglers"]) <= ALLOWED
    assert model["stragglers"]["granularity"] == "per_iteration"
    assert "markov" not in model["stragglers"]
    best = table.loc[table["aic"].idxmin()]
    assert model["stragglers"]["family"] == best["family"]
    for name in fits.PARAMETERS[best["family"]]:
        assert model["stragglers"][name] == best[name]

    done = RUNNER.invoke(app, ["fit", str(path), "--out", str(tmp_path / "m"), "--markov"])
    assert done.exit_code == 0, done.output
    stragglers = tomllib.loads((tmp_path / "m" / "model.toml").read_text())["stragglers"]
    assert set(stragglers) <= ALLOWED
    assert set(stragglers["markov"]) == {"p_slow", "p_recover", "factor"}
    assert stragglers["markov"]["factor"] == pytest.approx(4.0, rel=0.05)


def test_a_computation_column_fits_every_row_per_computation(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    trace = pd.DataFrame({"rep": 0, "iteration": np.repeat(np.arange(30), 8 * 3),
                          "worker": np.tile(np.repeat(np.arange(8), 3), 30),
                          "computation": np.tile([1, 2, 3], 30 * 8),
                          "duration": 0.01 + rng.exponential(0.1, 30 * 8 * 3)})
    report = fit_trace(trace)
    assert len(report.durations) == len(trace)
    assert report.granularity == "per_computation"
    written = write_report(report, tmp_path)
    model = tomllib.loads((tmp_path / "model.toml").read_text())["stragglers"]
    assert model["granularity"] == "per_computation"
    assert tmp_path / "heatmap.png" in written


def test_the_figures_take_a_plain_long_form_trace() -> None:
    from pssim.analysis.plots import plt

    rng = np.random.default_rng(14)
    trace = long_form(0.01 + rng.exponential(0.1, (2, 20, 6)))
    fig = plot_worker_heatmap(trace)
    assert fig.axes[0].get_title() == "rep 0"
    assert fig.axes[0].images[0].get_array().shape == (6, 20)
    plt.close(fig)
    fig = plot_duration_ecdf(trace, fit_families(trace["duration"]))
    # The trace and the four families, on the CDF and on the tail.
    assert [len(ax.lines) for ax in fig.axes] == [5, 5]
    plt.close(fig)


# -- bad input -------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER = "worker,iteration,duration\n"

#: (id, file name, its text (None: no file), options, what the one line must say)
BAD: list[tuple[str, str, str | None, list[str], str]] = [
    ("missing-file", "none.csv", None, [], "no such file"),
    ("wrong-suffix", "trace.txt", HEADER + "0,0,1\n", [], "must end in .csv"),
    ("not-parquet", "trace.parquet", "hello", [], "could not be read"),
    ("empty-file", "trace.csv", "", [], "could not be read"),
    ("no-rows", "trace.csv", HEADER, [], "has no rows"),
    ("no-duration", "trace.csv", "worker,iteration\n0,0\n", [], "lacks the column(s) duration"),
    ("no-rep-or-iteration", "trace.csv", "worker,duration\n0,1\n", [], "rep or iteration"),
    ("zero-duration", "trace.csv", HEADER + "0,0,1\n1,0,0\n", [], "data row 2 has duration 0"),
    ("negative-duration", "trace.csv", HEADER + "0,0,-1\n", [], "data row 1 has duration -1"),
    ("missing-duration", "trace.csv", HEADER + "0,0,1\n1,0,\n", [], "data row 2"),
    ("infinite-duration", "trace.csv", HEADER + "0,0,inf\n", [], "finite durations > 0"),
    ("text-duration", "trace.csv", HEADER + "0,0,fast\n", [], "has duration 'fast'"),
    ("fractional-iteration", "trace.csv", HEADER + "0,0.5,1\n", [], "integer iteration"),
    ("duplicate", "trace.csv", HEADER + "0,0,1\n0,0,2\n", [],
     "two rows for iteration 0, worker 0"),
    ("worker-missing", "trace.csv", HEADER + "0,0,1\n1,0,1\n0,1,1\n", [],
     "worker 1 is missing in iteration 1"),
    ("threshold-below-1", "trace.csv", HEADER + "0,0,1\n", ["--threshold", "0.5"],
     "invalid threshold=0.5"),
]


@pytest.mark.parametrize(("name", "text", "options", "says"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_traces_are_one_line_and_exit_2(tmp_path: Path, name: str, text: str | None,
                                            options: list[str], says: str) -> None:
    path = tmp_path / name
    if text is not None:
        write(path, text)
    done = RUNNER.invoke(app, ["fit", str(path), *options])
    assert done.exit_code == 2, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1, done.output
    assert lines[0].startswith("Error: invalid "), done.output
    assert says in lines[0], done.output


def test_the_python_api_raises_config_error_for_a_bad_trace() -> None:
    frame = pd.DataFrame({"worker": ["a", "b", "a"], "iteration": [0, 0, 1],
                          "duration": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError, match="worker 'b' is missing in iteration 1"):
        check_trace(frame)
    checked = check_trace(frame.iloc[[0, 2]])
    assert list(checked.columns) == ["iteration", "worker", "duration"]


def test_the_cli_default_threshold_is_the_libraries() -> None:
    import inspect

    from pssim.cli import fit

    default = inspect.signature(fit).parameters["threshold"].default
    assert default == fits.DEFAULT_THRESHOLD
