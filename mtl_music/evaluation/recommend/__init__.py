"""Cold-start recommendation (R6.3, Eq. 7).

* :mod:`.als` — the content-aware weighted matrix factorisation of Eq. 7: settings, the ALS fit,
  cold-start factors ``v = x W``;
* :mod:`.splits` — filtering the play matrix, the cold-start (held-out tracks) and warm (held-out
  interactions) splits;
* :mod:`.ndcg` — nDCG@k per user and over users;
* :mod:`.protocol` — the repeated cold-start evaluation and the ``implicit`` warm reference row;
* :mod:`.inputs` — validation of play matrices and feature arrays.
"""

from mtl_music.evaluation.recommend.als import (
    ContentWMF,
    WMFSettings,
    cold_start_factors,
    fit_content_wmf,
    solve_factors,
    wmf_objective,
)
from mtl_music.evaluation.recommend.ndcg import ndcg_per_user
from mtl_music.evaluation.recommend.protocol import evaluate_recommendation, implicit_warm_reference
from mtl_music.evaluation.recommend.splits import (
    RecommendationSplit,
    cold_start_split,
    filter_plays,
    warm_holdout_split,
)

__all__ = [
    "ContentWMF",
    "RecommendationSplit",
    "WMFSettings",
    "cold_start_factors",
    "cold_start_split",
    "evaluate_recommendation",
    "filter_plays",
    "fit_content_wmf",
    "implicit_warm_reference",
    "ndcg_per_user",
    "solve_factors",
    "warm_holdout_split",
    "wmf_objective",
]
