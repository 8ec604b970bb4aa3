"""Statistical analysis of a sweep (paper Sect. 5, SPEC R7.3).

* :mod:`~mtl_music.analysis.collect` — every run's ``transfer.csv`` into one frame per (run, target);
* :mod:`~mtl_music.analysis.mixed_models` — standardization, the mixed models of Eq. 10–16 and
  their fits;
* :mod:`~mtl_music.analysis.bootstrap` — bootstrap refits of the fixed effects (within target);
* :mod:`~mtl_music.analysis.summaries` — fixed-effect tables, pairwise comparisons, contrasts,
  strategy means, variance components (Table 6);
* :mod:`~mtl_music.analysis.figures` — Figs. 7–16 as PNG files;
* :mod:`~mtl_music.analysis.report` — ``report.md``, the CSV tables and the findings;
* :mod:`~mtl_music.analysis.leaderboard` — many ``transfer.csv`` side by side (the ``compare`` app):
  Student-t summaries, the leaderboard, the robustness table.

The apps are ``python -m mtl_music.analyze runs=<sweep folder>`` and
``python -m mtl_music.compare results=[<file or folder>, ...]``.
"""

from mtl_music.analysis.bootstrap import Bootstrap, bootstrap_fixed_effects
from mtl_music.analysis.collect import Collected, collect_runs
from mtl_music.analysis.mixed_models import NETWORK_SIZE, ModelFit, fit_size_model, fit_strategy_model, standardize_scores
from mtl_music.analysis.summaries import fixed_effects_table, pairwise_comparisons, variance_components
from mtl_music.analysis.report import Analysis, Finding, assess_findings, write_report

__all__ = [
    "NETWORK_SIZE", "Collected", "collect_runs", "Bootstrap", "ModelFit",
    "bootstrap_fixed_effects", "fit_size_model", "fit_strategy_model", "fixed_effects_table",
    "pairwise_comparisons", "standardize_scores", "variance_components", "Analysis", "Finding",
    "assess_findings", "write_report",
]
