"""Coded gradient descent with real numbers (docs/model.md, "Coded gradient descent"):
exact decoders reproduce plain gradient descent, every finisher set decodes, the numbers
never change the clock, UC-MMC-PG sums what the trace says the master held."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import pssim
from pssim.errors import ConfigError, Note
from pssim.learning import Geometry, Problem, descend, held, train
from pssim.schemes import make_scheme

PROBLEM = Problem.synthetic(480, 6, noise=0.5, seed=3)
LOGISTIC = Problem.synthetic(480, 6, noise=0.5, seed=3, kind="logistic")
TIMING = ("rep", "iteration", "start", "end", "completion_time", "messages",
          "messages_sent", "computations", "late_messages")


def plain_descent(problem: Problem, step: float, iterations: int) -> np.ndarray:
    """Full-batch gradient descent on the whole data: the iterates (K, d)."""
    w = np.zeros(problem.features)
    out = []
    for _ in range(iterations):
        w = w - step / problem.rows * (problem.x.T @ (problem.x @ w - problem.y))
        out.append(w)
    return np.array(out)


def random_arrivals(rng: np.random.Generator, scheme: pssim.Scheme, reps: int,
                    iterations: int) -> np.ndarray:
    """A random straggler pattern: random reception instants, and the messages after the
    threshold's worth of distinct pieces missing (as the master stops at T)."""
    shape = (reps, iterations, scheme.workers, scheme.messages_per_worker)
    times = rng.random(shape)
    labels = scheme.labels().reshape(-1)
    flat = times.reshape(reps * iterations, -1)
    for row in flat:
        seen: set[int] = set()
        for index in np.argsort(row, kind="stable"):
            if len(seen) >= scheme.threshold:
                row[index] = math.inf
            seen.add(int(labels[index]))
    return flat.reshape(shape)


@pytest.mark.parametrize(("name", "options", "tolerance"), [
    ("UC-MMC", {}, 1e-9), ("GC", {}, 1e-9),
    ("LCC", {}, 1e-8), ("LCC-MMC-2", {}, 1e-8), ("LCC-MMC", {}, 1e-8),
    ("LCC", {"basis": "barycentric"}, 1e-8),
    ("LCC-MMC", {"points": "circle", "basis": "laurent"}, 1e-8),
])
def test_exact_schemes_reproduce_plain_gradient_descent(name: str, options: dict[str, str],
                                                        tolerance: float) -> None:
    # Any straggler pattern: random arrivals, and every message (no straggler at all).
    workers, load, iterations, reps = 8, 4, 12, 5
    scheme = make_scheme(name, workers, load)
    geometry = Geometry.of(PROBLEM)
    step = 1.0 / geometry.lipschitz
    code = scheme.code(*PROBLEM.partitions(workers), **options)
    rng = np.random.default_rng(7)
    received = random_arrivals(rng, scheme, reps, iterations)
    received[0] = rng.random(received.shape[1:])  # the master got everything
    models = descend(code, geometry, received, step)[3]
    plain = plain_descent(PROBLEM, step, iterations)
    gap = np.abs(models - plain).max(axis=2) / np.abs(plain).max(axis=1)
    assert gap.max() < tolerance


