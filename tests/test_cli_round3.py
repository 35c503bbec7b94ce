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
