"""Statistical analysis of a sweep (paper Sect. 5, SPEC R7.3).

* :mod:`~mtl_music.analysis.collect` — every run's ``transfer.csv`` into one frame per (run, target);
* :mod:`~mtl_music.analysis.models` — standardisation, the mixed models of Eq. 10–16, bootstrap
  intervals, pairwise comparisons, variance components (Table 6);
* :mod:`~mtl_music.analysis.figures` — Figs. 7–16 as PNG files;
* :mod:`~mtl_music.analysis.report` — ``report.md``, the CSV tables and the findings.

The app is ``python -m mtl_music.analyze runs=<sweep folder>``.
"""

from mtl_music.analysis.collect import Collected, collect_runs
from mtl_music.analysis.models import (
    NETWORK_SIZE,
    Bootstrap,
    ModelFit,
    bootstrap_fixed_effects,
    fit_size_model,
    fit_strategy_model,
    fixed_effects_table,
    pairwise_comparisons,
    standardise_scores,
    variance_components,
)
from mtl_music.analysis.report import Analysis, Finding, assess_findings, write_report

__all__ = [
    "NETWORK_SIZE", "Collected", "collect_runs", "Bootstrap", "ModelFit",
    "bootstrap_fixed_effects", "fit_size_model", "fit_strategy_model", "fixed_effects_table",
    "pairwise_comparisons", "standardise_scores", "variance_components", "Analysis", "Finding",
    "assess_findings", "write_report",
]
