"""What every reader shares: opening text files, parsing numbers, and assembling the
:class:`~mtl_music.sources.base.LabelMatrix` / :class:`~mtl_music.sources.base.ScalarLabels`
results with duplicates summed (matrices) or averaged (scalars) and reported."""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from mtl_music.sources.base import ScalarLabels, SourceReport

#: Bad lines described one by one per chunk (the rest are counted).
MAX_BAD_EXAMPLES = 20


def open_text(path: Path):
    """``path`` opened for reading as UTF-8 text (undecodable bytes replaced, newlines kept)."""
    # Real MSD files are UTF-8; a stray byte must not abort a 48 M-line read.
    return open(path, encoding="utf-8", errors="replace", newline="")


def parse_float(text: str) -> float | None:
    """``float(text)``, or ``None`` when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def sparse_from_entries(
    rows: array | np.ndarray,
    cols: array | np.ndarray,
    values: array | np.ndarray,
    *,
    n_rows: int,
    n_cols: int,
    row_ids: Sequence[str],
    label_names: Sequence[str],
    report: SourceReport,
) -> sp.csr_matrix:
    """CSR ``(n_rows, n_cols)`` float64 from COO entries, duplicates summed and reported."""
    r = np.frombuffer(rows, dtype=np.int32) if isinstance(rows, array) else np.asarray(rows, dtype=np.int32)
    c = np.frombuffer(cols, dtype=np.int32) if isinstance(cols, array) else np.asarray(cols, dtype=np.int32)
    v = np.frombuffer(values, dtype=np.float64) if isinstance(values, array) else np.asarray(values, np.float64)
    # COO -> CSR sums repeated (row, col) entries into one stored entry (explicit zeros kept).
    matrix = sp.csr_matrix((v, (r, c)), shape=(n_rows, n_cols), dtype=np.float64)
    matrix.sum_duplicates()
    n_duplicates = len(v) - matrix.nnz
    if n_duplicates:
        # Only for the examples: find a few repeated keys (a sort, paid only when there are repeats).
        key = r.astype(np.int64) * max(n_cols, 1) + c
        uniq, counts = np.unique(key, return_counts=True)
        repeated = np.flatnonzero(counts > 1)[:5]
        examples = [
            f"track {row_ids[int(uniq[i] // max(n_cols, 1))]} label {label_names[int(uniq[i] % max(n_cols, 1))]!r} "
            f"({int(counts[i])} entries, summed)"
            for i in repeated
        ]
        report.add_many("duplicates", examples, count=n_duplicates)
    matrix.eliminate_zeros()
    return matrix


def scalars_from_entries(ids: list[str], values: list[float], *, report: SourceReport) -> ScalarLabels:
    """One value per track; a track given several values gets their mean (reported)."""
    if not ids:
        return ScalarLabels(track_ids=np.array([], dtype=str), values=np.zeros(0))
    id_array = np.asarray(ids, dtype=str)
    value_array = np.asarray(values, dtype=np.float64)
    unique, inverse, counts = np.unique(id_array, return_inverse=True, return_counts=True)
    if len(unique) < len(id_array):
        sums = np.bincount(inverse, weights=value_array, minlength=len(unique))
        merged = sums / counts
        dup = np.flatnonzero(counts > 1)
        report.add_many(
            "duplicates", [f"track {unique[i]} ({counts[i]} values, averaged)" for i in dup[:5]],
            count=int((counts[dup] - 1).sum()),
        )
        return ScalarLabels(track_ids=unique, values=merged)
    return ScalarLabels(track_ids=id_array, values=value_array)
