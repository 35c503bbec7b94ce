"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


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
