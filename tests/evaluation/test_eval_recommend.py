"""Content-aware WMF (Eq. 7), the cold-start protocol and nDCG@k (R6.3)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.recommend import (
    RecommendationSplit,
    WMFSettings,
    als,
    cold_start_factors,
    cold_start_split,
    evaluate_recommendation,
    filter_plays,
    fit_content_wmf,
    implicit_warm_reference,
    ndcg_per_user,
    solve_factors,
    warm_holdout_split,
    wmf_objective,
)
from mtl_music.evaluation.recommend.ndcg import _ndcg_at_k


def planted(*, n_users=300, n_items=500, dim=16, rank=5, liked=0.1, seed=0):
    """Plays whose item factors are linear in the features: V* = X W*, P = top 10% of U* V*ᵀ."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_items, dim))
    V_true = X @ rng.standard_normal((dim, rank))
    S = rng.standard_normal((n_users, rank)) @ V_true.T
    P = S > np.quantile(S, 1 - liked, axis=1, keepdims=True)
    counts = (rng.poisson(3, P.shape) + 1) * P
    return sp.csr_matrix(counts.astype(np.float64)), X


@pytest.fixture(scope="module")
def planted_problem():
    return planted()


# ---------------------------------------------------------------------------- the solver


def test_planted_cold_start_beats_random_and_objective_decreases(planted_problem):
    R, X = planted_problem
    train, train_items, test_items = cold_start_split(R, test_fraction=0.2, seed=0)
    assert train.shape == (300, 400) and test_items.size == 100
    assert np.intersect1d(train_items, test_items).size == 0

    model = fit_content_wmf(plays=train, item_features=X[train_items], r=10, iterations=15, seed=0)
    assert model.U.shape == (300, 10) and model.V.shape == (400, 10) and model.W.shape == (16, 10)
    obj = np.array(model.objective)
    assert obj.shape == (15,)
    # Every block update is an exact minimiser, so Eq. 7 never rises (up to rounding).
    assert np.all(np.diff(obj) <= 1e-9 * obj[:-1]), np.diff(obj)
    assert obj[-1] < 0.7 * obj[0]

    relevant = (R[:, test_items] > 0).astype(np.float64)
    V_cold = cold_start_factors(model, X[test_items])
    ours = _ndcg_at_k(scores=model.U @ V_cold.T, relevant=relevant, k=500)
    rng = np.random.default_rng(1)
    chance = np.mean([_ndcg_at_k(scores=rng.random((300, 100)), relevant=relevant) for _ in range(3)])
    noise_model = fit_content_wmf(plays=train, item_features=rng.standard_normal((400, 16)), r=10, seed=0)
    noise = _ndcg_at_k(scores=noise_model.U @ cold_start_factors(noise_model, rng.standard_normal((100, 16))).T,
                      relevant=relevant)
    assert ours > 0.9 and chance < 0.5 and noise < 0.55, (ours, chance, noise)


def test_objective_matches_dense_formula():
    rng = np.random.default_rng(3)
    R = sp.random(7, 9, density=0.4, random_state=4, format="csr", data_rvs=lambda n: rng.integers(1, 9, n))
    U, V = rng.standard_normal((7, 3)), rng.standard_normal((9, 3))
    X, W = rng.standard_normal((9, 4)), rng.standard_normal((4, 3))
    s = WMFSettings(r=3, alpha=0.1, lambda_u=0.3, lambda_v=0.2, lambda_w=0.5)
    C = R.copy()
    C.data = 1 + 0.1 * C.data
    Rd = R.toarray()
    dense = (np.sum((1 + 0.1 * Rd) * ((Rd > 0) - U @ V.T) ** 2) + 0.2 / 2 * np.sum((V - X @ W) ** 2)
             + 0.3 / 2 * np.sum(U**2) + 0.5 / 2 * np.sum(W**2))
    assert wmf_objective(confidence=C, U=U, V=V, X=X, W=W, settings=s) == pytest.approx(dense, rel=1e-12)


@pytest.mark.parametrize("big_row", [256, 2])  # batched path only / per-row path for most rows
def test_closed_form_updates_equal_dense_solves(monkeypatch, big_row):
    monkeypatch.setattr(als, "_BIG_ROW", big_row)
    rng = np.random.default_rng(5)
    n_users, n_items, r = 6, 8, 3
    Rd = rng.integers(1, 20, (n_users, n_items)) * (rng.random((n_users, n_items)) < 0.45)
    Rd[0] = 0  # a user with no interaction: only the regulariser and YᵀY remain
    Rd[1] = rng.integers(1, 5, n_items)  # a user who played everything
    C = sp.csr_matrix(np.where(Rd > 0, 1.0 + 0.1 * Rd, 0.0))  # stored entries = observed ones
    Cd, Pd = 1 + 0.1 * Rd, (Rd > 0).astype(float)
    V = rng.standard_normal((n_items, r))
    lam = 0.7

    U = solve_factors(confidence=C, fixed=V, reg=lam / 2)
    for u in range(n_users):
        # min Σ_i c_ui (p_ui − uᵀv_i)² + λ/2 ‖u‖²  ⇔  (Vᵀ C_u V + λ/2 I) u = Vᵀ C_u p_u, with dense C_u.
        A = V.T @ np.diag(Cd[u]) @ V + lam / 2 * np.eye(r)
        np.testing.assert_allclose(U[u], np.linalg.solve(A, V.T @ (Cd[u] * Pd[u])), rtol=1e-10, atol=1e-12)

    # The item update with the content prior λV/2 ‖v_i − Wᵀx_i‖².
    prior = rng.standard_normal((n_items, r))
    Vn = solve_factors(confidence=C.T.tocsr(), fixed=U, reg=lam / 2, prior=prior, prior_weight=lam / 2)
    for i in range(n_items):
        A = U.T @ np.diag(Cd[:, i]) @ U + lam / 2 * np.eye(r)
        b = U.T @ (Cd[:, i] * Pd[:, i]) + lam / 2 * prior[i]
        np.testing.assert_allclose(Vn[i], np.linalg.solve(A, b), rtol=1e-10, atol=1e-12)


