"""pLSA: planted topics are recovered, EM never lowers the likelihood, fold-in agrees with the fit."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from mtl_music.errors import SourceError
from mtl_music.sources.plsa import PLSA


def planted_corpus(*, seed=0, k=8, n_words=200, n_docs=1500, doc_length=60):
    """Documents drawn from known topic-word distributions (sparse Dirichlet topics)."""
    rng = np.random.default_rng(seed)
    topics = np.vstack([rng.dirichlet(np.full(n_words, 0.05)) for _ in range(k)])
    mixtures = rng.dirichlet(np.full(k, 0.2), size=n_docs)
    probs = mixtures @ topics
    counts = np.vstack([rng.multinomial(doc_length, p / p.sum()) for p in probs]).astype(np.float64)
    counts = counts[counts.sum(axis=1) > 0]
    return sp.csr_matrix(counts), topics


def matched_cosines(found, planted):
    a = found / np.linalg.norm(found, axis=1, keepdims=True)
    b = planted / np.linalg.norm(planted, axis=1, keepdims=True)
    sim = a @ b.T
    rows, cols = linear_sum_assignment(-sim)
    return sim[rows, cols]


@pytest.fixture(scope="module")
def fitted():
    counts, topics = planted_corpus()
    model = PLSA(n_topics=topics.shape[0], max_iter=400, tol=1e-8, seed=0, n_init=3)
    theta = model.fit_transform(counts)
    return counts, topics, model, theta


def test_planted_topics_are_recovered(fitted):
    _, topics, model, _ = fitted
    assert model.topic_word_.shape == topics.shape
    assert matched_cosines(model.topic_word_, topics).min() > 0.9


def test_distributions_sum_to_one(fitted):
    _, _, model, theta = fitted
    np.testing.assert_allclose(theta.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(model.topic_word_.sum(axis=1), 1.0, atol=1e-9)
    assert theta.min() >= 0 and model.topic_word_.min() >= 0


def test_log_likelihood_never_decreases(fitted):
    _, _, model, _ = fitted
    ll = np.asarray(model.log_likelihood_)
    assert len(ll) == model.n_iter_ + 1
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[:-1]))
    assert ll[-1] > ll[0]


def test_fold_in_of_a_training_document_matches_its_fit(fitted):
    counts, _, model, theta = fitted
    folded = model.transform(counts[:50])
    np.testing.assert_allclose(folded.sum(axis=1), 1.0, atol=1e-9)
    assert np.abs(folded - theta[:50]).max() < 0.05
    assert np.mean(folded.argmax(1) == theta[:50].argmax(1)) > 0.95


def test_numba_and_numpy_backends_agree():
    counts, _ = planted_corpus(seed=3, n_docs=300)
    fast = PLSA(n_topics=5, max_iter=15, tol=0, seed=1).fit(counts)
    reference = PLSA(n_topics=5, max_iter=15, tol=0, seed=1, backend="numpy").fit(counts)
    np.testing.assert_allclose(fast.topic_word_, reference.topic_word_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.doc_topic_, reference.doc_topic_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.log_likelihood_, reference.log_likelihood_, rtol=1e-12)
    assert fast.n_iter_ == 15 and not fast.converged_


def test_tolerance_stops_early_and_seed_reproduces():
    counts, _ = planted_corpus(seed=4, n_docs=300)
    a = PLSA(n_topics=4, max_iter=500, tol=1e-4, seed=7).fit(counts)
    b = PLSA(n_topics=4, max_iter=500, tol=1e-4, seed=7).fit(counts)
    assert a.converged_ and a.n_iter_ < 500
    np.testing.assert_array_equal(a.doc_topic_, b.doc_topic_)


def test_bad_input_is_refused():
    with pytest.raises(SourceError, match="empty documents"):
        PLSA(n_topics=2).fit(sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 0.0]])))
    with pytest.raises(SourceError, match="non-negative"):
        PLSA(n_topics=2).fit(sp.csr_matrix(np.array([[1.0, -1.0]])))
    with pytest.raises(SourceError, match="sparse"):
        PLSA(n_topics=2).fit(np.ones((2, 2)))
    with pytest.raises(SourceError, match="fitted"):
        PLSA(n_topics=2).transform(sp.csr_matrix(np.ones((1, 2))))
