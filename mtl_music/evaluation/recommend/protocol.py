"""The cold-start evaluation protocol of R6.3: repeated held-out-track splits, Eq. 7 fitted on the
training tracks (:mod:`.als`), held-out tracks ranked per user and scored by nDCG@k (:mod:`.ndcg`).

Decisions the paper leaves open (all documented in the API):

* The cold-start protocol holds out a random ``test_fraction`` of the *tracks* (columns) and ranks,
  per user, the held-out tracks only (``candidates="held_out"``); ``candidates="all"`` ranks all
  tracks with the user's training tracks removed, the paper's wording ("predicting user preference
  scores based on all tracks, including those that were held out"). A user with no held-out
  track they played is skipped, as is a user left with no training interaction (no user model).
* :func:`implicit_warm_reference` is the reference row: plain implicit-feedback ALS from the
  ``implicit`` package on the same training matrix, evaluated on *warm* held-out interactions.
  It answers "what does a recommender without audio reach on tracks it has seen"; it is not
  comparable like-for-like with the cold-start numbers (different held-out set, easier task).
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.recommend.als import WMFSettings, cold_start_factors, fit_content_wmf
from mtl_music.evaluation.recommend.inputs import check_finite, check_plays
from mtl_music.evaluation.recommend.ndcg import blocked_ndcg
from mtl_music.evaluation.recommend.splits import RecommendationSplit, check_split, cold_start_split, warm_holdout_split

log = logging.getLogger(__name__)


def evaluate_recommendation(
    *,
    plays: sp.spmatrix,
    features: np.ndarray,
    n_repetitions: int = 5,
    splits: Sequence[RecommendationSplit | tuple[np.ndarray, np.ndarray]] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    k: int = 500,
    candidates: str = "held_out",
    settings: WMFSettings = WMFSettings(),
) -> list[float]:
    """Cold-start nDCG@k of ``features`` (R6.3), one value per repetition.

    ``plays``: sparse (n_users, n_items) play counts (already filtered, see :func:`filter_plays`);
    ``features``: (n_items, D), one row per column of ``plays``. Repetition ``r`` holds out
    tracks with seed ``seed + r`` (or uses ``splits[r]``: (train_items, test_items)), fits Eq. 7 on
    the training tracks (seed ``seed + r``), gives the held-out tracks ``v = x W`` and ranks them.
    ``candidates``: ``"held_out"`` ranks the held-out tracks only; ``"all"`` ranks every track
    (training tracks with their learned ``V``) after removing the user's training tracks.
    """
    R = check_plays(plays)
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != R.shape[1]:
        raise DataError(
            f"features has shape {X.shape} but plays has {R.shape[1]} track columns; "
            "pass one feature row per track, in the column order of plays"
        )
    check_finite(X, "features")
    if candidates not in ("held_out", "all"):
        raise ConfigError(f"candidates={candidates!r} is not one of 'held_out', 'all'")
    if splits is None:
        if isinstance(n_repetitions, bool) or int(n_repetitions) != n_repetitions or n_repetitions < 1:
            raise ConfigError(f"n_repetitions={n_repetitions!r} must be a positive integer")
        splits = [RecommendationSplit(*cold_start_split(R, test_fraction=test_fraction, seed=seed + rep)[1:])
                  for rep in range(int(n_repetitions))]
    scores: list[float] = []
    for rep, split in enumerate(splits):
        train_items, test_items = (split.train_items, split.test_items) if isinstance(split, RecommendationSplit) else split
        train_items, test_items = check_split(train_items, test_items, R.shape[1])
        train = R[:, train_items].tocsr()
        model = fit_content_wmf(plays=train, item_features=X[train_items], seed=seed + rep,
                                r=settings.r, alpha=settings.alpha, lambda_u=settings.lambda_u,
                                lambda_v=settings.lambda_v, lambda_w=settings.lambda_w,
                                iterations=settings.iterations, standardize=settings.standardize)
        relevant = (R[:, test_items] > 0).astype(np.float64).tocsr()
        # A user with no training interaction has no user model (U row ~ 0): skip them.
        has_train = np.diff(train.indptr) > 0
        relevant = sp.diags(has_train.astype(np.float64)) @ relevant
        V_test = cold_start_factors(model, X[test_items])
        if candidates == "held_out":
            value = blocked_ndcg(model.U, V_test, relevant.tocsr(), None, k)
        else:
            # Columns: training tracks then held-out tracks; relevance only on the latter.
            V_all = np.vstack([model.V, V_test])
            rel_all = sp.hstack([sp.csr_matrix(train.shape), relevant]).tocsr()
            seen_all = sp.hstack([train, sp.csr_matrix(relevant.shape)]).tocsr()
            value = blocked_ndcg(model.U, V_all, rel_all, seen_all, k)
        log.info("recommendation repetition %d: nDCG@%d = %.4f (%d train / %d held-out tracks)",
                 rep, k, value, train_items.size, test_items.size)
        scores.append(value)
    return scores


def implicit_warm_reference(
    *,
    plays: sp.spmatrix,
    n_repetitions: int = 5,
    test_fraction: float = 0.2,
    seed: int = 0,
    k: int = 500,
    settings: WMFSettings = WMFSettings(),
    num_threads: int = 1,
) -> list[float]:
    """Reference row (not like-for-like): warm-item nDCG@k of ``implicit``'s ALS without audio.

    Repetition ``r`` builds the same training matrix as :func:`evaluate_recommendation`
    (cold-start split with seed ``seed + r``), holds out ``test_fraction`` of each user's
    interactions on those *training* tracks (:func:`warm_holdout_split`), fits
    ``implicit.cpu.als.AlternatingLeastSquares`` on the rest and ranks all training tracks minus
    the user's fitted ones. Matching Eq. 7 without the content term: confidence passed as
    ``1 + α·plays`` with implicit's ``alpha=1`` (implicit uses the value as c_ui), regularization
    λU/2 (implicit adds ``regularization·I`` to the normal equations), ``factors=r``, the same
    number of iterations, exact solves (``use_cg=False``), seed ``seed + r``.
    """
    R = check_plays(plays)
    if isinstance(n_repetitions, bool) or int(n_repetitions) != n_repetitions or n_repetitions < 1:
        raise ConfigError(f"n_repetitions={n_repetitions!r} must be a positive integer")
    from threadpoolctl import threadpool_limits

    from implicit.cpu.als import AlternatingLeastSquares

    scores: list[float] = []
    for rep in range(int(n_repetitions)):
        train, _, _ = cold_start_split(R, test_fraction=test_fraction, seed=seed + rep)
        fit, held = warm_holdout_split(train, test_fraction=test_fraction, seed=seed + rep)
        conf = fit.copy()
        conf.data = (1.0 + settings.alpha * conf.data).astype(np.float32)
        # implicit asks for a single-threaded BLAS (it parallelises itself) and warns otherwise.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=settings.r, regularization=settings.lambda_u / 2, alpha=1.0,
                iterations=settings.iterations, use_cg=False, num_threads=num_threads,
                random_state=seed + rep, calculate_training_loss=False,
            )
            model.fit(conf, show_progress=False)
        U = np.asarray(model.user_factors, dtype=np.float64)
        V = np.asarray(model.item_factors, dtype=np.float64)
        relevant = (held > 0).astype(np.float64)
        scores.append(blocked_ndcg(U, V, relevant.tocsr(), fit, k))
    return scores
