"""Cold-start recommendation with a content-aware weighted matrix factorisation (R6.3, Eq. 7).

The model (paper Eq. 7–9, after Liang et al. 2015 [28]) reads the paper's norms as squared
Frobenius norms and keeps its halves exactly as printed::

    L(U, V, W) = Σ_ui c_ui (p_ui − u_uᵀ v_i)²  +  λV/2 ‖V − X W‖²  +  λU/2 ‖U‖²  +  λW/2 ‖W‖²

    P = [R > 0] (binary),  C = 1 + α R,  α = 0.1,  λV = λU = 1e-5,  λW = 0.1,  r = 50,  15 ALS iterations

with ``U`` (users × r), ``V`` (items × r), ``W`` (D × r), ``X`` (items × D) the track features.
Every block has a closed-form minimiser, so ALS sweeps U → V → W and the objective never rises
(:attr:`ContentWMF.objective` records it after every sweep):

* user u:  (VᵀV + Vᵀ(C_u − I)V + λU/2 · I) u_u = Vᵀ C_u p_u
* item i:  (UᵀU + Uᵀ(C_i − I)U + λV/2 · I) v_i = Uᵀ C_i p_i + λV/2 · Wᵀx_i
* W:       (XᵀX + λW/λV · I) W = XᵀV           (a ridge regression of V on X)

``C_u − I`` is non-zero only on the items user u played (the Hu–Koren–Volinsky trick), so one
sweep costs O(nnz·r² + (users + items)·r³ + items·D·r) and the users × items matrix is never
formed. Rows with many interactions are solved one by one (one big GEMM each); the many rows
with few interactions are gathered into zero-padded stacks and solved in batches, which keeps the
Python overhead per row out of the item update (see ``benchmarks/bench_recommend.py``).

Cold start: a track never seen in training gets ``v = x W`` (:func:`cold_start_factors`).

Decisions the paper leaves open (all documented in the API):

* Features are z-scored with the training tracks' mean and standard deviation before ``X W``
  (``standardize=True``). The ridge weight λW/λV = 1e4 acts on the feature scale, and the
  representations compared (120-d MFCCs in the hundreds, ReLU features near 0–1) differ in scale
  by orders of magnitude; z-scoring makes the comparison about content, not units. There is no
  intercept, exactly as in Eq. 7; a shared offset of all item factors adds the same amount to every
  item of one user, so it cannot change a ranking among held-out tracks.
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
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Rows with more interactions than this are solved one at a time (one GEMM each); the rest in
#: zero-padded batches. Above ~256 a row's own GEMM amortises the Python call.
_BIG_ROW = 256
#: Floats per gathered (rows, padded length, r) stack in the batched path (~128 MiB in float64).
_STACK_FLOATS = 1 << 24


# --------------------------------------------------------------------------------------------
# model


@dataclass(frozen=True)
class WMFSettings:
    """Hyper-parameters of Eq. 7 (defaults: the paper's)."""

    r: int = 50
    alpha: float = 0.1
    lambda_u: float = 1e-5
    lambda_v: float = 1e-5
    lambda_w: float = 0.1
    iterations: int = 15
    standardize: bool = True

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"recommendation setting {name}={getattr(self, name)!r} is invalid: {why}")

        for name in ("r", "iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise bad(name, "must be a positive integer")
        if not (np.isfinite(self.alpha) and self.alpha >= 0):
            raise bad("alpha", "must be a finite number >= 0 (C = 1 + alpha * plays)")
        for name in ("lambda_u", "lambda_v", "lambda_w"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise bad(name, "must be a finite number > 0 (the closed-form updates need it)")


@dataclass
class ContentWMF:
    """A fitted model of Eq. 7.

    ``U``: (n_users, r), ``V``: (n_items, r) for the training items, ``W``: (D, r).
    ``feature_mean``/``feature_scale``: (D,) z-scoring applied to features before ``@ W``
    (``None`` when fitted with ``standardize=False``). ``objective``: Eq. 7 after each sweep;
    ``sweep_seconds``: wall time of each sweep (U, V, W updates and the objective).
    """

    U: np.ndarray
    V: np.ndarray
    W: np.ndarray
    feature_mean: np.ndarray | None = None
    feature_scale: np.ndarray | None = None
    objective: list[float] = field(default_factory=list)
    sweep_seconds: list[float] = field(default_factory=list)

    def transform_features(self, features: np.ndarray) -> np.ndarray:
        """``features`` (n, D) → the model's ``X`` rows (z-scored when fitted that way)."""
        X = np.asarray(features, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.W.shape[0]:
            raise DataError(
                f"features have shape {X.shape}, the model was fitted on {self.W.shape[0]}-d features; "
                "pass the same representation (items × D) used for fitting"
            )
        _check_finite(X, "features")
        if self.feature_mean is not None:
            X = (X - self.feature_mean) / self.feature_scale
        return X


def cold_start_factors(model: ContentWMF, features: np.ndarray) -> np.ndarray:
    """Item factors of unseen tracks: ``x W`` (after the model's z-scoring). (n, D) → (n, r)."""
    return model.transform_features(features) @ model.W


def fit_content_wmf(
    *,
    plays: sp.spmatrix,
    item_features: np.ndarray,
    r: int = 50,
    alpha: float = 0.1,
    lambda_u: float = 1e-5,
    lambda_v: float = 1e-5,
    lambda_w: float = 0.1,
    iterations: int = 15,
    seed: int = 0,
    standardize: bool = True,
) -> ContentWMF:
    """Fits Eq. 7 by ALS.

    ``plays``: sparse (n_users, n_items) play counts R (any scipy sparse format; explicit zeros and
    negative values are rejected). ``item_features``: (n_items, D) X, one row per column of
    ``plays``. Returns a :class:`ContentWMF` whose ``objective`` holds Eq. 7 after each of the
    ``iterations`` sweeps (non-increasing up to rounding).
    """
    settings = WMFSettings(r=r, alpha=alpha, lambda_u=lambda_u, lambda_v=lambda_v, lambda_w=lambda_w,
                           iterations=iterations, standardize=standardize)
    R = _check_plays(plays)
    n_users, n_items = R.shape
    # A private float64 copy, z-scored in place (at D = 4096 and 40k tracks one copy is 1.3 GB).
    X = np.array(item_features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != n_items:
        raise DataError(
            f"item_features has shape {X.shape} but plays has {n_items} item columns; "
            "pass one feature row per track, in the column order of plays"
        )
    _check_finite(X, "item_features")

    mean = scale = None
    if standardize:
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        # A constant dimension carries nothing; divide by 1 so it stays exactly 0, not NaN.
        scale = np.where(scale > 0, scale, 1.0)
        X -= mean
        X /= scale

    # C as a sparse matrix over the observed entries only; p_ui = 1 exactly there.
    C = R.copy()
    C.data = 1.0 + settings.alpha * C.data
    Ct = C.T.tocsr()

    rng = np.random.default_rng(seed)
    # Small random item factors (implicit's convention: U(0, 0.01)); U is solved first.
    V = rng.random((n_items, settings.r)) * 0.01
    U = np.zeros((n_users, settings.r))
    # W's system matrix never changes: factor it once.
    gram_x = X.T @ X
    gram_x[np.diag_indices_from(gram_x)] += settings.lambda_w / settings.lambda_v
    chol_x = scipy.linalg.cho_factor(gram_x, lower=True, check_finite=False)
    W = scipy.linalg.cho_solve(chol_x, X.T @ V, check_finite=False)

    objective: list[float] = []
    sweep_seconds: list[float] = []
    for sweep in range(settings.iterations):
        started = time.perf_counter()
        U = solve_factors(confidence=C, fixed=V, reg=settings.lambda_u / 2)
        V = solve_factors(confidence=Ct, fixed=U, reg=settings.lambda_v / 2,
                          prior=X @ W, prior_weight=settings.lambda_v / 2)
        W = scipy.linalg.cho_solve(chol_x, X.T @ V, check_finite=False)
        objective.append(wmf_objective(confidence=C, U=U, V=V, X=X, W=W, settings=settings))
        sweep_seconds.append(time.perf_counter() - started)
        log.debug("content WMF sweep %d: objective %.6g (%.2f s)", sweep + 1, objective[-1], sweep_seconds[-1])
    return ContentWMF(U=U, V=V, W=W, feature_mean=mean, feature_scale=scale, objective=objective,
                      sweep_seconds=sweep_seconds)


def solve_factors(
    *,
    confidence: sp.csr_matrix,
    fixed: np.ndarray,
    reg: float,
    prior: np.ndarray | None = None,
    prior_weight: float = 0.0,
) -> np.ndarray:
    """Closed-form ALS half-step: for every row ``a`` of ``confidence`` (rows × cols csr whose
    *stored* entries are the observed ones, holding c_ab = 1 + αR; p_ab = 1 there, 0 elsewhere;
    no explicit zeros) returns

        x_a = (YᵀY + Yᵀ(C_a − I)Y + reg·I)⁻¹ (Yᵀ C_a p_a + prior_weight · prior_a)

    with ``Y = fixed`` (cols, r) and ``prior`` (rows, r) or ``None``. Result: (rows, r).
    """
    C = confidence
    n_rows = C.shape[0]
    r = fixed.shape[1]
    Y = np.ascontiguousarray(fixed, dtype=np.float64)
    base = Y.T @ Y
    base[np.diag_indices(r)] += reg
    out = np.empty((n_rows, r))
    indptr, indices, conf = C.indptr, C.indices, C.data
    counts = np.diff(indptr)

    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    split = int(np.searchsorted(sorted_counts, _BIG_ROW, side="right"))

    # Heavy rows: one GEMM each (YᵀY + Yᵀ(C−I)Y restricted to the row's observed columns).
    for a in order[split:]:
        lo, hi = indptr[a], indptr[a + 1]
        Ya = Y[indices[lo:hi]]
        ca = conf[lo:hi]
        A = base + (Ya.T * (ca - 1.0)) @ Ya
        b = Ya.T @ ca
        if prior is not None:
            b = b + prior_weight * prior[a]
        out[a] = np.linalg.solve(A, b)

    # Light rows: batches of rows with similar counts, zero-padded to a common length so one
    # stacked matmul and one batched solve handle thousands of rows per Python step.
    start = 0
    while start < split:
        length = int(sorted_counts[start])
        # Up to 25% padding per batch (exact lengths for tiny rows, where it would be a row or two).
        padded = max(length if length <= 8 else int(np.ceil(length * 1.25)), 1)
        stop = int(np.searchsorted(sorted_counts[:split], padded, side="right"))
        stop = min(stop, start + max(1, _STACK_FLOATS // (padded * r)))
        rows = order[start:stop]
        pos = np.arange(padded)[None, :]
        valid = pos < counts[rows][:, None]
        flat = np.where(valid, indptr[rows][:, None] + pos, 0)
        cols = np.where(valid, indices[flat] if indices.size else 0, 0)
        cw = np.where(valid, conf[flat] if conf.size else 0.0, 0.0)  # c on observed, 0 on padding
        Yg = Y[cols]  # (m, padded, r)
        A = np.matmul((Yg * (cw - valid)[..., None]).transpose(0, 2, 1), Yg)
        A += base
        b = np.einsum("mlr,ml->mr", Yg, cw)
        if prior is not None:
            b += prior_weight * prior[rows]
        out[rows] = np.linalg.solve(A, b[..., None])[..., 0]
        start = stop
    return out


def wmf_objective(
    *, confidence: sp.csr_matrix, U: np.ndarray, V: np.ndarray, X: np.ndarray, W: np.ndarray,
    settings: WMFSettings,
) -> float:
    """Eq. 7 for the given factors without forming users × items.

    Σ_ui c_ui (p_ui − ŷ_ui)² = Σ_all ŷ² + Σ_observed [c (1 − ŷ)² − ŷ²], and Σ_all ŷ² = ⟨UᵀU, VᵀV⟩.
    ``confidence``: (users, items) csr of c on observed entries; ``X`` already z-scored.
    """
    C = confidence.tocsr()
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    yhat = np.empty(C.nnz)
    # In chunks: gathering all nnz × r at once is memory-bound (measured 7x slower at 1M nnz).
    step = 1 << 16
    for lo in range(0, C.nnz, step):
        hi = min(C.nnz, lo + step)
        yhat[lo:hi] = np.einsum("nr,nr->n", U[rows[lo:hi]], V[C.indices[lo:hi]])
    loss = float(np.sum((U.T @ U) * (V.T @ V)))
    loss += float(np.sum(C.data * (1.0 - yhat) ** 2 - yhat**2))
    loss += settings.lambda_v / 2 * float(np.sum((V - X @ W) ** 2))
    loss += settings.lambda_u / 2 * float(np.sum(U**2))
    loss += settings.lambda_w / 2 * float(np.sum(W**2))
    return loss


# --------------------------------------------------------------------------------------------
# data preparation and protocol


def filter_plays(
    plays: sp.spmatrix, *, min_user_items: int = 5, min_item_users: int = 5
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Drops users with fewer than ``min_user_items`` tracks and tracks with fewer than
    ``min_item_users`` users (paper 4.2), repeating until both hold (dropping a track can push a
    user under the limit). Returns ``(plays (kept users × kept items) csr, kept_user_index,
    kept_item_index)``; the indices map back to the input's rows/columns (use them to pick the
    feature rows). Raises :class:`DataError` when nothing is left.
    """
    R = _check_plays(plays)
    users = np.arange(R.shape[0])
    items = np.arange(R.shape[1])
    while True:
        binary = (R > 0).astype(np.int64)
        keep_u = np.asarray(binary.sum(axis=1)).ravel() >= min_user_items
        keep_i = np.asarray(binary.sum(axis=0)).ravel() >= min_item_users
        if keep_u.all() and keep_i.all():
            break
        R = R[keep_u][:, keep_i]
        users, items = users[keep_u], items[keep_i]
        if R.shape[0] == 0 or R.shape[1] == 0:
            raise DataError(
                f"no user has >= {min_user_items} tracks with >= {min_item_users} users each; "
                "the play matrix is too sparse for these limits (lower them or use more listening data)"
            )
    return R.tocsr(), users, items


def cold_start_split(
    plays: sp.spmatrix, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Holds out a random ``test_fraction`` of the tracks (columns).

    Returns ``(train_plays, train_items, test_items)``: ``train_plays`` is the (users ×
    len(train_items)) csr submatrix, the index arrays are sorted column indices of ``plays``.
    """
    R = _check_plays(plays)
    n_items = R.shape[1]
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction={test_fraction} must be between 0 and 1 (e.g. 0.2)")
    n_test = int(round(test_fraction * n_items))
    if n_test < 1 or n_test >= n_items:
        raise DataError(
            f"cannot hold out {test_fraction:.0%} of {n_items} tracks (that leaves {n_test} test and "
            f"{n_items - n_test} training tracks); use more tracks or another test_fraction"
        )
    perm = np.random.default_rng(seed).permutation(n_items)
    test_items = np.sort(perm[:n_test])
    train_items = np.sort(perm[n_test:])
    return R[:, train_items].tocsr(), train_items, test_items


def warm_holdout_split(
    plays: sp.spmatrix, *, test_fraction: float = 0.2, seed: int = 0
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Holds out ``test_fraction`` of each user's interactions (rounded; every user keeps at least
    one). Returns ``(fit_plays, held_out)``, both csr of the input's shape with disjoint entries.
    """
    R = _check_plays(plays)
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction={test_fraction} must be between 0 and 1 (e.g. 0.2)")
    rng = np.random.default_rng(seed)
    held = np.zeros(R.nnz, dtype=bool)
    for u in range(R.shape[0]):
        lo, hi = R.indptr[u], R.indptr[u + 1]
        n = hi - lo
        n_out = min(int(round(test_fraction * n)), n - 1)
        if n_out > 0:
            held[lo + rng.choice(n, size=n_out, replace=False)] = True
    fit = R.copy()
    fit.data = np.where(held, 0.0, fit.data)
    out = R.copy()
    out.data = np.where(held, out.data, 0.0)
    fit.eliminate_zeros()
    out.eliminate_zeros()
    return fit, out


def ndcg_at_k(
    *, scores: np.ndarray, relevant: sp.spmatrix, train_seen: sp.spmatrix | None = None, k: int = 500
) -> float:
    """Mean nDCG@k over users (binary relevance); see :func:`ndcg_per_user`."""
    per_user = ndcg_per_user(scores=scores, relevant=relevant, train_seen=train_seen, k=k)
    valid = per_user[~np.isnan(per_user)]
    if valid.size == 0:
        raise DataError(
            "no user has a relevant held-out item, so nDCG is undefined; "
            "check that the held-out tracks were played by someone in the evaluation users"
        )
    return float(valid.mean())


def ndcg_per_user(
    *, scores: np.ndarray, relevant: sp.spmatrix, train_seen: sp.spmatrix | None = None, k: int = 500
) -> np.ndarray:
    """nDCG@k per user; NaN for users without a relevant item (they are skipped in the mean).

    ``scores``: (n_users, n_candidates) predicted preferences; ``relevant``: sparse (n_users,
    n_candidates), non-zero = relevant (a held-out track the user played). ``train_seen``: same
    shape, non-zero = remove from the ranking (the user's training items; for cold-start held-out
    tracks the two sets are disjoint, so it only matters with ``candidates="all"`` or the warm
    protocol). A relevant entry that is also in ``train_seen`` is dropped from the relevant set.

    DCG = Σ_{rank j=1..k} rel_j / log2(j + 1); the ideal DCG puts min(k, n_relevant) relevant
    items first. Ties in score rank the lower candidate index first (stable order).
    """
    S = np.asarray(scores, dtype=np.float64)
    if S.ndim != 2:
        raise DataError(f"scores must be (users, candidates), got shape {S.shape}")
    if not np.isfinite(S).all():
        raise DataError("scores contain NaN or infinite values; the factors diverged or the features hold NaN")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ConfigError(f"k={k!r} must be a positive integer (the paper uses 500)")
    rel = _as_csr(relevant, S.shape, "relevant")
    seen = _as_csr(train_seen, S.shape, "train_seen") if train_seen is not None else None

    k = int(min(k, S.shape[1]))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    out = np.full(S.shape[0], np.nan)
    for u in range(S.shape[0]):
        rel_items = rel.indices[rel.indptr[u]:rel.indptr[u + 1]][rel.data[rel.indptr[u]:rel.indptr[u + 1]] != 0]
        row = S[u]
        if seen is not None:
            seen_items = seen.indices[seen.indptr[u]:seen.indptr[u + 1]][
                seen.data[seen.indptr[u]:seen.indptr[u + 1]] != 0]
            if seen_items.size:
                row = row.copy()
                row[seen_items] = -np.inf
                rel_items = np.setdiff1d(rel_items, seen_items)
        if rel_items.size == 0:
            continue
        top = _top_k(row, k)
        hits = np.isin(top, rel_items)
        dcg = float(discounts[: top.size][hits].sum())
        out[u] = dcg / ideal_cum[min(k, rel_items.size)]
    return out


def _top_k(row: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; ties → lower index first."""
    if k < row.size:
        # argpartition picks a candidate set; re-rank it stably (by -score then index).
        part = np.argpartition(-row, k - 1)[:k]
        # Include every index tied with the k-th score so the stable tie rule holds at the cut.
        kth = row[part].min()
        part = np.union1d(part, np.flatnonzero(row == kth))
    else:
        part = np.arange(row.size)
    part = np.sort(part)
    return part[np.argsort(-row[part], kind="stable")][:k]


@dataclass(frozen=True)
class RecommendationSplit:
    """One repetition of the cold-start protocol: sorted column indices of ``plays``."""

    train_items: np.ndarray
    test_items: np.ndarray


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
    R = _check_plays(plays)
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != R.shape[1]:
        raise DataError(
            f"features has shape {X.shape} but plays has {R.shape[1]} track columns; "
            "pass one feature row per track, in the column order of plays"
        )
    _check_finite(X, "features")
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
        train_items, test_items = _check_split(train_items, test_items, R.shape[1])
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
            value = _blocked_ndcg(model.U, V_test, relevant.tocsr(), None, k)
        else:
            # Columns: training tracks then held-out tracks; relevance only on the latter.
            V_all = np.vstack([model.V, V_test])
            rel_all = sp.hstack([sp.csr_matrix(train.shape), relevant]).tocsr()
            seen_all = sp.hstack([train, sp.csr_matrix(relevant.shape)]).tocsr()
            value = _blocked_ndcg(model.U, V_all, rel_all, seen_all, k)
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
    R = _check_plays(plays)
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
        scores.append(_blocked_ndcg(U, V, relevant.tocsr(), fit, k))
    return scores


# --------------------------------------------------------------------------------------------
# helpers


def _blocked_ndcg(U: np.ndarray, V: np.ndarray, relevant: sp.csr_matrix, seen: sp.csr_matrix | None,
                  k: int, block_floats: int = 1 << 24) -> float:
    """Mean nDCG@k of scores U Vᵀ computed in user blocks (never the whole users × items at once)."""
    n_users = U.shape[0]
    step = max(1, block_floats // max(1, V.shape[0]))
    parts = []
    for lo in range(0, n_users, step):
        hi = min(n_users, lo + step)
        parts.append(ndcg_per_user(scores=U[lo:hi] @ V.T, relevant=relevant[lo:hi],
                                   train_seen=seen[lo:hi] if seen is not None else None, k=k))
    per_user = np.concatenate(parts)
    valid = per_user[~np.isnan(per_user)]
    if valid.size == 0:
        raise DataError(
            "no user has a relevant held-out track (with a training interaction), so nDCG is undefined; "
            "use more listening data or a larger test_fraction"
        )
    return float(valid.mean())


def _check_plays(plays) -> sp.csr_matrix:
    if not sp.issparse(plays):
        raise DataError(
            f"plays must be a scipy sparse matrix (users × tracks), got {type(plays).__name__}; "
            "build it with scipy.sparse.csr_matrix((counts, (user_idx, track_idx)))"
        )
    # A copy: sum_duplicates/eliminate_zeros work in place and must not touch the caller's arrays.
    R = sp.csr_matrix(plays, dtype=np.float64, copy=True)
    R.sum_duplicates()
    if R.nnz and not np.isfinite(R.data).all():
        raise DataError("plays contain NaN or infinite counts; fix the listening data")
    if R.nnz and (R.data < 0).any():
        raise DataError(f"plays contain {int((R.data < 0).sum())} negative counts; play counts must be >= 0")
    R.eliminate_zeros()
    if R.nnz == 0:
        raise DataError(f"plays ({R.shape[0]} users × {R.shape[1]} tracks) holds no interaction")
    return R


def _check_finite(X: np.ndarray, name: str) -> None:
    if not np.isfinite(X).all():
        bad_rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise DataError(
            f"{name} hold NaN or infinite values in {bad_rows.size} rows (first: {bad_rows[:5].tolist()}); "
            "re-extract those tracks' features"
        )


def _as_csr(matrix, shape: tuple[int, int], name: str) -> sp.csr_matrix:
    M = sp.csr_matrix(matrix) if not sp.issparse(matrix) else matrix.tocsr()
    if M.shape != shape:
        raise DataError(f"{name} has shape {M.shape} but scores have shape {shape}; they must match")
    return M


def _check_split(train_items, test_items, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    train_items = np.asarray(train_items, dtype=np.int64)
    test_items = np.asarray(test_items, dtype=np.int64)
    for name, idx in (("train_items", train_items), ("test_items", test_items)):
        if idx.ndim != 1 or idx.size == 0:
            raise DataError(f"{name} must be a non-empty 1-D index array, got shape {idx.shape}")
        if idx.min() < 0 or idx.max() >= n_items:
            raise DataError(f"{name} has indices outside 0..{n_items - 1}; the split does not fit this play matrix")
    overlap = np.intersect1d(train_items, test_items)
    if overlap.size:
        raise DataError(f"{overlap.size} tracks are in both train_items and test_items (first: "
                        f"{overlap[:5].tolist()}); a cold-start split must hold tracks out")
    return np.unique(train_items), np.unique(test_items)
