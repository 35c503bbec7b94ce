"""The command line, the engines' option checks, baselines and stated assumptions: a run
says what it modelled and refuses what it cannot model."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import pssim
import pssim.api
from pssim import ConfigError
from pssim.analysis.frames import paired_margin
from pssim.analysis.summary import paired_ratio
from pssim.assumptions import describe
from pssim.cli import app
from pssim.config import Config
from pssim.errors import Note, integer

RUNNER = CliRunner()
SMALL = ["--scheme", "LCC", "--workers", "4", "--load", "2"]


def one_line_error(args: list[str], *words: str) -> str:
    """Exit code 2, one line naming the parameter and its value, no traceback."""
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def ok(args: list[str]) -> Any:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


# -- 12: integers are parsed exactly ---------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("9007199254740993", 2**53 + 1), ("99999999999999999999", 99999999999999999999),
    (" 7 ", 7), ("1e3", 1000), ("5.0", 5), ("9007199254740993.0", 2**53 + 1)])
def test_integers_from_text_are_exact(text: str, value: int) -> None:
    got = integer("n", text, low=0)
    assert got == value and type(got) is int


@pytest.mark.parametrize("text", ["1.5", "nan", "inf", "-inf", "abc", "", "1e-3",
                                  "9007199254740993.5"])
def test_non_integers_from_text_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="must be an integer"):
        integer("n", text, low=0)


def test_a_seed_above_2_to_the_53_runs_and_is_kept_exactly() -> None:
    seed = 2**53 + 1
    result = ok(["run", *SMALL, "--reps", "3", "--seed", str(seed)])
    assert result.output.splitlines()[1].split()[:2] == ["LCC", "3"]
    summary = pssim.run("LCC", workers=4, load=2, reps=3, seed=str(seed))
    assert summary["seed"].tolist() == [seed] * 3
    # 2^53 + 1 and 2^53 are different seeds: their draws differ.
    other = pssim.run("LCC", workers=4, load=2, reps=3, seed=2**53)
    assert (summary["completion_time"] != other["completion_time"]).all()


def test_a_seed_the_summary_cannot_hold_is_refused_in_one_line() -> None:
    one_line_error(["run", *SMALL, "--seed", str(2**63)], "seed", str(2**63),
                   "9223372036854775807")
    one_line_error(["run", *SMALL, "--seed", "-1"], "seed", "-1")


def test_a_huge_iteration_count_is_refused_by_its_size_naming_iterations() -> None:
    line = one_line_error(["run", *SMALL, "--iterations", "99999999999999999999"],
                          "iterations", "99999999999999999999", "GiB")
    assert "must be an integer" not in line
    one_line_error(["run", "--iterations", "1000000000"], "iterations=1000000000", "GiB")


# -- 1: the analytic engine refuses what it does not model --------------------------------


def test_the_analytic_engine_refuses_training_run_options_in_one_line() -> None:
    line = one_line_error(["run", *SMALL, "--engine", "analytic", "--iterations", "50",
                           "--late-policy", "drain", "--downlink-bandwidth", "1e5",
                           "--model-size", "1e5", "--decode-time", "1"],
                          "engine", "analytic", "iterations=50", "late_policy=drain",
                          "downlink_bandwidth=100000", "model_size=100000", "decode_time=1")
    assert "des" in line


@pytest.mark.parametrize(("option", "value"), [
    ("iterations", "2"), ("late_policy", "drain"), ("cancel_transfers", "abort"),
    ("downlink", "unicast"), ("downlink_bandwidth", "1e9"), ("model_size", "10"),
    ("decode_time", "0.5"), ("master_flops", "1e6")])
def test_the_analytic_engine_refuses_each_option_it_does_not_model(option: str,
                                                                   value: str) -> None:
    # A finite downlink needs the model's size: given beside it, and refused as well.
    options = {option: value, **({"model_size": "10"} if option == "downlink_bandwidth"
                                 else {})}
    args = [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", v)]
    one_line_error(["run", *SMALL, "--engine", "analytic", *args], "engine", option)
    with pytest.raises(ConfigError, match=option) as err:
        pssim.analyze("LCC", 4, 2, **options)
    assert err.value.parameter == "engine"


def test_the_analytic_engine_notes_what_has_no_effect_and_still_computes() -> None:
    result = ok(["run", *SMALL, "--engine", "analytic", "--reps", "50", "--seed", "3"])
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "--reps 50, --seed 3 have no effect" in notes[0]
    # A Config written for a simulation is analyzed as it is, in Python, without a note.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        pssim.analyze(pssim.Config(scheme="LCC", workers=4, load=2, reps=50, seed=3))
    table, _ = pssim.analyze("LCC", 4, 2)
    mean = float(table["mean_completion_time"].iloc[0])
    row = next(line for line in result.output.splitlines() if line.startswith("LCC"))
    assert float(row.split()[1]) == pytest.approx(mean, abs=5e-7)


# -- 22: brackets in the help ----------------------------------------------------------------


def wide_help(*command: str) -> str:
    result = RUNNER.invoke(app, [*command, "--help"], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_help_keeps_table_names_and_defaults_in_brackets() -> None:
    run = wide_help("run")
    assert "TOML file with a [stragglers] table (the straggler model" in run
    assert "Number of workers N. [default: 40]" in run
    assert "[default: inf]" in run
    assert "in the [stragglers] format" in wide_help("fit")


@pytest.mark.parametrize("command", ["run", "train", "sample", "scenario", "report", "sweep",
                                     "fit"])
def test_every_bracket_of_every_help_text_is_shown(command: str) -> None:
    import typer

    group: Any = typer.main.get_command(app)
    shown = " ".join(wide_help(command).split())
    for param in group.commands[command].params:
        # The help as written, without the escapes that keep its brackets from Rich.
        text = " ".join((getattr(param, "help", None) or "").replace("\\[", "[").split())
        assert text in shown, param.name


# -- 16: a baseline, paired on common realizations ---------------------------------------

#: Student-t 97.5% quantiles by degrees of freedom (tables; scipy gives the same).
T975 = {4: 2.7764451051977987, 5: 2.5705818366147395}


def hand_ratio(a: np.ndarray, b: np.ndarray, t: float) -> tuple[float, float, float]:
    """The geometric mean of a/b and its interval, by hand: exp(mean ± t·sd/√n) of the
    log ratios."""
    logs = [math.log(x / y) for x, y in zip(a, b, strict=True)]
    n = len(logs)
    mean = sum(logs) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in logs) / (n - 1))
    half = t * sd / math.sqrt(n)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def row_of(output: str, scheme: str) -> list[str]:
    return next(line for line in output.splitlines() if line.startswith(scheme + " ")).split()


def test_the_baseline_ratio_is_the_paired_interval_of_the_log_ratios() -> None:
    summary = pssim.run("LCC,UC-MMC", workers=4, load=2, reps=5, seed=1)
    lcc = summary[summary["scheme"] == "LCC"].sort_values("rep")["completion_time"]
    uc = summary[summary["scheme"] == "UC-MMC"].sort_values("rep")["completion_time"]
    ratio, low, high = hand_ratio(lcc.to_numpy(), uc.to_numpy(), T975[4])
    # Pairing goes by rep, not by row order.
    shuffled = summary.sample(frac=1.0, random_state=0)
    table = paired_ratio(shuffled, "UC-MMC").set_index("scheme")
    assert table.loc["LCC", "pairs"] == 5
    assert table.loc["LCC", "ratio"] == pytest.approx(ratio, rel=1e-12)
    assert table.loc["LCC", "ci_low"] == pytest.approx(low, rel=1e-12)
    assert table.loc["LCC", "ci_high"] == pytest.approx(high, rel=1e-12)
    assert (table.loc["UC-MMC", ["ratio", "ci_low", "ci_high"]] == 1.0).all()
    # The reverse comparison is the reciprocal, interval and all.
    back = paired_ratio(summary, "LCC").set_index("scheme").loc["UC-MMC"]
    assert back["ratio"] == pytest.approx(1 / ratio, rel=1e-12)
    assert back["ci_low"] == pytest.approx(1 / high, rel=1e-12)
    result = ok(["run", "--scheme", "LCC,UC-MMC", "--workers", "4", "--load", "2", "--reps",
                 "5", "--seed", "1", "--baseline", "UC-MMC"])
    assert row_of(result.output, "LCC")[-3:] == [f"{ratio:.4f}", f"[{low:.4f},",
                                                 f"{high:.4f}]"]
    assert row_of(result.output, "UC-MMC")[-3:] == ["1.0000", "[1.0000,", "1.0000]"]
    assert "geometric mean of the per-realization ratios" in result.output


def test_the_baseline_of_a_training_run_compares_total_times() -> None:
    options = {"workers": 4, "load": 2, "reps": 6, "seed": 2, "iterations": 3}
    summary = pssim.run("GC,UC-MMC", **options)
    last = summary[summary["iteration"] == 2].sort_values(["scheme", "rep"])
    gc = last[last["scheme"] == "GC"]["end"].to_numpy()
    uc = last[last["scheme"] == "UC-MMC"]["end"].to_numpy()
    ratio, low, high = hand_ratio(gc, uc, T975[5])
    result = ok(["run", "--scheme", "GC,UC-MMC", "--baseline", "uc-mmc",
                 *(a for k, v in options.items() for a in (f"--{k}", str(v)))])
    assert row_of(result.output, "GC")[-3:] == [f"{ratio:.4f}", f"[{low:.4f},",
                                                f"{high:.4f}]"]
    assert "each scheme's training time over UC-MMC's" in result.output


def test_a_baseline_is_a_scheme_of_the_run_by_any_of_its_names() -> None:
    result = ok(["run", "--scheme", "LCC,GC", "--workers", "8", "--load", "4", "--reps",
                 "3", "--baseline", "LCC(4)"])
    assert "over LCC's" in result.output and row_of(result.output, "LCC")[-3] == "1.0000"


def test_a_bad_baseline_is_refused_before_simulating(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be simulated")

    monkeypatch.setattr(pssim.api, "simulate", refuse)
    one_line_error(["run", *SMALL, "--baseline", "GC"], "baseline", "GC", "LCC")
    one_line_error(["run", *SMALL, "--baseline", "all"], "baseline", "all")
    one_line_error(["run", *SMALL, "--baseline", "FOO"], "baseline", "FOO")
    one_line_error(["run", *SMALL, "--engine", "analytic", "--baseline", "LCC"], "baseline",
                   "analytic")


def test_paired_margin_works_without_by() -> None:
    data = pd.DataFrame({"scheme": ["A"] * 3 + ["B"] * 3, "rep": [0, 1, 2] * 2,
                         "completion_time": [1.0, 2.0, 3.0, 2.0, 3.0, 4.5]})
    whole = paired_margin(data)
    grouped = paired_margin(data.assign(load=2), "load").drop(columns="load")
    pd.testing.assert_frame_equal(whole, grouped)
    assert (whole.loc[0, "best"], whole.loc[0, "pairs"]) == ("A", 3)
    assert whole.loc[0, "mean_difference"] == pytest.approx(7 / 6)


# -- 17: every output states its assumptions ---------------------------------------------


def test_the_assumptions_name_the_defaults() -> None:
    text = describe(Config())
    assert text == ("compute: the paper's model (one duration alpha + Exp(mu) per worker "
                    "and iteration), mu = 10, alpha = 0.01, by default; network: none (the "
                    "paper's: a message reaches the master when it is ready), by default; "
                    "one iteration (the paper's)")
    assert "mu = 5, alpha = 0.01 (default);" in describe(Config(mu=5))
    fifo = describe(Config(network="fifo", message_size="4MB", master_bandwidth="1GB/s"))
    assert ("network: fifo, messages of 4e+06 B, uplinks ∞ B/s (default), master link "
            "1e+09 B/s, latency 0 s (default);") in fifo
    training = describe(Config(iterations=50, late_policy="drain", cancel_transfers="abort"))
    assert "50 iterations: a worker's late work is drained" in training
    assert "(late_policy = drain)" in training and "are aborted" in training
    gamma = describe(Config(family="gamma", shape=2, rate=20, markov="0.05:0.3:4"))
    assert gamma.startswith("compute: gamma family, shape = 2, rate = 20, alpha = 0.01 "
                            "(default), per iteration (default), slowed by markov (p_slow = "
                            "0.05, p_recover = 0.3, factor = 4);")
    assert "explicit durations from t.csv" in describe(Config(compute_times="t.csv"))
    varied = describe(Config(network="fifo", message_size=1), {"master_bandwidth", "load",
                                                               "scheme"})
    assert "(varied over the points: master_bandwidth)" in varied
    assert varied.endswith("; varied over the points: load")


def test_run_and_the_analytic_engine_end_with_their_assumptions() -> None:
    args = [*SMALL, "--reps", "3", "--network", "fifo", "--message-size", "10",
            "--iterations", "2"]
    result = ok(["run", *args])
    config = pssim.Config(scheme="LCC", workers=4, load=2, reps=3, network="fifo",
                          message_size=10, iterations=2)
    assert result.output.splitlines()[-1] == f"assumptions: {describe(config)}"
    analytic = ok(["run", *SMALL, "--engine", "analytic"])
    assert analytic.output.splitlines()[-1] == (
        f"assumptions: {describe(pssim.Config(scheme='LCC', workers=4, load=2))}")


def test_train_says_its_times_are_medians_and_shows_their_spread() -> None:
    from pssim.analysis.convergence import reaching
    from pssim.learning import Problem, train

    args = ["train", "--scheme", "GC", "--workers", "4", "--load", "2", "--synthetic",
            "80,3", "--iterations", "6", "--reps", "10"]
    result = ok(args)
    config = pssim.Config(scheme="GC", workers=4, load=2, iterations=6, reps=10)
    learned = train(config, Problem.synthetic(80, 3))
    times = reaching(learned.summary, 1.01 * learned.optimal_loss)["time_to_target"]
    assert times.notna().all()
    header = result.output.splitlines()[1]
    assert "median time (s)" in header and "10%–90% (s)" in header
    row = row_of(result.output, "GC")
    assert row[2] == f"{times.median():.4g}"
    assert row[3:5] == [f"[{times.quantile(0.1):.4g},", f"{times.quantile(0.9):.4g}]"]
    assert "medians over the realizations" in result.output
    assert result.output.splitlines()[-1] == f"assumptions: {describe(config)}"


def test_the_report_states_each_scenario_s_assumptions(tmp_path: Path) -> None:
    from pssim.scenarios.common import load
    from pssim.scenarios.report import MAIN, write_report

    text = write_report(tmp_path, dict.fromkeys(MAIN, 0.0), reps=1).read_text()
    for name in MAIN:
        scenario = load(name)
        line = f"Assumptions: {describe(Config(**scenario.base), scenario.varied())}."
        section = text.split(f"## {name}\n")[1].split("\n## ")[0]
        assert line in section, name
    assert "Assumptions: compute: the paper's model" in text


# -- Low: extreme values, samples no run could replay ---------------------------------------


def test_extreme_values_print_in_significant_digits() -> None:
    result = ok(["run", *SMALL, "--reps", "3", "--alpha", "1e300"])
    row = row_of(result.output, "LCC")
    assert float(row[2]) == pytest.approx(2e300, rel=1e-6)
    assert max(len(token) for token in row) < 15
    small = ok(["run", *SMALL, "--reps", "3", "--alpha", "0", "--mu", "1e9"])
    assert float(row_of(small.output, "LCC")[2]) > 0  # not 0.000000


def test_a_sample_that_no_run_could_replay_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    one_line_error(["sample", "--workers", "4", "--load", "500", "--out", str(out)], "load",
                   "500", "workers=4")
    assert not out.exists()


def test_the_readme_shows_the_assumptions_line_as_run_prints_it() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    shown = re.findall(r"^assumptions: .*$", readme, flags=re.M)
    result = ok(["run", "--reps", "2"])
    assert shown == [result.output.splitlines()[-1]]
