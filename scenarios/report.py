"""The main job: run the paper's figures and the bottleneck studies at full size into one
folder and write REPORT.md, which shows every figure and the claims table.

    pssim report [--out results] [--reps R] [--seed S] [--gallery docs/gallery]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pssim import provenance
from pssim.assumptions import describe
from pssim.config import Config
from pssim.files import write_atomically
from pssim.scenarios.common import execute, load

#: The scenarios of the report, in its order.
MAIN = ("paper_fig1", "paper_fig2", "bottleneck_bandwidth", "best_scheme_map", "training",
        "stragglers", "convergence", "async")


#: The tables a section shows when its scenario wrote them: (file, heading, what it says).
TABLES = (
    ("load.csv", "Communication load: messages used against transmissions begun",
     "Under a bottleneck the load on the network is `messages_sent`, the transmissions "
     "begun by T (each occupies the links); `messages` counts those received by T, which "
     "the master used."),
    ("time_to_target.csv", "Time to the target loss",
     "Per scheme and network, for targets 1% and 10⁻⁵ above the optimal loss (`within`): "
     "the share of realizations that reach it, the median time and iterations to get "
     "there, the median final loss, the median and worst gradient error and the worst "
     "condition number."),
    ("decode_error.csv", "Decode error and condition number per N",
     "Relative error ‖Ĝ − G‖/‖G‖ of one decode at w = 0, over realizations of which "
     "messages arrive first."),
    ("best.csv", "Each method at its best K or r",
     "Per network, each synchronous scheme at the r of 1, 4 and 8 and each server policy "
     "(on UC-MMC, r = 1; k-batch-sync r = 4) at the K that reaches the target soonest "
     "(median over realizations; a scheme's r likewise): the share of "
     "realizations that reach an excess loss of 10⁻⁶ of the initial one, the mean time per "
     "update, the median time (with its 10%–90% spread) and updates to the target, and the "
     "median excess loss after the last update (a share of the initial excess)."),
    ("tradeoff.csv", "The error–runtime trade-off as K varies",
     "The same columns for every K and r (K −1 for a synchronous scheme): a smaller K makes "
     "updates faster and their partial (and, for the asynchronous policies, stale) "
     "gradients less accurate."),
    ("claims.csv", "The paper's Section V claims against the measured values", ""),
)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``frame``."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.{digits}g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_report(out: Path, seconds: dict[str, float], reps: int | None) -> Path:
    stamp = provenance.stamp()
    commit = f", commit {stamp['git_commit']}" if stamp["git_commit"] else ""
    parts = ["# pssim report", "",
             f"pssim {stamp['pssim_version']}{commit}, {stamp['date']}.", "",
             "Produced by `make run` (`pssim report`). Each section's folder "
             "holds its data (Parquet), the numbers behind each figure (CSV) and its resolved "
             "configuration (config.json).", ""]
    for name in MAIN:
        folder = out / name
        scenario = load(name)
        size = scenario.default_reps if reps is None else reps
        parts += [f"## {name}", "", scenario.description + ".", "",
                  f"Realizations per point: {size}; run time {seconds[name]:.1f} s.", "",
                  f"Assumptions: {describe(Config(**scenario.base), scenario.varied())}.",
                  ""]
        finding = folder / "finding.txt"
        if finding.exists():
            parts += ["**Finding.** " + finding.read_text().strip(), ""]
        parts += [f"![{png.stem}]({name}/{png.name})" for png in sorted(folder.glob("*.png"))]
        parts.append("")
        for table, heading, text in TABLES:
            if (folder / table).exists():
                parts += [f"### {heading}", "", *([text, ""] if text else []),
                          markdown_table(pd.read_csv(folder / table)), ""]
    path = out / "REPORT.md"
    text = "\n".join(parts)
    write_atomically(path, lambda p: p.write_text(text))
    return path


def thumbnail(png: Path, target: Path) -> Path:
    """A copy of ``png`` at half its size, written to a temporary name and renamed."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    write_atomically(target, lambda path: small.save(path, format="PNG"))
    return target


def gallery(out: Path, folder: Path) -> None:
    """Small copies of the report's figures, for the README."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in MAIN:
        for png in sorted((out / name).glob("*.png")):
            thumbnail(png, folder / png.name)


def make_report(out: Path, reps: int | None = None, seed: int = 0,
                gallery_dir: Path | None = None, progress: bool | None = None,
                say: Callable[[str], Any] = print, **options: Any) -> Path:
    """Run the report's scenarios into ``out`` and write REPORT.md; ``say`` names each
    scenario as it starts and gives its time as it finishes, while its progress bar (on
    stderr, when ``progress``) is named after it too; ``options`` go to each scenario's run
    (``executor``, say)."""
    seconds = {}
    for i, name in enumerate(MAIN, start=1):
        size = load(name).default_reps if reps is None else reps
        say(f"[{i}/{len(MAIN)}] {name} ({size} realizations per point)")
        start = time.perf_counter()
        execute(name, reps, seed, out / name, svg=False, progress=progress, **options)
        seconds[name] = time.perf_counter() - start
        say(f"{name}: done in {seconds[name]:.1f} s")
    path = write_report(out, seconds, reps)
    if gallery_dir is not None:
        gallery(out, gallery_dir)
    return path
