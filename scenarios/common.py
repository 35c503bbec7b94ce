"""What every scenario shares: its output folder, its command line, its registry entry."""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pssim.errors import ConfigError, integer, writable_folder

#: The network of the bottleneck studies: a realistic gradient (10^6 float32 parameters,
#: 4 MB per message), 10 Gbps uplinks (1.25e9 bytes/s) and 50 µs of latency.
GRADIENT_NETWORK: dict[str, float] = {"message_size": 4e6, "uplink_bandwidth": 1.25e9,
                                      "latency": 50e-6}


def bandwidths(low: int, high: int, points: int) -> list[float]:
    """Log-spaced bandwidths from 10^low to 10^high bytes/s, rounded to 3 significant
    figures so that axis ticks and tables read cleanly."""
    return [float(f"{b:.3g}") for b in np.logspace(low, high, points)]


#: Scenario modules, in the order ``--list`` shows them and ``make run`` runs them.
NAMES = ("paper_fig1", "paper_fig2", "bottleneck_bandwidth", "best_scheme_map", "timeline")


@dataclass
class Output:
    """A scenario's output folder: data as Parquet, each figure as PNG (and SVG on request)
    with a CSV of the numbers drawn, and the resolved configuration as JSON."""

    folder: Path
    formats: tuple[str, ...] = ("png",)
    written: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        writable_folder("out", self.folder)

    def data(self, frame: pd.DataFrame, name: str) -> Path:
        return self._keep(self.folder / f"{name}.parquet", frame.to_parquet, index=False)

    def table(self, frame: pd.DataFrame, name: str) -> Path:
        return self._keep(self.folder / f"{name}.csv", frame.to_csv, index=False)

    def figure(self, fig: Any, name: str, numbers: pd.DataFrame) -> list[Path]:
        """Save a figure beside the CSV of the numbers behind it."""
        from pssim.analysis.plots import save

        paths = save(fig, self.folder / name, self.formats)
        self.written.extend(paths)
        self.table(numbers, name)
        return paths

    def config(self, config: dict[str, Any]) -> Path:
        text = json.dumps(config, indent=2, sort_keys=True, default=_plain)
        return self._keep(self.folder / "config.json", lambda p: Path(p).write_text(text))

    def _keep(self, path: Path, write: Callable[..., Any], **kwargs: Any) -> Path:
        write(path, **kwargs)
        self.written.append(path)
        return path


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return str(value)


def check_run_options(reps: int, seed: int) -> tuple[int, int]:
    return integer("reps", reps, low=1), integer("seed", seed, low=0)


def load(name: str) -> Any:
    """The scenario module ``name``, or a ConfigError naming the known ones."""
    if name not in NAMES:
        raise ConfigError("scenario", name, f"must be one of {', '.join(NAMES)}")
    return importlib.import_module(f"pssim.scenarios.{name}")


def execute(name: str, reps: int | None, seed: int, out: Path | None, svg: bool,
            progress: bool | None) -> Output:
    """Run scenario ``name`` into ``out`` (default ``results/NAME``)."""
    module = load(name)
    reps, seed = check_run_options(module.DEFAULT_REPS if reps is None else reps, seed)
    output = Output(Path("results") / name if out is None else out,
                    ("png", "svg") if svg else ("png",))
    module.run(reps=reps, seed=seed, output=output,
               progress=sys.stderr.isatty() if progress is None else progress)
    return output
