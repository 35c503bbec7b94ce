"""Groups that slow together (docs/model.md, "Straggler models"): the moments and
correlations of the durations against closed forms at a fixed seed, within 4 standard
errors; the cases size = 1, size = N and sigma = 0; every entry point (options, TOML,
sweeps, pssim sample, both engines); and the checks of a stragglers file."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import toml
from scipy import stats
from typer.testing import CliRunner

import pssim
from pssim import ConfigError
from pssim.analysis.fits import fit_trace
from pssim.analysis.fits.groups import blocks, coefficients, residuals, size_statistics
from pssim.analysis.frames import load_sweep
from pssim.cli import app
from pssim.compute import (
    Exponential,
    Groups,
    Lognormal,
    Markov,
    Shared,
    StragglerModel,
    build,
)
from pssim.compute.stragglers import read
from pssim.errors import Note
from pssim.sampling import sample
from pssim.sweep import load_file, run_sweep

RUNNER = CliRunner()
ALPHA = 0.01
REPS = 20_000


def correlation_bound(rho: float, n: int) -> float:
    """4 standard errors of a sample correlation of n pairs around rho."""
    return 4 * (1 - rho**2) / math.sqrt(n)


def test_durations_correlate_within_a_block_as_shared_does_and_not_across() -> None:
    sigma, size, workers = 0.3, 4, 10  # blocks 0-3, 4-7 and the partial 8-9
    model = StragglerModel(Exponential(10.0), ALPHA, slowdowns=[Groups(size, sigma)])
    x = model.durations(7, 0, REPS, workers, 1)
    ex, ex2 = ALPHA + 0.1, (ALPHA + 0.1) ** 2 + 0.01  # E[X], E[X²] of alpha + Exp(10)
    es, es2 = math.exp(sigma**2 / 2), math.exp(2 * sigma**2)  # E[S], E[S²]
    rho = ex**2 * (es2 - es**2) / (ex2 * es2 - (ex * es) ** 2)
    for i, j in ((0, 3), (5, 6), (8, 9)):
        r = np.corrcoef(x[:, i], x[:, j])[0, 1]
        assert abs(r - rho) <= correlation_bound(rho, REPS), (i, j, r, rho)
    for i, j in ((3, 4), (7, 8), (0, 9)):
        r = np.corrcoef(x[:, i], x[:, j])[0, 1]
        assert abs(r) <= correlation_bound(0.0, REPS), (i, j, r)
    # The factor's mean is exp(sigma²/2), as shared's: E[X] = E[alpha + Y]·E[S].
    mean, se = x.mean(axis=0), math.sqrt(ex2 * es2 - (ex * es) ** 2) / math.sqrt(REPS)
    assert np.all(np.abs(mean - ex * es) <= 4 * se), mean


def test_log_durations_are_gaussian_with_the_block_covariance() -> None:
    """With alpha = 0 and a lognormal family, ln X = ln Y + sigma·Z_block exactly: variance
    sigma_log² + sigma², covariance sigma² within a block and 0 across."""
    sigma, sigma_log, size, workers = 0.4, 0.5, 3, 7  # blocks 0-2, 3-5 and the lone 6
    model = StragglerModel(Lognormal(-3.0, sigma_log), 0.0, slowdowns=[Groups(size, sigma)])
    logs = np.log(model.durations(2, 0, REPS, workers, 1))
    var = sigma_log**2 + sigma**2
    # The variance of n normal draws has SE var·sqrt(2/(n - 1)).
    assert np.all(np.abs(logs.var(axis=0, ddof=1) - var) <= 4 * var * math.sqrt(2 / (REPS - 1)))
    assert np.all(np.abs(logs.mean(axis=0) + 3.0) <= 4 * math.sqrt(var / REPS))
    r = np.corrcoef(logs, rowvar=False)
    rho = sigma**2 / var
    block = np.arange(workers) // size
    for i in range(workers):
        for j in range(i + 1, workers):
            want = rho if block[i] == block[j] else 0.0
            assert abs(r[i, j] - want) <= correlation_bound(want, REPS), (i, j, r[i, j])


def test_size_one_is_an_independent_factor_per_worker() -> None:
    """size = 1: every worker its own factor, so with alpha = 0 and a lognormal family the
    model is lognormal(mu_log, sqrt(sigma_log² + sigma²)), workers independent."""
    sigma, sigma_log = 0.4, 0.5
    model = StragglerModel(Lognormal(-3.0, sigma_log), 0.0, slowdowns=[Groups(1, sigma)])
    x = model.durations(5, 0, REPS, 4, 1)
    law = stats.lognorm(s=math.hypot(sigma_log, sigma), scale=math.exp(-3.0))
    n = x.size
    for p in (0.1, 0.5, 0.9, 0.99):
        share = np.mean(x <= law.ppf(p))
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / n), (p, share)
    r = np.corrcoef(np.log(x), rowvar=False)
    assert np.all(np.abs(r[np.triu_indices(4, 1)]) <= correlation_bound(0.0, REPS))


def test_size_n_is_one_factor_for_the_cluster_with_the_law_of_shared() -> None:
    """size = N is shared(sigma) in law: one factor, the same for every worker, bit for
    bit; its own stream, so the numbers are not shared's (and the two can be combined)."""
    sigma, workers = 0.3, 6
    f = Groups(workers, sigma).factors(3, 0, REPS, workers, 0)
    np.testing.assert_array_equal(f, np.repeat(f[:, :1], workers, axis=1))
    g = Shared(sigma).factors(3, 0, REPS, workers, 0)[:, 0]
    for draws in (np.log(f[:, 0]), np.log(g)):
        for p in (0.1, 0.5, 0.9):
            share = np.mean(draws <= sigma * stats.norm.ppf(p))
            assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / REPS), (p, share)
    assert abs(np.corrcoef(np.log(f[:, 0]), np.log(g))[0, 1]) <= correlation_bound(0.0, REPS)


