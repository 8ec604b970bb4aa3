"""Probabilistic latent semantic analysis (pLSA, Hofmann 1999) on sparse count matrices.

The model: P(w | d) = sum_z P(z | d) P(w | z) for a document d (a track, song or artist) and a
word w (a tag, user, word or genre). EM maximises the log-likelihood

    L = sum_{d,w} n(d,w) log sum_z theta[d,z] phi[z,w]

(the constant sum_d n(d) log P(d) left out). One EM step, for every non-zero n(d,w):

    r(d,w)      = n(d,w) / sum_z theta[d,z] phi[z,w]                   (E-step, in ratio form)
    theta'[d,z] = theta[d,z] * sum_w r(d,w) phi[z,w] / n(d)            (M-step, rows sum to 1)
    phi'[z,w]   ∝ phi[z,w]   * sum_d r(d,w) theta[d,z]                 (M-step, normalised over w)

which is the KL-NMF multiplicative update with both factors updated from the same E-step.
The matrix is never densified: one step costs O(nnz · k) and memory is
O(nnz + (n_docs + n_words) · k). The kernels are numba loops parallel over documents (CSR)
and over words (a CSC view sharing the CSR's per-entry ratios), so no thread ever writes
where another does and nothing is kept per thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numba
import numpy as np
import scipy.sparse as sp

from mtl_music.errors import SourceError

log = logging.getLogger(__name__)

#: Guard against log(0) and division by 0 where a document and a word share no topic mass.
_TINY = 1e-300


# ------------------------------------------------------------------ numba kernels
@numba.njit(parallel=True, cache=True)
def _doc_pass(indptr, indices, data, theta, phi_t, ratio, theta_out, doc_ll):  # pragma: no cover - jitted
    """E-step over documents: per-entry ratios, the theta update and per-document log-likelihood."""
    n_docs, k = theta.shape
    for d in numba.prange(n_docs):
        acc = np.zeros(k)
        ll = 0.0
        for p in range(indptr[d], indptr[d + 1]):
            w = indices[p]
            s = 0.0
            for z in range(k):
                s += theta[d, z] * phi_t[w, z]
            if s < _TINY:
                s = _TINY
            r = data[p] / s
            ratio[p] = r
            ll += data[p] * np.log(s)
            for z in range(k):
                acc[z] += r * phi_t[w, z]
        total = 0.0
        for z in range(k):
            acc[z] *= theta[d, z]
            total += acc[z]
        if total > 0.0:
            for z in range(k):
                theta_out[d, z] = acc[z] / total
        else:
            for z in range(k):
                theta_out[d, z] = theta[d, z]
        doc_ll[d] = ll


@numba.njit(parallel=True, cache=True)
def _word_pass(col_ptr, col_rows, col_pos, ratio, theta, phi_t, phi_out):  # pragma: no cover - jitted
    """M-step for phi over words (CSC order): phi_out[w] = phi[w] * sum_d r(d,w) theta[d] (unnormalised)."""
    n_words, k = phi_t.shape
    for w in numba.prange(n_words):
        acc = np.zeros(k)
        for q in range(col_ptr[w], col_ptr[w + 1]):
            d = col_rows[q]
            r = ratio[col_pos[q]]
            for z in range(k):
                acc[z] += r * theta[d, z]
        for z in range(k):
            phi_out[w, z] = phi_t[w, z] * acc[z]


@numba.njit(parallel=True, cache=True)
def _doc_log_likelihood(indptr, indices, data, theta, phi_t, doc_ll):  # pragma: no cover - jitted
    """Per-document log-likelihood sum_w n(d,w) log sum_z theta[d,z] phi[z,w], no temporaries."""
    n_docs, k = theta.shape
    for d in numba.prange(n_docs):
        ll = 0.0
        for p in range(indptr[d], indptr[d + 1]):
            w = indices[p]
            s = 0.0
            for z in range(k):
                s += theta[d, z] * phi_t[w, z]
            ll += data[p] * np.log(max(s, _TINY))
        doc_ll[d] = ll


@numba.njit(cache=True)
def _csc_positions(indptr, indices, n_cols):  # pragma: no cover - jitted
    """Counting sort of CSR entries by column: (col_ptr, row of each entry, CSR position)."""
    nnz = indices.shape[0]
    col_ptr = np.zeros(n_cols + 1, dtype=np.int64)
    for p in range(nnz):
        col_ptr[indices[p] + 1] += 1
    for j in range(n_cols):
        col_ptr[j + 1] += col_ptr[j]
    fill = col_ptr[:-1].copy()
    col_rows = np.empty(nnz, dtype=np.int32)
    col_pos = np.empty(nnz, dtype=np.int64)
    for d in range(indptr.shape[0] - 1):
        for p in range(indptr[d], indptr[d + 1]):
            j = indices[p]
            col_rows[fill[j]] = d
            col_pos[fill[j]] = p
            fill[j] += 1
    return col_ptr, col_rows, col_pos


@numba.njit(parallel=True, cache=True)
def _fold_in(indptr, indices, data, phi_t, theta, max_iter, tol, iterations):  # pragma: no cover - jitted
    """EM on theta only (phi fixed) for each document, until max |change| < tol or max_iter."""
    n_docs, k = theta.shape
    for d in numba.prange(n_docs):
        acc = np.zeros(k)
        it = 0
        while it < max_iter:
            it += 1
            acc[:] = 0.0
            for p in range(indptr[d], indptr[d + 1]):
                w = indices[p]
                s = 0.0
                for z in range(k):
                    s += theta[d, z] * phi_t[w, z]
                if s < _TINY:
                    s = _TINY
                r = data[p] / s
                for z in range(k):
                    acc[z] += r * phi_t[w, z]
            total = 0.0
            for z in range(k):
                acc[z] *= theta[d, z]
                total += acc[z]
            if total <= 0.0:
                break
            change = 0.0
            for z in range(k):
                new = acc[z] / total
                change = max(change, abs(new - theta[d, z]))
                theta[d, z] = new
            if change < tol:
                break
        iterations[d] = it


# ------------------------------------------------------------------ numpy reference (chunked)
def _doc_pass_numpy(matrix: sp.csr_matrix, theta, phi_t, *, chunk_nnz: int = 32_768):
    """The same E-step with numpy and scipy, in chunks of entries (reference and fallback)."""
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    denom = np.empty(matrix.nnz)
    for start in range(0, matrix.nnz, chunk_nnz):
        stop = min(start + chunk_nnz, matrix.nnz)
        denom[start:stop] = np.einsum("ij,ij->i", theta[rows[start:stop]], phi_t[matrix.indices[start:stop]])
    np.maximum(denom, _TINY, out=denom)
    ratio = sp.csr_matrix((matrix.data / denom, matrix.indices, matrix.indptr), shape=matrix.shape)
    doc_ll = np.bincount(rows, weights=matrix.data * np.log(denom), minlength=matrix.shape[0])
    theta_new = theta * (ratio @ phi_t)
    theta_new /= np.maximum(theta_new.sum(axis=1, keepdims=True), _TINY)
    phi_new = phi_t * (ratio.T @ theta)
    return theta_new, phi_new, doc_ll


# ------------------------------------------------------------------ the estimator
@dataclass
class PLSA:
    """pLSA by EM on a sparse document × word count matrix.

    Args:
        n_topics: k, the number of latent topics (the paper: 50).
        max_iter: cap on EM iterations.
        tol: stop when the relative log-likelihood change |L_t - L_{t-1}| / |L_{t-1}| < tol
            (0 runs exactly ``max_iter`` iterations).
        seed: seeds the random initialisation of theta and phi.
        n_init: independent random restarts; the one with the highest final log-likelihood is
            kept (EM finds local optima: two true topics can end up merged in one).
        backend: ``"numba"`` (parallel loops over the non-zeros) or ``"numpy"`` (chunked
            numpy/scipy; same arithmetic, slower, kept as a reference).
        fold_in_iter, fold_in_tol: EM iterations and max-abs-change tolerance of :meth:`transform`.

    After :meth:`fit`: ``doc_topic_`` ``(n_docs, k)`` float64 P(z|d), ``topic_word_``
    ``(k, n_words)`` float64 P(w|z), ``log_likelihood_`` the per-iteration history (the value
    of the parameters at the start of each iteration, then of the final ones), ``n_iter_``,
    ``converged_``.
    """

    n_topics: int = 50
    max_iter: int = 200
    tol: float = 1e-5
    seed: int = 0
    n_init: int = 1
    backend: str = "numba"
    fold_in_iter: int = 200
    fold_in_tol: float = 1e-6
    doc_topic_: np.ndarray | None = field(default=None, repr=False)
    topic_word_: np.ndarray | None = field(default=None, repr=False)
    log_likelihood_: list[float] = field(default_factory=list, repr=False)
    n_iter_: int = 0
    converged_: bool = False

    def fit(self, counts: sp.spmatrix) -> "PLSA":
        """Fit on ``counts`` ``(n_docs, n_words)``, non-negative, every row with some mass."""
        self.fit_transform(counts)
        return self

    def fit_transform(self, counts: sp.spmatrix) -> np.ndarray:
        """Fit and return P(z|d) ``(n_docs, k)`` float64, rows summing to 1."""
        matrix = _as_counts(counts)
        if self.backend not in ("numba", "numpy"):
            raise SourceError(f"pLSA backend {self.backend!r} is unknown; choose 'numba' or 'numpy'")
        if np.any(np.diff(matrix.indptr) == 0):
            raise SourceError("pLSA input has empty documents (all-zero rows); remove them before fitting")
        if int(self.n_topics) < 1 or int(self.n_init) < 1:
            raise SourceError(f"pLSA needs k >= 1 topics and n_init >= 1, got k={self.n_topics}, n_init={self.n_init}")
        seeds = np.random.SeedSequence(self.seed).spawn(int(self.n_init)) if self.n_init > 1 else [self.seed]
        best = None
        for restart, seed in enumerate(seeds):
            if self.n_init > 1:
                log.info("pLSA restart %d of %d", restart + 1, self.n_init)
            result = self._fit_once(matrix, np.random.default_rng(seed))
            if best is None or result[2][-1] > best[2][-1]:
                best = result
        theta, phi_t, history, n_iter, converged = best
        self.doc_topic_ = theta
        self.topic_word_ = np.ascontiguousarray(phi_t.T)
        self.log_likelihood_, self.n_iter_, self.converged_ = history, n_iter, converged
        return theta

    def _fit_once(self, matrix: sp.csr_matrix, rng: np.random.Generator):
        n_docs, n_words = matrix.shape
        k = int(self.n_topics)
        theta = rng.random((n_docs, k)) + 0.1
        theta /= theta.sum(axis=1, keepdims=True)
        phi_t = rng.random((n_words, k)) + 0.1  # (words, topics): a word's k values are contiguous
        phi_t /= phi_t.sum(axis=0, keepdims=True)
        theta_next = np.empty_like(theta)
        phi_next = np.empty_like(phi_t)
        doc_ll = np.empty(n_docs)
        if self.backend == "numba":
            indptr = matrix.indptr.astype(np.int64, copy=False)
            ratio = np.empty(matrix.nnz)
            col_ptr, col_rows, col_pos = _csc_positions(indptr, matrix.indices, n_words)

        history: list[float] = []
        converged = False
        n_iter = 0
        total_mass = float(matrix.data.sum())
        for n_iter in range(1, self.max_iter + 1):
            if self.backend == "numba":
                _doc_pass(indptr, matrix.indices, matrix.data, theta, phi_t, ratio, theta_next, doc_ll)
                _word_pass(col_ptr, col_rows, col_pos, ratio, theta, phi_t, phi_next)
            else:
                theta_next, phi_next, doc_ll = _doc_pass_numpy(matrix, theta, phi_t)
            ll = float(doc_ll.sum())  # of the parameters this iteration started from
            phi_next /= np.maximum(phi_next.sum(axis=0, keepdims=True), _TINY)
            theta, theta_next = theta_next, theta
            phi_t, phi_next = phi_next, phi_t
            change = _relative_change(history, ll)
            history.append(ll)
            log.info("pLSA iteration %d: log-likelihood %.6e (%.5f per unit of mass, relative change %.2e)",
                     n_iter, ll, ll / total_mass, change)
            if self.tol > 0 and change < self.tol:
                converged = True
                break
        # The log-likelihood of the returned parameters closes the history.
        if self.backend == "numba":
            _doc_log_likelihood(indptr, matrix.indices, matrix.data, theta, phi_t, doc_ll)
            final_ll = float(doc_ll.sum())
        else:
            final_ll = self._log_likelihood(matrix, theta, phi_t)
        if not converged and self.tol > 0:
            converged = _relative_change(history, final_ll) < self.tol
        history.append(final_ll)
        log.info("pLSA %s after %d iterations: log-likelihood %.6e",
                 "converged" if converged else "stopped at max_iter", n_iter, final_ll)
        return theta, phi_t, history, n_iter, converged

    def transform(self, counts: sp.spmatrix) -> np.ndarray:
        """Fold new documents in: P(z|d) ``(n, k)`` float64 with P(w|z) fixed (EM on theta only).

        Documents with no mass get the uniform distribution.
        """
        if self.topic_word_ is None:
            raise SourceError("PLSA.transform needs a fitted model; call fit first")
        matrix = _as_counts(counts)
        if matrix.shape[1] != self.topic_word_.shape[1]:
            raise SourceError(f"fold-in documents have {matrix.shape[1]} words, the model {self.topic_word_.shape[1]}")
        k = self.topic_word_.shape[0]
        theta = np.full((matrix.shape[0], k), 1.0 / k)
        iterations = np.zeros(matrix.shape[0], dtype=np.int64)
        phi_t = np.ascontiguousarray(self.topic_word_.T)
        _fold_in(matrix.indptr.astype(np.int64, copy=False), matrix.indices, matrix.data, phi_t, theta,
                 int(self.fold_in_iter), float(self.fold_in_tol), iterations)
        return theta

    @staticmethod
    def _log_likelihood(matrix: sp.csr_matrix, theta: np.ndarray, phi_t: np.ndarray) -> float:
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        total = 0.0
        for start in range(0, matrix.nnz, 32_768):  # chunks bound the (chunk, k) temporaries
            stop = min(start + 32_768, matrix.nnz)
            s = np.einsum("ij,ij->i", theta[rows[start:stop]], phi_t[matrix.indices[start:stop]])
            total += float(matrix.data[start:stop] @ np.log(np.maximum(s, _TINY)))
        return total


def _relative_change(history: list[float], ll: float) -> float:
    if not history:
        return float("inf")
    return abs(ll - history[-1]) / max(abs(history[-1]), _TINY)


def _as_counts(counts: sp.spmatrix) -> sp.csr_matrix:
    """CSR float64 with int32 column indices, sorted, no explicit zeros; checks non-negativity."""
    if not sp.issparse(counts):
        raise SourceError(f"pLSA takes a scipy sparse matrix, got {type(counts).__name__}")
    matrix = sp.csr_matrix(counts, dtype=np.float64)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    if matrix.nnz and (matrix.data.min() < 0 or not np.isfinite(matrix.data).all()):
        raise SourceError("pLSA input must be finite and non-negative (counts or weights)")
    if matrix.indices.dtype != np.int32:
        matrix.indices = matrix.indices.astype(np.int32)
    return matrix
