"""The content-aware weighted matrix factorisation of Eq. 7 (R6.3): settings, fit by ALS, cold-start factors.

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

A decision the paper leaves open:

* Features are z-scored with the training tracks' mean and standard deviation before ``X W``
  (``standardize=True``). The ridge weight λW/λV = 1e4 acts on the feature scale, and the
  representations compared (120-d MFCCs in the hundreds, ReLU features near 0–1) differ in scale
  by orders of magnitude; z-scoring makes the comparison about content, not units. There is no
  intercept, exactly as in Eq. 7; a shared offset of all item factors adds the same amount to every
  item of one user, so it cannot change a ranking among held-out tracks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.recommend.inputs import check_finite, check_plays

log = logging.getLogger(__name__)

#: Rows with more interactions than this are solved one at a time (one GEMM each); the rest in
#: zero-padded batches. Above ~256 a row's own GEMM amortises the Python call.
_BIG_ROW = 256
#: Floats per gathered (rows, padded length, r) stack in the batched path (~128 MiB in float64).
_STACK_FLOATS = 1 << 24


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
        check_finite(X, "features")
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
    R = check_plays(plays)
    n_users, n_items = R.shape
    # A private float64 copy, z-scored in place (at D = 4096 and 40k tracks one copy is 1.3 GB).
    X = np.array(item_features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != n_items:
        raise DataError(
            f"item_features has shape {X.shape} but plays has {n_items} item columns; "
            "pass one feature row per track, in the column order of plays"
        )
    check_finite(X, "item_features")

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
