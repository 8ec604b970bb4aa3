"""nDCG@k of predicted preferences against held-out interactions (binary relevance, R6.3)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import ConfigError, DataError


def _ndcg_at_k(
    *, scores: np.ndarray, relevant: sp.spmatrix, train_seen: sp.spmatrix | None = None, k: int = 500
) -> float:
    """Mean nDCG@k over users (binary relevance); see :func:`ndcg_per_user`. The protocol scores
    factor products with :func:`blocked_ndcg`; this full-matrix form is for the tests."""
    per_user = ndcg_per_user(scores=scores, relevant=relevant, train_seen=train_seen, k=k)
    return _mean_over_users(per_user, fix="check that the held-out tracks were played by someone in the "
                                          "evaluation users", held_out="held-out item")


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


def blocked_ndcg(U: np.ndarray, V: np.ndarray, relevant: sp.csr_matrix, seen: sp.csr_matrix | None,
                 k: int, block_floats: int = 1 << 24) -> float:
    """Mean nDCG@k of scores U Vᵀ computed in user blocks (never the whole users × items at once)."""
    n_users = U.shape[0]
    step = max(1, block_floats // max(1, V.shape[0]))
    parts = []
    for lo in range(0, n_users, step):
        hi = min(n_users, lo + step)
        parts.append(ndcg_per_user(scores=U[lo:hi] @ V.T, relevant=relevant[lo:hi],
                                   train_seen=seen[lo:hi] if seen is not None else None, k=k))
    return _mean_over_users(np.concatenate(parts), fix="use more listening data or a larger test_fraction",
                            held_out="held-out track (with a training interaction)")


def _mean_over_users(per_user: np.ndarray, *, held_out: str, fix: str) -> float:
    """The mean of :func:`ndcg_per_user` over users that have a relevant item; :class:`DataError`
    (saying ``fix``) when no user has one."""
    valid = per_user[~np.isnan(per_user)]
    if valid.size == 0:
        raise DataError(f"no user has a relevant {held_out}, so nDCG is undefined; {fix}")
    return float(valid.mean())


def _as_csr(matrix, shape: tuple[int, int], name: str) -> sp.csr_matrix:
    M = sp.csr_matrix(matrix) if not sp.issparse(matrix) else matrix.tocsr()
    if M.shape != shape:
        raise DataError(f"{name} has shape {M.shape} but scores have shape {shape}; they must match")
    return M
