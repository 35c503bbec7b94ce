"""Straggler models fitted to a measured trace of durations (docs/fitting.md).

A trace is a long-form table: ``worker``, ``duration`` (seconds), ``rep`` and/or
``iteration``, optionally ``computation``. :func:`fit_trace` fits the four shifted
families of the ``[stragglers]`` format by maximum likelihood, measures how slowness
persists and how much of it the cluster shares, and picks a model; :func:`write_report`
writes the tables, the model as TOML and the figures.

The modules, by concern: :mod:`~pssim.analysis.fits.trace` reads and checks a trace,
:mod:`~pssim.analysis.fits.families` holds the families' estimators,
:mod:`~pssim.analysis.fits.persistence` the statistics of persistence and of the common
factor, :mod:`~pssim.analysis.fits.groups` the test for groups of workers that slow
together, and :mod:`~pssim.analysis.fits.report` the report, its files and its figures.
"""

from pssim.analysis.fits.families import (
    FAMILIES,
    FIT_COLUMNS,
    PARAMETERS,
    chosen_family,
    fit_families,
    fit_family,
    frozen,
)
from pssim.analysis.fits.groups import GroupsFit, fit_groups
from pssim.analysis.fits.persistence import (
    DEFAULT_THRESHOLD,
    SIGNIFICANT_Z,
    Persistence,
    common_factor_share,
    persistence,
)
from pssim.analysis.fits.report import (
    FitReport,
    fit_trace,
    plot_duration_ecdf,
    plot_worker_heatmap,
    save_figure,
    write_report,
)
from pssim.analysis.fits.trace import (
    ALIASES,
    COLUMNS,
    TRACE_SUFFIXES,
    check_trace,
    parse_columns,
    read_table,
    read_trace,
)

__all__ = ["ALIASES", "COLUMNS", "DEFAULT_THRESHOLD", "FAMILIES", "FIT_COLUMNS", "PARAMETERS",
           "SIGNIFICANT_Z", "TRACE_SUFFIXES", "FitReport", "GroupsFit", "Persistence",
           "check_trace", "chosen_family", "common_factor_share", "fit_families", "fit_family",
           "fit_groups", "fit_trace", "frozen", "parse_columns", "persistence",
           "plot_duration_ecdf", "plot_worker_heatmap", "read_table", "read_trace",
           "save_figure", "write_report"]