def test_w_is_the_ridge_solution_and_features_are_standardised(planted_problem):
    R, X = planted_problem
    X = X * 100 + 7  # units must not matter with standardize=True
    model = fit_content_wmf(plays=R, item_features=X, r=4, iterations=2, seed=0)
    Z = (X - X.mean(0)) / X.std(0)
    W = np.linalg.solve(Z.T @ Z + 0.1 / 1e-5 * np.eye(Z.shape[1]), Z.T @ model.V)
    np.testing.assert_allclose(model.W, W, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(cold_start_factors(model, X[:3]), Z[:3] @ model.W, rtol=1e-10)
    raw = fit_content_wmf(plays=R, item_features=X, r=4, iterations=1, seed=0, standardize=False)
    assert raw.feature_mean is None
    np.testing.assert_allclose(cold_start_factors(raw, X[:3]), X[:3] @ raw.W)


# ---------------------------------------------------------------------------- nDCG


def test_ndcg_hand_computed():
    scores = np.array([
        [0.9, 0.1, 0.8, 0.3, 0.5, 0.2],  # ranking 0,2,4,3,5,1 → relevant {2,3} at ranks 2 and 4
        [0.5, 0.4, 0.3, 0.2, 0.1, 0.0],  # nothing relevant → skipped
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # item 4 seen in training → ranking 5,3,2,1,0: {0,5} at 5 and 1
    ])
    relevant = sp.csr_matrix(np.array([[0, 0, 1, 1, 0, 0], [0] * 6, [1, 0, 0, 0, 0, 1]]))
    seen = sp.csr_matrix(np.array([[0] * 6, [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 0]]))
    # user 0: DCG = 1/log2(3) + 1/log2(5) = 0.63092975 + 0.43067656; IDCG = 1 + 1/log2(3)
    # user 2: DCG = 1 + 1/log2(6) = 1 + 0.38685281;                   IDCG = 1 + 1/log2(3)
    per_user = ndcg_per_user(scores=scores, relevant=relevant, train_seen=seen, k=500)
    np.testing.assert_allclose(per_user[[0, 2]], [0.6509209298071326, 0.8503449055347546], rtol=1e-12)
    assert np.isnan(per_user[1])
    assert _ndcg_at_k(scores=scores, relevant=relevant, train_seen=seen, k=500) == pytest.approx(0.7506329176709436)
    # k = 3: user 0 keeps only the rank-2 hit, user 2 only the rank-1 hit; IDCG over min(3, 2) items.
    np.testing.assert_allclose(ndcg_per_user(scores=scores, relevant=relevant, train_seen=seen, k=3)[[0, 2]],
                               [0.38685280723454163, 0.6131471927654584], rtol=1e-12)
    # The ideal DCG is cut at k: with k = 1 and two relevant items the best possible is 1.0.
    assert ndcg_per_user(scores=scores, relevant=relevant, k=1)[2] == pytest.approx(1.0)


def test_ndcg_ties_rank_lower_index_first():
    scores = np.zeros((1, 5))
    relevant = sp.csr_matrix(np.array([[0, 0, 0, 0, 1]]))
    # All tied → order 0..4 → the relevant item at rank 5, deterministic for every k.
    assert _ndcg_at_k(scores=scores, relevant=relevant, k=5) == pytest.approx(1 / np.log2(6))
    assert _ndcg_at_k(scores=scores, relevant=relevant, k=4) == 0.0


def test_ndcg_errors():
    rel = sp.csr_matrix(np.array([[1, 0]]))
    with pytest.raises(DataError, match="NaN"):
        _ndcg_at_k(scores=np.array([[np.nan, 1.0]]), relevant=rel)
    with pytest.raises(DataError, match="shape"):
        _ndcg_at_k(scores=np.zeros((1, 3)), relevant=rel)
    with pytest.raises(DataError, match="no user has a relevant"):
        _ndcg_at_k(scores=np.zeros((1, 2)), relevant=sp.csr_matrix((1, 2)))
    with pytest.raises(ConfigError, match="k=0"):
        _ndcg_at_k(scores=np.zeros((1, 2)), relevant=rel, k=0)


# ---------------------------------------------------------------------------- protocol


def test_evaluate_recommendation_repetitions_and_candidates(planted_problem):
    R, X = planted_problem
    s = WMFSettings(r=10, iterations=8)
    cold = evaluate_recommendation(plays=R, features=X, n_repetitions=2, seed=0, settings=s)
    assert len(cold) == 2 and all(v > 0.9 for v in cold)
    # The same splits passed explicitly give the same numbers.
    splits = [RecommendationSplit(*cold_start_split(R, seed=rep)[1:]) for rep in range(2)]
    assert evaluate_recommendation(plays=R, features=X, splits=splits, seed=0, settings=s) == cold
    # Ranking all tracks is harder (warm tracks compete) but still far above chance.
    both = evaluate_recommendation(plays=R, features=X, splits=splits[:1], candidates="all", settings=s)
    assert 0.15 < both[0] < cold[0]


def test_implicit_reference_agrees_with_our_solver_on_warm_items(planted_problem):
    R, X = planted_problem
    warm = implicit_warm_reference(plays=R, n_repetitions=1, seed=0, settings=WMFSettings(r=10, iterations=5))
    assert len(warm) == 1 and warm[0] > 0.6
    # Our ALS on the very same warm split (λV is tiny, so it is nearly plain WMF) lands at the same
    # quality as implicit's Cython ALS: an independent check of the solver (measured 0.874 vs 0.866).
    train, train_items, _ = cold_start_split(R, seed=0)
    fit, held = warm_holdout_split(train, seed=0)
    model = fit_content_wmf(plays=fit, item_features=X[train_items], r=10, iterations=5, seed=0)
    ours = _ndcg_at_k(scores=model.U @ model.V.T, relevant=held, train_seen=fit, k=500)
    assert ours == pytest.approx(warm[0], abs=0.03)


def test_warm_holdout_split_is_a_partition():
    R = sp.random(20, 30, density=0.3, random_state=0, format="csr") * 10
    fit, held = warm_holdout_split(R, test_fraction=0.2, seed=0)
    np.testing.assert_allclose((fit + held).toarray(), R.toarray())
    assert fit.multiply(held).nnz == 0
    assert (np.diff(fit.indptr) >= 1)[np.diff(R.tocsr().indptr) > 0].all()  # every user keeps one
    assert held.nnz == pytest.approx(0.2 * R.nnz, rel=0.25)


def test_filter_plays_until_both_limits_hold():
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 60)) < 0.15) * rng.integers(1, 5, (40, 60))
    dense[0, :] = 0
    dense[0, :3] = 1  # a user with 3 tracks
    R, users, items = filter_plays(sp.csr_matrix(dense), min_user_items=5, min_item_users=5)
    assert 0 not in users
    B = R.toarray() > 0
    assert (B.sum(1) >= 5).all() and (B.sum(0) >= 5).all()
    np.testing.assert_array_equal(R.toarray(), dense[np.ix_(users, items)])
    with pytest.raises(DataError, match="too sparse"):
        filter_plays(sp.csr_matrix(np.eye(6)), min_user_items=5, min_item_users=5)


