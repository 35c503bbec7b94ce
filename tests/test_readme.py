"""The README's Python examples run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest

from pssim.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    summary = namespace["summary"]
    assert isinstance(summary, pd.DataFrame)
    assert set(summary["scheme"]) == {"GC", "LCC", "LCC-MMC", "LCC-MMC-2", "UC-MMC",
                                      "UC-MMC-PG"}
    assert namespace["res"].trace["event"].iloc[-1] == "complete"


def test_readme_command_lines_run(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `pssim run` line of the README, run from the project folder as written, with
    fewer realizations where it asks for many and without the files it would write."""
    monkeypatch.chdir(ROOT)
    text = README.read_text().replace("\\\n", " ")
    # Runs of files that other lines make (fit/model.toml) are the next test's.
    lines = [line for line in re.findall(r"^\.venv/bin/pssim (run .*)$", text, flags=re.M)
             if "fit/" not in line]
    assert any("--compute-times examples/durations.csv" in line for line in lines)
    for line in lines:
        args = shlex.split(line.split("#")[0])
        if "--reps" in args:
            args[args.index("--reps") + 1] = "20"
        args = [a for a in args if (not a.startswith(("--out", "--trace"))
                and not a.endswith((".parquet", ".csv"))) or "durations" in a]
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0, (line, capsys.readouterr().err)


def test_readme_sample_fit_run_round_trip(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's sample → fit → run lines, in order, in a fresh folder: the model that
    fit writes runs, and its family is the sampled one's."""
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "stragglers.toml").write_bytes(
        (ROOT / "examples" / "stragglers.toml").read_bytes())
    monkeypatch.chdir(tmp_path)
    text = README.read_text().replace("\\\n", " ")
    lines = re.findall(r"^\.venv/bin/pssim ((?:sample|fit|run --stragglers fit/).*)$", text,
                       flags=re.M)
    assert [line.split()[0] for line in lines] == ["sample", "fit", "run"]
    for line in lines:
        args = shlex.split(line.split("#")[0])
        if "--reps" in args:
            args[args.index("--reps") + 1] = "20"
        with pytest.raises(SystemExit) as done:
            main(args)
        assert done.value.code == 0, (line, capsys.readouterr().err)
    # The sampled model is gamma with Markov slowdowns: the fit finds both.
    model = (tmp_path / "fit" / "model.toml").read_text()
    assert 'family = "gamma"' in model and "markov = {" in model
