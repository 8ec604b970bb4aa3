"""Transfer evaluation back end (SPEC section 6, paper section 4.4), independent of the network.

* :mod:`.probes` — MLP probes for classification (accuracy) and regression (R²), R6.2, and
  one-vs-rest for multi-label tagging (ROC-AUC, PR-AUC).
* :mod:`.recommend` — cold-start recommendation, R6.3: the content-aware weighted matrix
  factorisation of Eq. 7 (:mod:`.recommend.als`), the splits, nDCG@500 and the protocol with an
  ``implicit`` ALS reference row (:mod:`.recommend.splits`, :mod:`.recommend.ndcg`,
  :mod:`.recommend.protocol`).
* :mod:`.baselines` — the 120-d MFCC baseline and user-supplied embeddings, R6.5.
* :mod:`.results` — the tidy results table, R6.6.

The modules import scikit-learn, librosa and implicit only inside the functions that need them.
"""

from mtl_music.evaluation.baselines import MFCC_DIM, external_features, mfcc_features, mfcc_for_paths
from mtl_music.evaluation.probes import (
    TASK_SCORES,
    ProbeResult,
    probe_fit,
    run_probe_details,
)
from mtl_music.evaluation.recommend import (
    ContentWMF,
    RecommendationSplit,
    WMFSettings,
    cold_start_factors,
    cold_start_split,
    evaluate_recommendation,
    filter_plays,
    fit_content_wmf,
    implicit_warm_reference,
    ndcg_per_user,
    warm_holdout_split,
)
from mtl_music.evaluation.results import COLUMNS, ResultsTable, join_sources

__all__ = [
    "COLUMNS",
    "ContentWMF",
    "MFCC_DIM",
    "ProbeResult",
    "RecommendationSplit",
    "ResultsTable",
    "TASK_SCORES",
    "WMFSettings",
    "cold_start_factors",
    "cold_start_split",
    "evaluate_recommendation",
    "external_features",
    "filter_plays",
    "fit_content_wmf",
    "implicit_warm_reference",
    "join_sources",
    "mfcc_features",
    "mfcc_for_paths",
    "ndcg_per_user",
    "probe_fit",
    "run_probe_details",
    "warm_holdout_split",
]
