"""The command line, the engines' option checks, baselines and stated assumptions: a run
says what it modelled and refuses what it cannot model."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

import pssim
from pssim import ConfigError
from pssim.cli import app
from pssim.errors import integer

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
    assert len(notes) == 1 and "reps=50" in notes[0] and "seed=3" in notes[0]
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
