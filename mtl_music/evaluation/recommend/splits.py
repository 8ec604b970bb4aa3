"""The train/test splits of the recommendation protocol: filtering sparse users and tracks, the
cold-start split of tracks (columns) and the warm split of each user's interactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.recommend.inputs import check_plays


def filter_plays(
    plays: sp.spmatrix, *, min_user_items: int = 5, min_item_users: int = 5
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Drops users with fewer than ``min_user_items`` tracks and tracks with fewer than
    ``min_item_users`` users (paper 4.2), repeating until both hold (dropping a track can push a
    user under the limit). Returns ``(plays (kept users × kept items) csr, kept_user_index,
    kept_item_index)``; the indices map back to the input's rows/columns (use them to pick the
    feature rows). Raises :class:`DataError` when nothing is left.
    """
    R = check_plays(plays)
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
    R = check_plays(plays)
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
    R = check_plays(plays)
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


@dataclass(frozen=True)
class RecommendationSplit:
    """One repetition of the cold-start protocol: sorted column indices of ``plays``."""

    train_items: np.ndarray
    test_items: np.ndarray


def check_split(train_items, test_items, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique ``(train_items, test_items)`` column indices; :class:`DataError` when either is
    empty, out of range, or they overlap."""
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
