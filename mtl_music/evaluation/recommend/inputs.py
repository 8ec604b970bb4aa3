"""Validation of the recommender's inputs: the users × tracks play matrix and feature arrays."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import DataError


def check_plays(plays) -> sp.csr_matrix:
    """A float64 csr copy of ``plays`` (duplicates summed, zeros dropped); :class:`DataError` when
    it is not sparse, holds NaN/infinite or negative counts, or no interaction."""
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


def check_finite(X: np.ndarray, name: str) -> None:
    """:class:`DataError` naming the rows of ``X`` that hold NaN or infinite values."""
    if not np.isfinite(X).all():
        bad_rows = np.flatnonzero(~np.isfinite(X).all(axis=1))
        raise DataError(
            f"{name} hold NaN or infinite values in {bad_rows.size} rows (first: {bad_rows[:5].tolist()}); "
            "re-extract those tracks' features"
        )
