"""Analysis of simulation results: closed forms, summaries, derived tables and figures.

The public functions are importable from here (``from pssim.analysis import ecdf``). They are
loaded on first use, so that importing the simulator, which needs only the closed forms,
pulls in neither matplotlib nor seaborn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pssim.analysis.convergence import (
        convergence_table,
        loss_curves,
        plot_loss_curves,
        reaching,
    )
    from pssim.analysis.fits import (
        common_factor_share,
        fit_families,
        fit_trace,
        plot_duration_ecdf,
        plot_worker_heatmap,
        read_trace,
        write_report,
    )

    # The function, not the package's submodule of the same name.
    from pssim.analysis.fits.persistence import persistence
    from pssim.analysis.frames import (
        best_by_group,
        busy_time,
        computations,
        ecdf,
        finished_work_time,
        link_utilization,
        load_results,
        load_sweep,
        merge_identical,
        messages_in_flight,
        paired_margin,
        pareto_frontier,
        transmissions,
    )
    from pssim.analysis.plots import (
        plot_best_heatmap,
        plot_cdf,
        plot_ecdf,
        plot_frontier,
        plot_metric_vs,
        plot_timeline,
        save,
    )
    from pssim.analysis.summary import paired_ratio, summarize
    from pssim.analysis.training import (
        iteration_times,
        plot_training_progress,
        training_progress,
        training_totals,
    )

_FITS = ("common_factor_share", "fit_families", "fit_trace", "persistence",
         "plot_duration_ecdf", "plot_worker_heatmap", "read_trace", "write_report")
_FRAMES = ("best_by_group", "busy_time", "computations", "ecdf", "finished_work_time",
           "link_utilization", "load_results", "load_sweep", "merge_identical",
           "messages_in_flight", "paired_margin", "pareto_frontier", "transmissions")
_PLOTS = ("plot_best_heatmap", "plot_cdf", "plot_ecdf", "plot_frontier", "plot_metric_vs",
          "plot_timeline", "save")
_TRAINING = ("iteration_times", "plot_training_progress", "training_progress",
             "training_totals")
_CONVERGENCE = ("convergence_table", "loss_curves", "plot_loss_curves", "reaching")
_HOME = {**dict.fromkeys(_FITS, "pssim.analysis.fits"),
         **dict.fromkeys(_FRAMES, "pssim.analysis.frames"),
         **dict.fromkeys(_CONVERGENCE, "pssim.analysis.convergence"),
         **dict.fromkeys(_PLOTS, "pssim.analysis.plots"),
         **dict.fromkeys(_TRAINING, "pssim.analysis.training"),
         "paired_ratio": "pssim.analysis.summary", "summarize": "pssim.analysis.summary"}

__all__ = [
    "best_by_group",
    "busy_time",
    "common_factor_share",
    "computations",
    "convergence_table",
    "ecdf",
    "finished_work_time",
    "fit_families",
    "fit_trace",
    "iteration_times",
    "link_utilization",
    "load_results",
    "load_sweep",
    "loss_curves",
    "merge_identical",
    "messages_in_flight",
    "paired_margin",
    "paired_ratio",
    "pareto_frontier",
    "persistence",
    "plot_best_heatmap",
    "plot_cdf",
    "plot_duration_ecdf",
    "plot_ecdf",
    "plot_frontier",
    "plot_loss_curves",
    "plot_metric_vs",
    "plot_timeline",
    "plot_training_progress",
    "plot_worker_heatmap",
    "reaching",
    "read_trace",
    "save",
    "summarize",
    "training_progress",
    "training_totals",
    "transmissions",
    "write_report",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'pssim.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