def test_sigma_zero_is_no_slowdown_bit_for_bit() -> None:
    options = {"scheme": "all", "workers": 8, "load": 2, "reps": 200, "seed": 4,
               "family": "gamma", "shape": 2.0, "rate": 20.0}
    plain = pssim.run(**options)
    grouped = pssim.run(**options, groups="3:0")
    cols = ["scheme", "rep", "completion_time", "messages", "computations"]
    pd.testing.assert_frame_equal(plain[cols], grouped[cols], check_exact=True)


def test_a_worker_draws_the_same_number_whatever_the_size() -> None:
    """Runs at different sizes share their random numbers: a block takes its first
    worker's normal, so a block head's factor is the same at every size."""
    workers = 12
    by_size = {s: Groups(s, 0.5).factors(1, 0, 300, workers, 2) for s in (1, 2, 3, 4, 6, 12)}
    for size, f in by_size.items():
        heads = np.arange(0, workers, size)
        np.testing.assert_array_equal(f[:, heads], by_size[1][:, heads])
        np.testing.assert_array_equal(f, f[:, np.arange(workers) // size * size])


def test_groups_multiply_the_other_slowdowns_without_changing_their_draws() -> None:
    markov, groups = Markov(0.1, 0.3, 3.0), Groups(2, 0.2)
    plain = StragglerModel(Exponential(10.0), ALPHA).durations(9, 0, 50, 5, 1, 3)
    both = StragglerModel(Exponential(10.0), ALPHA, slowdowns=[groups, markov])
    np.testing.assert_array_equal(both.durations(9, 0, 50, 5, 1, 3),
                                  plain * groups.factors(9, 0, 50, 5, 3)
                                  * markov.factors(9, 0, 50, 5, 3))
    assert [s.name for s in build({"groups": "2:0.2", "markov": "0.1:0.3:3"}).slowdowns] == [
        "groups", "markov"]


@pytest.mark.parametrize("network", [
    {}, {"iterations": 4},
    {"network": "fifo", "message_size": "1MB", "master_bandwidth": "200MB/s"},
    {"network": "fair", "message_size": "1MB", "master_bandwidth": "200MB/s"}])
def test_engines_agree_on_groups(network: dict[str, object]) -> None:
    options = {"scheme": "all", "workers": 9, "load": 4, "reps": 60, "seed": 8,
               "groups": "4:0.5", **network}
    des = pssim.run(**options, engine="des")
    vectorized = pssim.run(**options, engine="vectorized")
    pd.testing.assert_frame_equal(des, vectorized, check_exact=True)
    assert set(des["groups_size"]) == {4} and set(des["groups_sigma"]) == {0.5}


def test_draws_do_not_depend_on_chunks_or_the_number_of_iterations() -> None:
    import pssim.sampling

    options = {"groups": "3:0.4", "workers": 7, "load": 2, "seed": 4, "reps": 30}
    long = sample(iterations=6, **options)
    short = sample(iterations=3, **options)
    assert long is not None and short is not None
    pd.testing.assert_frame_equal(long[long["iteration"] < 3].reset_index(drop=True), short,
                                  check_exact=True)
    try:
        pssim.sampling.CHUNK_ROWS = 25
        chunked = sample(iterations=6, **options)
    finally:
        pssim.sampling.CHUNK_ROWS = 2**20
    pd.testing.assert_frame_equal(chunked, long, check_exact=True)


def test_toml_options_and_python_give_one_configuration(tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text('[stragglers]\nfamily = "gamma"\nshape = 2.0\nrate = 20.0\n'
                    "groups = { size = 4, sigma = 0.25 }\n")
    assert read(path)["groups"] == {"size": 4, "sigma": 0.25}
    runs = [["--stragglers", str(path)],
            ["--family", "gamma", "--shape", "2", "--rate", "20", "--groups", "4:0.25"]]
    frames = []
    for k, args in enumerate(runs):
        out = tmp_path / f"{k}.csv"
        result = RUNNER.invoke(app, ["run", *args, "--scheme", "LCC", "--workers", "10",
                                     "--reps", "50", "--out", str(out)])
        assert result.exit_code == 0, result.output
        frames.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    python = pssim.run("LCC", workers=10, reps=50,
                       compute_times=StragglerModel(pssim.Gamma(2, 20), ALPHA,
                                                    slowdowns=[Groups(4, 0.25)]))
    np.testing.assert_array_equal(python["completion_time"], frames[0]["completion_time"])
    assert frames[0]["groups_size"].iloc[0] == 4
    model = build(pssim.Config(family="gamma", shape=2, rate=20, groups="4:0.25"))
    assert model.options()["groups"] == {"size": 4, "sigma": 0.25}


def test_a_sweep_over_size_and_sigma(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(toml({"sweep": {"reps": 30, "schemes": ["UC-MMC"], "seed": 1},
                          "fixed": {"workers": 8, "load": 2}})
                    + '[grid]\ngroups = ["2:0.3", "4:0.3", { size = 8, sigma = 0.6 }]\n')
    run_sweep(load_file(path), tmp_path / "out")
    frame = load_sweep(tmp_path / "out")
    run_sweep(load_file(path), tmp_path / "processes", executor="processes", chunk_size=7,
              workers_per_host=2)
    key = ["groups_size", "groups_sigma", "scheme", "rep"]
    pd.testing.assert_frame_equal(
        frame.sort_values(key).reset_index(drop=True),
        load_sweep(tmp_path / "processes").sort_values(key).reset_index(drop=True),
        check_exact=True)
    got = sorted(set(zip(frame["groups_size"], frame["groups_sigma"], strict=True)))
    assert got == [(2, 0.3), (4, 0.3), (8, 0.6)]
    one = frame[frame["groups_size"] == 4].sort_values("rep")
    alone = pssim.run("UC-MMC", workers=8, load=2, reps=30, seed=int(one["seed"].iloc[0]),
                      groups="4:0.3")  # a point's seed is derived from the sweep's
    np.testing.assert_array_equal(one["completion_time"], alone["completion_time"])


def test_sample_draws_the_model(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    result = RUNNER.invoke(app, ["sample", "--groups", "3:0.5", "--workers", "7", "--load",
                                 "1", "--reps", "20", "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    model = build({"groups": {"size": 3, "sigma": 0.5}})
    np.testing.assert_array_equal(frame["duration"].to_numpy().reshape(20, 7),
                                  model.durations(2, 0, 20, 7, 1))


@pytest.mark.parametrize(("args", "parameter", "value"), [
    (["--groups", "4"], "groups", "4"),
    (["--groups", "2.5:0.1"], "groups.size", "2.5"),
    (["--groups", "0:0.1"], "groups.size", "0"),
    (["--groups", "2:-0.1"], "groups.sigma", "-0.1"),
    (["--groups", "2:nan"], "groups.sigma", "nan"),
    (["--groups", "9:0.1", "--workers", "8"], "groups.size", "9"),
])
def test_bad_groups_are_one_line(args: list[str], parameter: str, value: str) -> None:
    result = RUNNER.invoke(app, ["run", "--scheme", "LCC", "--reps", "2", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: invalid "), result.output
    assert parameter in lines[0] and value in lines[0], result.output


@pytest.mark.parametrize(("text", "parameter", "value"), [
    ("groups = { size = 2 }\n", "groups", "{'size': 2}"),
    ("groups = { size = 2, sigma = 0.1, rack = 1 }\n", "groups", "rack"),
    ("groups = { size = 1.5, sigma = 0.1 }\n", "groups.size", "1.5"),
])
def test_bad_groups_in_a_file_are_one_line(tmp_path: Path, text: str, parameter: str,
                                           value: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[stragglers]\n" + text)
    result = RUNNER.invoke(app, ["run", "--stragglers", str(path), "--reps", "2"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and parameter in lines[0] and value in lines[0], result.output


def test_bad_groups_in_a_sweep_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml({"sweep": {"reps": 2, "schemes": ["LCC"]}})
                    + '[grid]\ngroups = ["2.5:0.1", { size = 2, sigma = -1 }]\n')
    with pytest.raises(ConfigError) as caught:
        load_file(path)
    text = str(caught.value)
    assert "grid.groups[0]: groups.size must be an integer >= 1 (got '2.5:0.1')" in text
    assert "grid.groups[1]: groups.sigma must be a finite number >= 0" in text


# --- the checks of a stragglers file and of the straggler options ---------------------

def test_a_table_other_than_stragglers_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text('[stragglers]\nfamily = "gamma"\nshape = 2.0\nrate = 20.0\n'
                    "[extra]\nshared = 0.2\n")
    with pytest.raises(ConfigError, match=r"\[extra\].*only a \[stragglers\] table"):
        read(path)
    path.write_text('title = "cluster A"\n[stragglers]\nfamily = "gamma"\n')
    with pytest.raises(ConfigError, match=r"title.*only a \[stragglers\] table"):
        read(path)


def test_an_unknown_key_names_its_value_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text("[stragglers]\nspeed = 2.5\n")
    with pytest.raises(ConfigError) as caught:
        read(path)
    assert caught.value.value == 2.5
    assert "speed" in caught.value.parameter and str(path) in caught.value.parameter
    assert "is not a key" in str(caught.value)


@pytest.mark.parametrize(("shape", "noted"), [(0.8, True), (1.0, True), (1.5, False)])
def test_pareto_with_an_infinite_mean_gets_a_note(shape: float, noted: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Note)
        build({"family": "pareto", "shape": shape, "scale": 0.05})
    notes = [str(w.message) for w in caught if issubclass(w.category, Note)]
    assert bool(notes) == noted, notes
    if noted:
        assert f"shape={shape:g}" in notes[0] and "infinite mean" in notes[0]


def test_no_infinite_mean_note_for_a_mean_too_large_for_a_float() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Note)
        build({"mu": 1e-310})
    assert not [w for w in caught if "infinite mean" in str(w.message)]


def test_pareto_note_on_the_command_line(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["run", "--family", "pareto", "--shape", "0.9", "--scale",
                                 "0.05", "--scheme", "LCC", "--reps", "20",
                                 "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 0, result.output
    assert "note: pareto shape=0.9" in result.output


def test_speeds_as_a_numpy_array() -> None:
    speeds = np.array([1.0, 2.0, 1.5, 1.0])
    config = pssim.Config(workers=4, load=2, speeds=speeds)
    assert config.speeds == (1.0, 2.0, 1.5, 1.0)
    a = pssim.run("LCC", workers=4, load=2, reps=20, speeds=speeds)
    b = pssim.run("LCC", workers=4, load=2, reps=20, speeds=[1.0, 2.0, 1.5, 1.0])
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    with pytest.raises(ConfigError, match=r"speeds.*one per worker"):
        pssim.Config(speeds=np.ones((2, 2)))


# --- the fit: estimating and testing groups in a trace ---------------------------------


def test_coefficients_are_those_of_the_centred_block_matrix() -> None:
    """The closed forms of E[within − across] and E[diagonal − within] per unit of sigma²
    against the matrix P·B·P itself (P = I − J/N, B the block indicator)."""
    for workers, size in ((12, 4), (10, 4), (7, 3), (9, 8)):
        block = np.arange(workers) // size
        same = (block[:, None] == block[None, :]).astype(float)
        p = np.eye(workers) - 1 / workers
        m = p @ same @ p
        pairs = np.triu_indices(workers, 1)
        inside = same[pairs] == 1
        within, across = m[pairs][inside].mean(), m[pairs][~inside].mean()
        _, counts = blocks(workers, size)
        got = coefficients(workers, counts)
        assert got[0] == pytest.approx(within - across, rel=1e-12)
        assert got[1] == pytest.approx(np.diag(m).mean() - within, abs=1e-12)
        if workers % size == 0:
            assert got == pytest.approx((1.0, 0.0), abs=1e-12)


def test_the_z_statistic_is_standard_normal_without_groups() -> None:
    """Under the null (a shared factor, a slow worker, independent noise) z at a fixed size
    has mean 0 and variance 1: 200 traces, within 4 standard errors."""
    rng = np.random.default_rng(5)
    zs = []
    for _ in range(200):
        noise = rng.standard_exponential((1, 40, 16))
        common = np.exp(0.3 * rng.standard_normal((1, 40, 1)))
        speeds = np.where(np.arange(16) == 3, 3.0, 1.0)
        values = (0.01 + 0.1 * noise) * common * speeds
        zs.append(size_statistics(residuals(values), 4)["z"])
    z = np.array(zs)
    assert abs(z.mean()) <= 4 / math.sqrt(z.size)
    assert abs(z.var(ddof=1) - 1) <= 4 * math.sqrt(2 / (z.size - 1))


def test_fit_recovers_size_and_sigma_from_a_sample(tmp_path: Path) -> None:
    """A pssim sample with groups of 6 among 40 workers (the last block of 4): the fit
    names size 6, sigma within 4 standard errors, and model.toml runs the groups."""
    sigma = 0.3
    out = tmp_path / "trace.parquet"
    result = RUNNER.invoke(app, ["sample", "--family", "gamma", "--shape", "2", "--rate",
                                 "20", "--groups", f"6:{sigma}", "--markov", "0.05:0.3:3",
                                 "--workers", "40", "--load", "2", "--iterations", "300",
                                 "--reps", "1", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = fit_trace(pd.read_parquet(out))
    groups = report.groups
    assert groups is not None and groups.significant
    best = groups.best
    assert best is not None and int(best["size"]) == 6
    assert abs(best["sigma"] - sigma) <= 4 * best["sigma_se"], best.to_dict()
    # sizes 2..39 tried: the z needed is Bonferroni's for 38 candidates.
    assert groups.needed == pytest.approx(stats.norm.isf(stats.norm.sf(3.0) / 38))
    assert report.persistence.value("groups_size") == 6
    assert "best size 6" in report.text() and "the model includes them" in report.text()
    assert report.toml is not None
    path = tmp_path / "model.toml"
    path.write_text(report.toml)
    model = read(path)
    assert model["groups"] == {"size": 6, "sigma": best["sigma"]}
    run = pssim.run("LCC", workers=40, reps=5, **model)
    assert set(run["groups_size"]) == {6}


def test_fit_takes_the_block_factors_out_of_the_families() -> None:
    """With alpha = 0 and a lognormal family, the families are fitted to the durations
    without the block factors: sigma_log comes out as the family's, not as
    √(sigma_log² + sigma²), within 4 standard errors of a normal's sd (s/√(2n))."""
    sigma_log, sigma = 0.5, 0.4
    trace = sample(workers=42, load=1, reps=1, iterations=300, seed=1, alpha=0.0,
                   family="lognormal", mu_log=-3.0, sigma_log=sigma_log, groups=f"6:{sigma}")
    assert trace is not None
    report = fit_trace(trace)
    fitted = report.fits.set_index("family").loc["lognormal", "sigma_log"]
    # The factors taken out are estimated from each block's mean, so the durations of a
    # block share their error: count one independent draw per iteration and block, not
    # per duration (a wider tolerance than 12,600 draws would give).
    n = 300 * 7
    assert abs(fitted - sigma_log) <= 4 * sigma_log / math.sqrt(2 * n), fitted
    assert abs(fitted - math.hypot(sigma_log, sigma)) > 4 * sigma_log / math.sqrt(2 * n)


@pytest.mark.parametrize("options", [{}, {"shared": "0.3", "markov": "0.05:0.3:4"},
                                     {"persistent": "0.1:3", "family": "pareto",
                                      "shape": 2.5, "scale": 0.05}])
def test_fit_does_not_claim_groups_without_them(options: dict[str, object]) -> None:
    trace = sample(workers=40, load=1, reps=2, iterations=150, seed=11, **options)
    assert trace is not None
    report = fit_trace(trace)
    assert report.groups is not None and not report.groups.significant
    assert report.toml is not None and "groups" not in report.toml
    assert "none significant" in report.text()


def test_fit_tests_the_sizes_given(tmp_path: Path) -> None:
    trace = sample(workers=12, load=1, reps=1, iterations=200, seed=2, groups="4:0.5")
    assert trace is not None
    path = tmp_path / "t.csv"
    trace.to_csv(path, index=False)
    done = RUNNER.invoke(app, ["fit", str(path), "--group-sizes", "3,4,6",
                               "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "sizes 3, 4, 6 tried" in done.output and "best size 4" in done.output
    table = pd.read_csv(tmp_path / "out" / "groups.csv")
    assert list(table["size"]) == [3, 4, 6]
    # Blocks of 6 hold the true blocks of 4 only in part; 3 splits them: 4 has the largest z.
    assert table["z"].idxmax() == 1
    needed = stats.norm.isf(stats.norm.sf(3.0) / 3)
    assert f"≥ {needed:.3g}" in done.output


@pytest.mark.parametrize(("sizes", "value"), [("1", "1"), ("12", "12"), ("x", "x")])
def test_bad_group_sizes_are_one_line(tmp_path: Path, sizes: str, value: str) -> None:
    trace = sample(workers=12, load=1, reps=1, iterations=5, seed=2)
    assert trace is not None
    path = tmp_path / "t.csv"
    trace.to_csv(path, index=False)
    done = RUNNER.invoke(app, ["fit", str(path), "--group-sizes", sizes])
    assert done.exit_code == 2, done.output
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "group_sizes" in lines[0] and value in lines[0], done.output


def test_groups_not_estimable_with_one_iteration() -> None:
    trace = sample(workers=8, load=1, reps=1, iterations=1, seed=2)
    assert trace is not None
    report = fit_trace(trace)
    assert report.groups is not None and not report.groups.significant
    assert "not estimable: a single rep and iteration" in report.text()
    assert math.isnan(report.persistence.value("groups_sigma"))