def test_inputs_are_not_modified():
    R = sp.csr_matrix(np.array([[3.0, 0.0, 1.0], [0.0, 2.0, 0.0]]))
    R.data[1] = 0.0  # an explicit zero the solver drops internally
    before = (R.data.copy(), R.indices.copy(), R.indptr.copy())
    X = np.arange(6.0).reshape(3, 2)
    fit_content_wmf(plays=R, item_features=X, r=2, iterations=1)
    for now, then in zip((R.data, R.indices, R.indptr), before):
        np.testing.assert_array_equal(now, then)
    np.testing.assert_array_equal(X, np.arange(6.0).reshape(3, 2))


def test_input_errors(planted_problem):
    R, X = planted_problem
    with pytest.raises(DataError, match="scipy sparse"):
        fit_content_wmf(plays=R.toarray(), item_features=X)
    with pytest.raises(DataError, match="one feature row per track"):
        fit_content_wmf(plays=R, item_features=X[:-1])
    bad = X.copy()
    bad[[3, 7]] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinite values in 2 rows \(first: \[3, 7\]\)"):
        evaluate_recommendation(plays=R, features=bad, n_repetitions=1)
    with pytest.raises(DataError, match="negative"):
        fit_content_wmf(plays=sp.csr_matrix(-np.ones((2, 2))), item_features=np.ones((2, 1)))
    with pytest.raises(ConfigError, match="lambda_v"):
        fit_content_wmf(plays=R, item_features=X, lambda_v=0.0)
    with pytest.raises(ConfigError, match="candidates"):
        evaluate_recommendation(plays=R, features=X, candidates="warm")
    with pytest.raises(DataError, match="both train_items and test_items"):
        evaluate_recommendation(plays=R, features=X, splits=[(np.arange(10), np.arange(5, 20))])
    with pytest.raises(ConfigError, match="test_fraction"):
        cold_start_split(R, test_fraction=1.5)