def test_gc_decodes_from_every_finisher_set() -> None:
    workers, load = 7, 3
    scheme = make_scheme("GC", workers, load)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((workers, 10, 4))
    y = rng.standard_normal((workers, 10))
    code = scheme.code(x, y)
    sets = list(itertools.combinations(range(workers), workers - load + 1))
    assert len(sets) == math.comb(7, 5)
    w = rng.standard_normal((len(sets), 4))
    received = np.full((len(sets), workers, 1), np.inf)
    for k, chosen in enumerate(sets):
        received[k, list(chosen), 0] = rng.permutation(len(chosen))
    decoded, cond = code.decode(code.messages(w), received)
    exact = np.stack([sum(xp.T @ (xp @ wk - yp) for xp, yp in zip(x, y, strict=True))
                      for wk in w])
    error = np.linalg.norm(decoded - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert error.max() < 1e-10
    assert (cond >= 1).all() and np.isfinite(cond).all()


@pytest.mark.parametrize(("workers", "load", "polynomials", "points", "basis"), [
    (8, 4, 4, "chebyshev", "chebyshev"), (8, 4, 2, "chebyshev", "chebyshev"),
    (8, 4, 2, "chebyshev", "barycentric"), (8, 4, 2, "equispaced", "monomial"),
    (6, 2, 1, "chebyshev", "chebyshev"), (7, 2, 2, "chebyshev", "chebyshev"),
    (8, 4, 4, "circle", "laurent"), (8, 4, 2, "circle", "laurent"),
    (6, 2, 1, "circle", "laurent"),
])
def test_lcc_decodes_from_every_threshold_subset(workers: int, load: int, polynomials: int,
                                                 points: str, basis: str) -> None:
    scheme = make_scheme(f"LCC({polynomials})", workers, load)
    rows = 10
    rng = np.random.default_rng(2)
    x = rng.standard_normal((workers, rows, 4))
    y = rng.standard_normal((workers, rows))
    code = scheme.code(x, y, points=points, basis=basis)
    per = scheme.messages_per_worker
    sets = list(itertools.combinations(range(workers * per), scheme.threshold))
    w = rng.standard_normal((len(sets), 4))
    received = np.full((len(sets), workers * per), np.inf)
    for k, chosen in enumerate(sets):
        received[k, list(chosen)] = rng.permutation(len(chosen))
    decoded, cond = code.decode(code.messages(w), received.reshape(len(sets), workers, per))
    exact = np.stack([sum(xp.T @ (xp @ wk - yp) for xp, yp in zip(x, y, strict=True))
                      for wk in w])
    error = np.linalg.norm(decoded - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert error.max() < 1e-9
    assert np.isnan(cond).all() if basis == "barycentric" else (cond >= 1).all()


@pytest.mark.parametrize("network", [
    {"network": "none", "decode_time": "1ms"},
    {"network": "fifo", "message_size": 48, "master_bandwidth": 4000, "latency": 1e-4,
     "late_policy": "drain"},
])
def test_the_numbers_never_change_the_clock(network: dict[str, object]) -> None:
    config = pssim.Config(scheme="all", workers=8, load=4, iterations=6, reps=3, seed=5,
                          **network)
    learned = train(config, PROBLEM).summary
    timed = pssim.simulate(config).summary
    for column in TIMING:
        assert np.allclose(learned[column], timed[column], rtol=1e-9, atol=0), column
    assert (learned["scheme"] == timed["scheme"]).all()


def test_a_modelled_decode_time_is_the_decode_s_operations_at_master_flops() -> None:
    config = pssim.Config(scheme="GC,LCC", workers=8, load=4, iterations=4, reps=2,
                          decode_time="model", master_flops=1e4)
    learned = train(config, PROBLEM).summary
    for name, part in learned.groupby("scheme", sort=False):
        scheme = make_scheme(str(name), 8, 4)
        flops = scheme.code(*PROBLEM.partitions(8)).flops(PROBLEM.features)
        timed = pssim.simulate(config.replace(scheme=str(name), decode_time=flops / 1e4))
        assert np.allclose(part["end"], timed.summary["end"], rtol=1e-9, atol=0)
        assert (part["decode_time"] == flops / 1e4).all()
        assert (part["start"].to_numpy()[1:4] > part["end"].to_numpy()[0:3]).all()


def test_partial_gradient_is_the_scaled_sum_of_the_partitions_held_at_t() -> None:
    workers, load, iterations, reps = 10, 2, 6, 3
    config = pssim.Config(scheme="UC-MMC-PG", workers=workers, load=load, pg_tolerance=0.25,
                          iterations=iterations, reps=reps, seed=11)
    learned = train(config, PROBLEM)
    trace = pssim.simulate(config, trace=True)
    assert trace.trace is not None
    events = trace.trace[trace.trace["event"] == "received"].merge(
        trace.summary[["rep", "iteration", "end"]], on=["rep", "iteration"])
    events = events[events["time"] <= events["end"]]
    labels = make_scheme("UC-MMC-PG", workers, load, pg_tolerance=0.25).labels()
    x, y = PROBLEM.partitions(workers)
    step = learned.step
    for rep in range(reps):
        w = np.zeros(PROBLEM.features)
        for t in range(iterations):
            got = events[(events["rep"] == rep) & (events["iteration"] == t)]
            parts = sorted({int(labels[i, j - 1]) for i, j in
                            zip(got["worker"], got["message"], strict=True)})
            assert len(parts) >= math.ceil(0.75 * workers)
            total = sum(x[p].T @ (x[p] @ w - y[p]) for p in parts)
            w = w - step / PROBLEM.rows * (workers / len(parts)) * total
            row = learned.summary[(learned.summary["rep"] == rep)
                                  & (learned.summary["iteration"] == t)]
            assert row["loss"].iloc[0] == pytest.approx(PROBLEM.loss(w[None])[0], rel=1e-9)
        final = learned.weights[learned.weights["rep"] == rep]["weight"].to_numpy()
        assert np.allclose(final, w, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("setting", [
    {"iterations": 5},
    {"network": "fifo", "message_size": 48, "master_bandwidth": 4000, "latency": 1e-4},
    {"network": "fair", "message_size": 48, "master_bandwidth": 4000, "latency": 1e-4},
])
def test_the_held_messages_are_the_same_from_either_engine(setting: dict[str, object]
                                                           ) -> None:
    """The vectorized engine's reception times and the SimPy engine's trace give the
    master the same messages at every T_t, hence the same numbers to the last bit."""
    config = pssim.Config(scheme="all", workers=8, load=4, reps=4, seed=3, **setting)
    fast = train(config.replace(engine="vectorized"), PROBLEM).summary
    slow = train(config.replace(engine="des"), PROBLEM).summary
    for column in ("loss", "gradient_error", "condition_number", "messages"):
        np.testing.assert_array_equal(fast[column].to_numpy(), slow[column].to_numpy())


def test_reception_times_come_from_the_vectorized_engine() -> None:
    config = pssim.Config(scheme="UC-MMC,LCC", workers=6, load=2, iterations=3, reps=5)
    result = pssim.simulate(config, receptions=True)
    assert result.receptions is not None and len(result.receptions) == 2
    for times, (_, part) in zip(result.receptions, result.summary.groupby("scheme",
                                                                          sort=False),
                                strict=True):
        end = part["end"].to_numpy().reshape(5, 3)
        held = (times <= end[:, :, None, None]).sum(axis=(2, 3)).reshape(-1)
        assert (held == part["messages"].to_numpy()).all()
    with pytest.raises(ConfigError, match="vectorized engine"):
        pssim.simulate(config.replace(engine="des"), receptions=True)


def test_loss_decreases_for_the_exact_schemes_with_a_safe_step() -> None:
    config = pssim.Config(scheme="UC-MMC,GC,LCC,LCC-MMC-2", workers=8, load=4,
                          iterations=10, reps=3, network="fifo", message_size=48,
                          master_bandwidth=4000)
    result = train(config, PROBLEM)
    assert result.step == pytest.approx(1 / Geometry.of(PROBLEM).lipschitz)
    for _, run in result.summary.groupby(["scheme", "rep"]):
        loss = np.concatenate([[result.initial_loss], run["loss"].to_numpy()])
        assert (np.diff(loss) <= 1e-12 * loss[0]).all()
        assert loss[-1] < 1.01 * result.optimal_loss


def test_held_keeps_what_arrived_by_the_end_of_its_iteration() -> None:
    config = pssim.Config(scheme="UC-MMC", workers=4, load=2, iterations=3, reps=2,
                          late_policy="drain", network="fifo", message_size=10,
                          master_bandwidth=100)
    result = pssim.simulate(config, trace=True)
    assert result.trace is not None
    times = held(result.summary, result.trace, config, make_scheme("UC-MMC", 4, 2))
    counts = np.isfinite(times).sum(axis=(2, 3)).reshape(-1)
    assert (counts == result.summary["messages"].to_numpy()).all()


def test_problems_from_files(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    table = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 0.0, 2.0, 1.0],
                          "b": [0.5, 0.1, 0.2, 0.3]})
    table.to_csv(folder / "d.csv", index=False)
    table.to_parquet(folder / "d.parquet")
    for name in ("d.csv", "d.parquet"):
        problem = Problem.from_file(folder / name, "y")
        assert problem.x.tolist() == table[["a", "b"]].to_numpy().tolist()
        assert problem.y.tolist() == table["y"].tolist()
    x, _ = problem.partitions(2)
    assert x.shape == (2, 2, 2) and x[1, 0].tolist() == [3.0, 0.2]


@pytest.mark.parametrize(("call", "parameter"), [
    (lambda: Problem.from_file("/no/such.csv", "y"), "data"),
    (lambda: PROBLEM.partitions(7), "workers"),
    (lambda: PROBLEM.partitions(481), "workers"),
    (lambda: train(pssim.Config(scheme="GC", workers=8, iterations=2, reps=1), PROBLEM,
                   step=-1.0), "step"),
    (lambda: train(pssim.Config(scheme="GC", workers=8, iterations=2, reps=1), PROBLEM,
                   step=math.inf), "step"),
    (lambda: train(pssim.Config(scheme="LCC", workers=8, iterations=2, reps=1), PROBLEM,
                   points="random"), "points"),
    (lambda: train(pssim.Config(scheme="LCC", workers=8, iterations=2, reps=1), PROBLEM,
                   basis="legendre"), "basis"),
    (lambda: Problem(PROBLEM.x, PROBLEM.y, kind="svm"), "problem"),
    (lambda: Problem(PROBLEM.x, PROBLEM.y, kind="logistic"), "target"),
    (lambda: Problem.synthetic(480, 6, noise=0, kind="logistic"), "synthetic"),
    (lambda: train(pssim.Config(scheme="GC,LCC-MMC", workers=8, iterations=2, reps=1),
                   LOGISTIC), "problem"),
    (lambda: train(pssim.Config(scheme="all,LCC(3)", workers=8, load=6, iterations=2,
                                reps=1),
                   LOGISTIC), "problem"),
    (lambda: Problem.synthetic(12, 6, kind="logistic").geometry, "data"),
    (lambda: pssim.Config(master_flops=0), "master_flops"),
    (lambda: pssim.simulate("GC", decode_time="model", reps=1), "decode_time"),
])
def test_bad_input_names_the_parameter(call: object, parameter: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.parameter == parameter


@pytest.mark.parametrize(("args", "parameter"), [
    (["--data", "/no/such.csv", "--target", "y"], "data"),
    (["--data", "BAD", "--target", "y"], "data"),
    (["--data", "MISSING", "--target", "y"], "data"),
    (["--data", "MISSING", "--target", "z"], "target"),
    (["--step", "0"], "step"), (["--step", "nan"], "step"),
    (["--synthetic", "4,3"], "workers"), (["--points", "x"], "points"),
    (["--basis", "x"], "basis"), (["--master-flops", "-1"], "master_flops"),
    (["--problem", "svm"], "problem"),
    (["--problem", "logistic", "--synthetic", "480,6", "--scheme", "LCC"], "problem"),
    (["--problem", "logistic", "--data", "MISSING", "--target", "y"], "data"),
    (["--problem", "logistic", "--data", "LABELS", "--target", "y"], "target"),
])
def test_bad_input_on_the_command_line(tmp_path: object, args: list[str],
                                       parameter: str) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from pssim.cli import app

    folder = Path(str(tmp_path))
    (folder / "bad.csv").write_text("a,b,y\n1,2,3\n4,x,6\n")
    (folder / "missing.csv").write_text("a,b,y\n1,2,3\n4,,6\n")
    (folder / "labels.csv").write_text("a,b,y\n1,2,0\n4,5,1\n3,1,2\n")
    args = [str(folder / f"{a.lower()}.csv") if a in ("BAD", "MISSING", "LABELS") else a
            for a in args]
    result = CliRunner().invoke(app, ["train", "--workers", "8", "--reps", "1",
                                      "--iterations", "2", *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: invalid {parameter}=")


def test_train_on_the_command_line_writes_its_tables(tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from pssim.cli import app

    folder = Path(str(tmp_path))
    result = CliRunner().invoke(app, [
        "train", "--scheme", "UC-MMC,LCC", "--workers", "8", "--synthetic", "480,6,0.5",
        "--iterations", "5", "--reps", "2", "--decode-time", "model",
        "--out", str(folder / "s.parquet"), "--weights", str(folder / "w.csv")])
    assert result.exit_code == 0, result.output
    summary = pd.read_parquet(folder / "s.parquet")
    assert {"loss", "gradient_error", "condition_number"} <= set(summary.columns)
    assert len(summary) == 2 * 2 * 5
    assert len(pd.read_csv(folder / "w.csv")) == 2 * 2 * 6
    assert "UC-MMC" in result.output and "LCC" in result.output


def test_loss_curves_and_time_to_target() -> None:
    from matplotlib.figure import Figure

    from pssim.analysis.convergence import (
        convergence_table,
        loss_curves,
        plot_loss_curves,
        reaching,
    )

    s = pd.DataFrame({"scheme": "A", "rep": [0, 0, 1, 1], "iteration": [0, 1, 0, 1],
                      "end": [1.0, 2.0, 1.5, 4.0], "loss": [3.0, 1.0, 2.0, 1.5],
                      "gradient_error": [0.0, 1e-9, 2e-9, 0.0],
                      "condition_number": np.nan})
    runs = reaching(s, 1.5)
    assert runs["iterations_to_target"].tolist() == [2.0, 2.0]
    assert runs["time_to_target"].tolist() == [2.0, 4.0]
    table = convergence_table(s, 1.2)
    assert table.loc[0, "reached"] == 0.5 and table.loc[0, "median_time_to_target"] == 2.0
    assert table.loc[0, "worst_gradient_error"] == 2e-9
    curves = loss_curves(s, initial_loss=5.0, points=5)  # instants 0, 1, 2, 3, 4
    assert curves["median"].tolist() == [5.0, 4.0, 1.5, 1.5, 1.25]
    assert isinstance(plot_loss_curves(curves, optimal_loss=0.5), Figure)


def test_the_convergence_scenario_names_where_lcc_fails() -> None:
    from pssim.scenarios.common import scenarios
    from pssim.scenarios.convergence import first_failing

    assert "convergence" in scenarios()
    decode = pd.DataFrame({"scheme": "LCC", "points": "chebyshev",
                           "workers": [10, 20, 40, 80],
                           "median_gradient_error": [1e-14, 1e-9, 3e-6, 1.0]})
    assert first_failing(decode, "LCC", "chebyshev") == "N = 40"
    assert first_failing(decode.assign(median_gradient_error=0.0), "LCC",
                         "chebyshev") == "beyond N = 80"


def test_a_convergence_training_run_keeps_its_notes_instead_of_printing_them() -> None:
    import warnings

    from pssim.scenarios.convergence import _train

    # LCC at N = 80 on equispaced points: a decode so ill-conditioned that one step from
    # w_0 overshoots f(w_0), which train() notes.
    job = {"scheme": "LCC", "workers": 80, "load": 4, "iterations": 1, "reps": 5}
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        notes = _train(job, "equispaced", "monomial", "real", (480, 6, 0.5, 3))[3]
    assert escaped == []
    assert len(notes) == 1
    assert notes[0].startswith("LCC: the loss diverges") and "5 of 5" in notes[0]


def plain_logistic_descent(problem: Problem, step: float, iterations: int) -> np.ndarray:
    """Full-batch gradient descent on the logistic loss: the iterates (K, d)."""
    w = np.zeros(problem.features)
    out = []
    for _ in range(iterations):
        probability = 1 / (1 + np.exp(-(problem.x @ w)))
        w = w - step / problem.rows * (problem.x.T @ (probability - problem.y))
        out.append(w)
    return np.array(out)


@pytest.mark.parametrize("name", ["UC-MMC", "GC"])
def test_logistic_schemes_reproduce_plain_gradient_descent(name: str) -> None:
    workers, load, iterations, reps = 8, 4, 12, 5
    scheme = make_scheme(name, workers, load)
    geometry = LOGISTIC.geometry
    step = 1.0 / geometry.lipschitz
    code = scheme.code(*LOGISTIC.partitions(workers), problem="logistic")
    rng = np.random.default_rng(7)
    received = random_arrivals(rng, scheme, reps, iterations)
    received[0] = rng.random(received.shape[1:])
    models = descend(code, geometry, received, step)[3]
    plain = plain_logistic_descent(LOGISTIC, step, iterations)
    gap = np.abs(models - plain).max(axis=2) / np.abs(plain).max(axis=1)
    assert gap.max() < 1e-9


def test_logistic_gradient_matches_finite_differences_and_its_optimum() -> None:
    from scipy.optimize import approx_fprime, minimize

    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, LOGISTIC.features))
    geometry = LOGISTIC.geometry
    for row, g in zip(w, geometry.gradient(w), strict=True):
        numeric = approx_fprime(row, lambda v: LOGISTIC.loss(v[None])[0], 1e-7)
        assert np.allclose(g / LOGISTIC.rows, numeric, rtol=1e-5, atol=1e-7)
    # Newton's optimum against a general-purpose minimiser.
    found = minimize(lambda v: LOGISTIC.loss(v[None])[0], np.zeros(LOGISTIC.features),
                     jac=lambda v: geometry.gradient(v[None])[0] / LOGISTIC.rows,
                     method="BFGS", options={"gtol": 1e-10})
    assert geometry.optimal_loss <= found.fun + 1e-14
    assert np.allclose(geometry.optimum, found.x, atol=1e-5)
    assert np.linalg.norm(geometry.gradient(geometry.optimum[None])) < 1e-10 * LOGISTIC.rows
    assert geometry.lipschitz == pytest.approx(
        np.linalg.eigvalsh(LOGISTIC.x.T @ LOGISTIC.x)[-1] / (4 * LOGISTIC.rows))


def test_logistic_loss_decreases_towards_its_optimum() -> None:
    config = pssim.Config(scheme="UC-MMC,UC-MMC-PG,GC", workers=8, load=4, iterations=30,
                          reps=3, seed=2)
    result = train(config, LOGISTIC)
    assert result.step == pytest.approx(1 / LOGISTIC.geometry.lipschitz)
    assert result.initial_loss == pytest.approx(math.log(2))
    for (scheme, _), run in result.summary.groupby(["scheme", "rep"]):
        loss = np.concatenate([[result.initial_loss], run["loss"].to_numpy()])
        assert (loss >= result.optimal_loss * (1 - 1e-12)).all()
        if scheme != "UC-MMC-PG":  # a partial gradient need not descend
            assert (np.diff(loss) <= 0).all()
            assert loss[-1] < 1.01 * result.optimal_loss


def test_all_skips_the_lcc_family_for_logistic_with_a_note() -> None:
    config = pssim.Config(scheme="all", workers=8, load=4, iterations=3, reps=1)
    with pytest.warns(Note, match=r"skipped LCC, LCC-MMC, LCC-MMC-2 .*polynomial"):
        result = train(config, LOGISTIC)
    assert set(result.summary["scheme"]) == {"UC-MMC", "UC-MMC-PG", "GC"}


def test_logistic_on_the_command_line(tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from pssim.cli import app

    folder = Path(str(tmp_path))
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.standard_normal((40, 3)), columns=["a", "b", "c"])
    table["y"] = (rng.random(40) < 1 / (1 + np.exp(-table["a"]))).astype(int)
    table.to_csv(folder / "d.csv", index=False)
    problem = Problem.from_file(folder / "d.csv", "y", "logistic")
    assert problem.kind == "logistic" and problem.y.tolist() == table["y"].tolist()
    result = CliRunner().invoke(app, [
        "train", "--problem", "logistic", "--scheme", "all", "--workers", "8",
        "--data", str(folder / "d.csv"), "--target", "y", "--iterations", "5",
        "--reps", "2"])
    assert result.exit_code == 0, result.output
    assert "note: all: skipped LCC" in result.output
    assert "GC" in result.output


# -- Problems whose step cannot be derived, runs that diverge, data too large ------------------


def _train_cli(*args: str) -> object:
    from typer.testing import CliRunner

    from pssim.cli import app

    return CliRunner().invoke(app, ["train", "--workers", "4", "--load", "2", "--scheme",
                                    "GC", "--reps", "2", "--iterations", "5", *args])


def _one_line(result: object, *words: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    lines = [line for line in result.output.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]


def test_all_zero_features_have_no_step_to_derive(tmp_path: object) -> None:
    from pathlib import Path

    zero = Problem(np.zeros((8, 2)), np.arange(8.0), "zeros")
    config = pssim.Config(scheme="GC", workers=4, load=2, iterations=3, reps=1)
    with pytest.raises(ConfigError, match="L = 0") as caught:
        train(config, zero)
    assert caught.value.parameter == "step"
    # A step given runs: the gradient is 0, so w stays at 0 and the loss at f(0) = Σy²/2m.
    result = train(config, zero, step=0.5)
    assert (result.summary["loss"] == (np.arange(8.0) ** 2).sum() / 16).all()
    path = Path(str(tmp_path)) / "zeros.csv"
    pd.DataFrame({"a": 0.0, "b": 0.0, "y": np.arange(8.0)}).to_csv(path, index=False)
    _one_line(_train_cli("--data", str(path), "--target", "y"), "invalid step=None",
              "L = 0", "--step")


def test_features_whose_squares_overflow_are_refused(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "huge.csv"
    table = pd.DataFrame({"a": PROBLEM.x[:8, 0] * 1e200, "b": PROBLEM.x[:8, 1],
                          "y": PROBLEM.y[:8]})
    table.to_csv(path, index=False)
    for step in ([], ["--step", "1e10"]):
        _one_line(_train_cli("--data", str(path), "--target", "y", *step), "invalid data=",
                  "overflow", "scale")


def test_a_diverging_run_says_so() -> None:
    config = pssim.Config(scheme="GC", workers=8, load=2, iterations=8, reps=1)
    lipschitz = PROBLEM.geometry.lipschitz
    # η = 1/L converges: no note.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        train(config, PROBLEM)
    # η = 3/L: the top eigendirection's error is multiplied by 1 − 3 = −2 per iteration
    # (GC decodes exactly), so the loss ends above f(w_0).
    exact = plain_descent(PROBLEM, 3 / lipschitz, 8)
    initial = float(PROBLEM.loss(np.zeros((1, 6)))[0])
    assert float(PROBLEM.loss(exact[-1:])[0]) > initial
    with pytest.warns(Note, match=r"GC: the loss diverges: .*above f\(w_0\)") as caught:
        train(config, PROBLEM, step=3 / lipschitz)
    message = str(caught[0].message)
    assert "in 1 of 1 realization" in message and "at least 2/L" in message
    # η = 1e10: the loss overflows.
    with pytest.warns(Note, match=r"GC: the loss stops being finite at iteration \d+"):
        result = train(config.replace(iterations=40), PROBLEM, step=1e10)
    assert not np.isfinite(result.summary["loss"].iloc[-1])


def test_a_diverging_run_on_the_command_line_notes_it() -> None:
    result = _train_cli("--synthetic", "80,3", "--step", "1e10", "--iterations", "40")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "note: GC: the loss stops being finite" in result.output  # type: ignore[attr-defined]


def test_synthetic_data_too_large_is_refused_with_an_estimate() -> None:
    with pytest.raises(ConfigError, match="GiB") as caught:
        Problem.parse_synthetic("100000000,1000")
    assert caught.value.parameter == "synthetic"
    _one_line(_train_cli("--synthetic", "100000000,1000"), "invalid synthetic=", "GiB",
              "100000000")
    # Few rows but many features: the Gram matrices of the partitions do not fit.
    _one_line(_train_cli("--synthetic", "8,200000"), "invalid data=", "GiB")


def test_label_errors_count_data_rows_from_1() -> None:
    with pytest.raises(ConfigError, match="data row 3 of"):
        Problem(np.ones((4, 1)), np.array([0.0, 1.0, 2.0, 1.0]), kind="logistic")
