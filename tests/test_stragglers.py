"""Straggler models (docs/model.md, "Straggler models"): each family and slowdown against
its theory at a fixed seed, within 4 standard errors; the stream rules of "Randomness";
configuration from options, short forms, TOML files and sweep files; pssim sample."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import toml
from scipy import stats
from typer.testing import CliRunner

import pssim
from pssim import ConfigError
from pssim.analysis.frames import load_sweep
from pssim.cli import app
from pssim.compute import (
    Exponential,
    Gamma,
    Lognormal,
    Markov,
    Pareto,
    Persistent,
    Shared,
    ShiftedExponential,
    Speeds,
    StragglerModel,
    build,
)
from pssim.compute.stragglers import read
from pssim.sampling import sample
from pssim.sweep import load_file, run_sweep

RUNNER = CliRunner()
REPS, N = 4000, 10  # 40,000 draws per test
ALPHA = 0.01

#: Each family, its scipy.stats twin (an independent reference for its law).
FAMILIES = [
    (Exponential(mu=10.0), stats.expon(scale=0.1)),
    (Gamma(shape=2.0, rate=20.0), stats.gamma(a=2.0, scale=1 / 20.0)),
    (Lognormal(mu_log=-3.0, sigma_log=0.5), stats.lognorm(s=0.5, scale=math.exp(-3.0))),
    (Pareto(shape=2.5, scale=0.05), stats.pareto(b=2.5, scale=0.05)),
]


def draws(model: StragglerModel, reps: int = REPS, workers: int = N, load: int = 1,
          iteration: int = 0, seed: int = 7) -> np.ndarray:
    return model.durations(seed, 0, reps, workers, load, iteration)


@pytest.mark.parametrize(("family", "law"), FAMILIES, ids=lambda f: getattr(f, "name", ""))
def test_each_family_has_its_quantiles_and_mean(family: Any, law: Any) -> None:
    x = draws(StragglerModel(family, ALPHA)).ravel()
    n = x.size
    for p in (0.1, 0.5, 0.9, 0.99):
        # The share below the law's p-quantile is binomial(n, p).
        share = np.mean(x <= ALPHA + law.ppf(p))
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / n), (p, share)
    if math.isfinite(family.variance()):
        assert family.mean() == pytest.approx(law.mean(), rel=1e-12)
        assert family.variance() == pytest.approx(law.var(), rel=1e-12)
        se = math.sqrt(family.variance() / n)
        assert abs(x.mean() - (ALPHA + family.mean())) <= 4 * se


def test_granularity_per_computation_draws_each_computation_afresh() -> None:
    model = StragglerModel(Gamma(shape=2.0, rate=20.0), ALPHA, "per_computation")
    x = model.durations(3, 0, REPS, N, 3)
    finish = model.finish_times(3, 0, REPS, N, 3)
    np.testing.assert_array_equal(finish, np.cumsum(x, axis=2))
    # Independent computations: the correlation of the first two is 0 within 4 SE.
    r = np.corrcoef(x[..., 0].ravel(), x[..., 1].ravel())[0, 1]
    assert abs(r) <= 4 / math.sqrt(REPS * N)
    # Per iteration, computation c ends at c·X.
    per_iteration = StragglerModel(Gamma(shape=2.0, rate=20.0), ALPHA)
    x1 = per_iteration.durations(3, 0, 5, N, 3)
    np.testing.assert_array_equal(per_iteration.finish_times(3, 0, 5, N, 3)[..., 2], 3 * x1)


def test_the_paper_model_keeps_its_draws() -> None:
    paper = ShiftedExponential(10.0, 0.01)
    assert isinstance(build({}), ShiftedExponential)
    composed = StragglerModel(Exponential(10.0), 0.01)
    for t in (0, 3):
        np.testing.assert_array_equal(paper.finish_times(5, 100, 3000, 7, 4, t),
                                      composed.finish_times(5, 100, 3000, 7, 4, t))
    # The paper's draws: alpha + Exp(1)/mu from the first stream of the root seed.
    e = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(0,))).standard_exponential(
        (1024, 7))
    np.testing.assert_array_equal(paper.finish_times(5, 0, 3, 7, 1)[..., 0], 0.01 + e[:3] / 10)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.29, 0.5, 1.0])
def test_persistent_slows_exactly_floor_fraction_n_workers(fraction: float) -> None:
    workers = 100
    slow = Persistent(fraction, 3.0)
    f0 = slow.factors(1, 0, 2000, workers, 0)
    f5 = slow.factors(1, 0, 2000, workers, 5)
    m = round(fraction * workers)  # 0.29·100 is 29 workers, not 28
    assert ((f0 == 3.0).sum(axis=1) == m).all()
    assert set(np.unique(f0)) <= {1.0, 3.0}
    np.testing.assert_array_equal(f0, f5)  # the same workers in every iteration
    if 0 < m < workers:
        # Drawn uniformly: each worker is slow in a share m/N of the realizations.
        p = m / workers
        share = (f0 == 3.0).mean(axis=0)
        assert np.all(np.abs(share - p) <= 4 * math.sqrt(p * (1 - p) / 2000))


def test_markov_chain_is_stationary_with_its_transition_frequencies() -> None:
    p_slow, p_recover = 0.05, 0.3
    chain = Markov(p_slow, p_recover, 4.0)
    reps, workers, iterations = 2000, 20, 6
    states = np.stack([chain.states(2, 0, reps, workers, t) for t in range(iterations)])
    pi = p_slow / (p_slow + p_recover)
    n = reps * workers
    for t in range(iterations):
        assert abs(states[t].mean() - pi) <= 4 * math.sqrt(pi * (1 - pi) / n)
    before, after = states[:-1].ravel(), states[1:].ravel()
    for was, now, p in ((False, True, p_slow), (True, False, p_recover)):
        moves = after[before == was] == now
        assert abs(moves.mean() - p) <= 4 * math.sqrt(p * (1 - p) / moves.size), (was, p)
    f = chain.factors(2, 0, reps, workers, 3)
    np.testing.assert_array_equal(f, np.where(states[3], 4.0, 1.0))


def test_markov_states_do_not_depend_on_how_a_run_is_split() -> None:
    whole = Markov(0.1, 0.2, 2.0)
    wanted = whole.states(9, 0, 3000, 8, 7)  # straight to iteration 7
    pieces = Markov(0.1, 0.2, 2.0)
    for t in range(8):  # iteration after iteration, in two chunks
        a = pieces.states(9, 0, 1500, 8, t)
        b = pieces.states(9, 1500, 3000, 8, t)
    np.testing.assert_array_equal(np.concatenate([a, b]), wanted)
    # Asking again for an earlier iteration recomputes it, rather than stepping on.
    np.testing.assert_array_equal(pieces.states(9, 0, 3000, 8, 7), wanted)
    assert not np.array_equal(pieces.states(9, 0, 3000, 8, 2), wanted)


def test_shared_factor_correlates_workers_as_theory_says() -> None:
    sigma = 0.3
    model = StragglerModel(Exponential(10.0), ALPHA, slowdowns=[Shared(sigma)])
    x = draws(model, reps=20000, workers=2)
    ex, ex2 = ALPHA + 0.1, (ALPHA + 0.1) ** 2 + 0.01  # E[X], E[X²] of alpha + Exp(10)
    es, es2 = math.exp(sigma**2 / 2), math.exp(2 * sigma**2)  # E[S], E[S²]
    cov = ex**2 * (es2 - es**2)
    var = ex2 * es2 - (ex * es) ** 2
    rho = cov / var
    r = np.corrcoef(x[:, 0], x[:, 1])[0, 1]
    assert abs(r - rho) <= 4 * (1 - rho**2) / math.sqrt(20000)
    # Without it, workers are independent.
    y = draws(StragglerModel(Exponential(10.0), ALPHA), reps=20000, workers=2)
    assert abs(np.corrcoef(y[:, 0], y[:, 1])[0, 1]) <= 4 / math.sqrt(20000)


def test_slowdowns_multiply_the_whole_duration() -> None:
    base = StragglerModel(Gamma(2.0, 20.0), ALPHA)
    speeds = [1.0, 2.0, 1.5]
    slowed = StragglerModel(Gamma(2.0, 20.0), ALPHA, slowdowns=[Speeds(speeds)])
    np.testing.assert_array_equal(draws(slowed, 50, 3), draws(base, 50, 3) * speeds)
    both = StragglerModel(Gamma(2.0, 20.0), ALPHA,
                          slowdowns=[Persistent(1.0, 3.0), Shared(0.2)])
    assert Shared(0.2).factors(7, 0, 50, 3, 0).shape == (50, 1)  # one factor per cluster
    np.testing.assert_array_equal(draws(both, 50, 3),
                                  draws(base, 50, 3) * 3.0 * Shared(0.2).factors(7, 0, 50, 3, 0))


def test_draws_do_not_depend_on_the_number_of_iterations_or_chunks() -> None:
    options = {"family": "lognormal", "mu_log": -3.0, "sigma_log": 0.5,
               "markov": "0.1:0.3:3", "persistent": "0.2:2", "shared": "0.1",
               "workers": 6, "load": 2, "seed": 4}
    long = sample(reps=30, iterations=6, **options)
    short = sample(reps=30, iterations=3, **options)
    assert long is not None and short is not None
    pd.testing.assert_frame_equal(long[long["iteration"] < 3].reset_index(drop=True), short,
                                  check_exact=True)
    import pssim.sampling

    try:
        pssim.sampling.CHUNK_ROWS = 25  # a few realizations, or one iteration, per chunk
        chunked = sample(reps=30, iterations=6, **options)
    finally:
        pssim.sampling.CHUNK_ROWS = 2**20
    pd.testing.assert_frame_equal(chunked, long, check_exact=True)


def test_sweep_of_straggler_models_is_identical_serially_and_on_processes(
        tmp_path: Path) -> None:
    text = toml({"sweep": {"reps": 40, "schemes": ["UC-MMC", "LCC"], "seed": 3,
                           "chunk_size": 7},
                 "fixed": {"workers": 8, "load": 2, "iterations": 3},
                 "stragglers": {"family": "gamma", "shape": 2.0, "rate": 20.0}})
    text += ("[grid]\nmarkov = [{ p_slow = 0.1, p_recover = 0.3, factor = 3.0 },\n"
             "          { p_slow = 0.2, p_recover = 0.2, factor = 2.0 }]\n")
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    frames = []
    for executor, chunk in (("serial", 7), ("processes", 13)):
        out = tmp_path / executor
        run_sweep(load_file(path), out, executor=executor, chunk_size=chunk,
                  workers_per_host=2)
        frames.append(load_sweep(out).sort_values(
            ["markov_p_slow", "scheme", "rep", "iteration"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert set(frames[0]["family"]) == {"gamma"}
    assert sorted(set(frames[0]["markov_factor"])) == [2.0, 3.0]


def test_a_run_equals_the_replay_of_its_sample(tmp_path: Path) -> None:
    options = {"workers": 8, "load": 2, "reps": 20, "iterations": 3, "seed": 11,
               "family": "pareto", "shape": 2.0, "scale": 0.02,
               "granularity": "per_computation", "markov": "0.2:0.4:3"}
    path = tmp_path / "sample.parquet"
    sample(out=path, **options)
    drawn = pssim.run("all", **options)
    table = pd.read_parquet(path)[["rep", "iteration", "worker", "computation", "duration"]]
    replayed = pssim.run("all", workers=8, load=2, reps=20, iterations=3, seed=11,
                         compute_times=table)
    # Replay sums the durations; the model sums the same numbers in the same order.
    cols = ["scheme", "rep", "iteration", "completion_time", "messages", "computations"]
    pd.testing.assert_frame_equal(drawn[cols], replayed[cols], check_exact=True)


def test_sample_writes_long_form_rows(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["sample", "--family", "gamma", "--shape", "2", "--rate",
                                 "20", "--workers", "5", "--load", "3", "--iterations", "4",
                                 "--reps", "6", "--seed", "1", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "s.csv")
    assert list(frame.columns) == ["rep", "iteration", "worker", "computation", "duration",
                                   "finish"]
    assert len(frame) == 6 * 4 * 5 * 3
    keys = ["rep", "iteration", "worker", "computation"]
    assert frame[keys].equals(frame[keys].sort_values(keys))
    assert not frame.duplicated(keys).any()
    # Per iteration: every computation of a worker takes X, and c-th ends at c·X.
    first = frame[frame["computation"] == 1].set_index(keys[:3])["duration"]
    for c in (2, 3):
        rows = frame[frame["computation"] == c].set_index(keys[:3])
        np.testing.assert_allclose(rows["finish"], c * first.loc[rows.index], rtol=1e-12)
    assert "wrote 360 durations" in result.output


def test_sample_plot_writes_two_figures(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    result = RUNNER.invoke(app, ["sample", "--markov", "0.1:0.3:4", "--workers", "8",
                                 "--iterations", "10", "--reps", "2", "--out", str(out),
                                 "--plot"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s_ecdf.png").stat().st_size > 0
    assert (tmp_path / "s_heatmap.png").stat().st_size > 0


def test_stragglers_file_and_short_forms_give_one_configuration(tmp_path: Path) -> None:
    path = tmp_path / "model.toml"
    path.write_text('[stragglers]\nfamily = "gamma"\nalpha = 0.02\nshape = 2.0\n'
                    'rate = 20.0\nmarkov = { p_slow = 0.05, p_recover = 0.3, factor = 4.0 }\n')
    from_file = RUNNER.invoke(app, ["run", "--stragglers", str(path), "--scheme", "LCC",
                                    "--reps", "50", "--out", str(tmp_path / "a.csv")])
    short = RUNNER.invoke(app, ["run", "--family", "gamma", "--alpha", "0.02", "--shape", "2",
                                "--rate", "20", "--markov", "0.05:0.3:4", "--scheme", "LCC",
                                "--reps", "50", "--out", str(tmp_path / "b.csv")])
    assert from_file.exit_code == 0 and short.exit_code == 0, from_file.output + short.output
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a["markov_factor"].iloc[0] == 4.0 and a["family"].iloc[0] == "gamma"
    # An option beside the file takes precedence over the file's key.
    over = RUNNER.invoke(app, ["run", "--stragglers", str(path), "--rate", "10", "--scheme",
                               "LCC", "--reps", "50", "--out", str(tmp_path / "c.csv")])
    assert over.exit_code == 0 and pd.read_csv(tmp_path / "c.csv")["rate"].iloc[0] == 10.0
    model = build(pssim.Config(family="gamma", shape=2, rate=20, markov="0.05:0.3:4"))
    assert model.options()["markov"] == {"p_slow": 0.05, "p_recover": 0.3, "factor": 4.0}


@pytest.mark.parametrize(("args", "parameter", "value"), [
    (["--family", "weibull"], "family", "weibull"),
    (["--family", "gamma", "--shape", "2"], "rate", "None"),
    (["--family", "pareto", "--rate", "2"], "shape", "None"),
    (["--shape", "-1", "--family", "gamma", "--rate", "1"], "shape", "-1"),
    (["--persistent", "0.1"], "persistent", "0.1"),
    (["--persistent", "1.5:3"], "persistent.fraction", "1.5"),
    (["--persistent", "0.1:0.5"], "persistent.factor", "0.5"),
    (["--markov", "0.1:0.2"], "markov", "0.1:0.2"),
    (["--markov", "0:0:2"], "markov", "0:0:2"),
    (["--shared", "-0.2"], "shared.sigma", "-0.2"),
    (["--shared", "x"], "shared.sigma", "x"),
    (["--speeds", "1,2", "--workers", "3", "--load", "3"], "speeds", "1,2"),
    (["--speeds", "1,0.5"], "speeds[1]", "0.5"),
    (["--granularity", "per_worker"], "granularity", "per_worker"),
])
def test_bad_straggler_options_are_one_line(args: list[str], parameter: str,
                                            value: str) -> None:
    result = RUNNER.invoke(app, ["run", "--scheme", "LCC", "--reps", "2", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: invalid "), result.output
    assert parameter in lines[0] and value in lines[0], result.output


@pytest.mark.parametrize(("text", "parameter"), [
    ('[stragglers]\nfamily = "gamma"\nshape = 2.0\nrate = 1.0\nspeed = 2\n', "speed"),
    ('[stragglers]\nshape = "two"\n', "shape"),
    ('[stragglers]\nmarkov = { p_slow = 0.1, factor = 2.0 }\n', "markov"),
    ('[model]\nfamily = "gamma"\n', "stragglers"),
    ("[stragglers\n", "stragglers"),
])
def test_bad_stragglers_files_are_one_line(tmp_path: Path, text: str, parameter: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = RUNNER.invoke(app, ["run", "--stragglers", str(path), "--reps", "2"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and parameter in lines[0], result.output


def test_durations_table_and_a_straggler_model_are_not_both_given() -> None:
    table = pd.DataFrame({"worker": [0, 1], "duration": [1.0, 2.0]})
    with pytest.raises(ConfigError, match=r"compute_times.*family"):
        pssim.run("LCC", workers=2, load=1, compute_times=table, family="gamma")


def test_sweep_file_rejects_a_key_twice_and_unknown_straggler_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(toml({"sweep": {"reps": 2, "schemes": ["LCC"]},
                          "stragglers": {"family": "gamma", "shape": 2.0, "rate": 1.0},
                          "fixed": {"shape": 3.0}}))
    with pytest.raises(ConfigError, match=r"shape in both \[stragglers\] and \[fixed\]"):
        load_file(path)
    path.write_text(toml({"sweep": {"reps": 2, "schemes": ["LCC"]},
                          "stragglers": {"family": "gamma", "workers": 3}}))
    with pytest.raises(ConfigError, match=r"stragglers\.workers"):
        load_file(path)


def test_sample_too_large_for_the_disk_or_memory_is_refused_before_drawing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10**6))
    out = tmp_path / "big.parquet"
    result = RUNNER.invoke(app, ["sample", "--reps", "10000", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "GiB free there" in result.output and "reps" in result.output
    assert not out.exists() and not list(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="write them to a file"):
        sample(reps=10**6, iterations=10**4)


def test_per_computation_draws_do_not_depend_on_the_load() -> None:
    """Computation c draws the same numbers at any load r >= c (common random numbers
    across r), so UC-MMC, which can only gain from more computations, is never slower."""
    model = build({"family": "gamma", "shape": 2.0, "rate": 20.0,
                   "granularity": "per_computation"})
    np.testing.assert_array_equal(model.durations(0, 1000, 1100, 6, 2),
                                  model.durations(0, 1000, 1100, 6, 4)[..., :2])
    options = {"workers": 6, "reps": 200, "seed": 1, "family": "gamma", "shape": 2,
               "rate": 20, "granularity": "per_computation"}
    t2 = pssim.run("UC-MMC", load=2, **options)["completion_time"].to_numpy()
    t3 = pssim.run("UC-MMC", load=3, **options)["completion_time"].to_numpy()
    assert (t3 <= t2).all()


def test_markov_states_given_are_read_only_and_follow_the_parameters() -> None:
    chain = Markov(0.1, 0.2, 2.0)
    states = chain.states(1, 0, 50, 4, 3)
    with pytest.raises(ValueError, match="read-only"):
        states[0, 0] = not states[0, 0]
    chain.p_slow = 0.9
    np.testing.assert_array_equal(chain.states(1, 0, 50, 4, 3),
                                  Markov(0.9, 0.2, 2.0).states(1, 0, 50, 4, 3))


def test_a_one_key_table_takes_a_bare_number(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[stragglers]\nshared = 0.2\nspeeds = [1.23456789, 2]\n")
    options = read(path)
    assert options["shared"] == {"sigma": 0.2}
    model = build({**options})
    assert model.options()["speeds"] == [1.23456789, 2.0]  # no digit lost
