"""TF-IDF weighting of a sparse count matrix (lyrics before pLSA, paper Sect. 2.2.2 and Table 1).

Down-weights words that occur in most documents (stop words) so that pLSA topics are made of
informative words. Same definition as scikit-learn's ``TfidfTransformer`` (tested against it):
``tf * idf`` with ``idf = ln((1 + n) / (1 + df)) + 1`` (smooth) or ``ln(n / df) + 1``, then
optional row normalisation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import ConfigError


def tfidf(
    counts: sp.spmatrix,
    *,
    smooth_idf: bool = True,
    sublinear_tf: bool = False,
    norm: str | None = "l2",
) -> sp.csr_matrix:
    """TF-IDF of ``counts`` ``(n_docs, n_words)`` (sparse, non-negative): sparse in, sparse out.

    Args:
        counts: word counts; not modified.
        smooth_idf: add one to document frequencies, as if one extra document held every word.
        sublinear_tf: use ``1 + ln(tf)`` instead of ``tf``.
        norm: ``"l2"``, ``"l1"`` or ``None``: normalisation of each document's row.

    Returns:
        CSR ``(n_docs, n_words)`` float64 with the sparsity pattern of ``counts``.
    """
    if norm not in ("l1", "l2", None):
        raise ConfigError(f"tfidf norm {norm!r} is unknown; choose 'l1', 'l2' or null")
    matrix = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    n_docs = matrix.shape[0]
    df = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float64)
    if smooth_idf:
        idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    else:
        with np.errstate(divide="ignore"):
            idf = np.log(n_docs / np.maximum(df, 1.0)) + 1.0
    if sublinear_tf:
        np.log(matrix.data, out=matrix.data)
        matrix.data += 1.0
    matrix.data *= idf[matrix.indices]
    if norm is not None:
        row_of = np.repeat(np.arange(n_docs), np.diff(matrix.indptr))
        if norm == "l2":
            scale = np.sqrt(np.bincount(row_of, weights=matrix.data**2, minlength=n_docs))
        else:
            scale = np.bincount(row_of, weights=np.abs(matrix.data), minlength=n_docs)
        scale[scale == 0] = 1.0
        matrix.data /= scale[row_of]
    return matrix
