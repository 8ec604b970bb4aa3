"""GMM posteriors for scalar sources; TF-IDF for lyrics."""

import numpy as np
import pytest
import scipy.sparse as sp

from mtl_music.errors import ConfigError, SourceError
from mtl_music.sources.gmm import fit_scalar_mixture
from mtl_music.sources.tfidf import tfidf


def test_gmm_posterior_peaks_at_the_right_component():
    rng = np.random.default_rng(0)
    planted = np.array([60.0, 90.0, 120.0, 150.0, 180.0])
    values = np.concatenate([rng.normal(m, 2.0, 200) for m in planted])
    mixture = fit_scalar_mixture(values, k=5, seed=0)
    weights, means, stds = mixture.components.T
    np.testing.assert_allclose(means, planted, atol=1.0)  # sorted by mean
    np.testing.assert_allclose(stds, 2.0, rtol=0.25)
    np.testing.assert_allclose(weights, 0.2, atol=0.02)
    post = mixture.posterior(planted + rng.normal(0, 1.0, planted.shape))
    np.testing.assert_allclose(post.sum(axis=1), 1.0)
    assert list(post.argmax(axis=1)) == [0, 1, 2, 3, 4]
    assert post.max(axis=1).min() > 0.99


def test_gmm_needs_as_many_values_as_components():
    with pytest.raises(SourceError, match="at least 50"):
        fit_scalar_mixture(np.arange(10.0), k=50)


@pytest.mark.parametrize("smooth_idf,sublinear_tf,norm", [(True, False, "l2"), (False, True, "l1"), (True, True, None)])
def test_tfidf_matches_scikit_learn(smooth_idf, sublinear_tf, norm):
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(1)
    counts = sp.random(40, 30, density=0.2, format="csr", random_state=1,
                       data_rvs=lambda n: rng.integers(1, 9, n).astype(float))
    ours = tfidf(counts, smooth_idf=smooth_idf, sublinear_tf=sublinear_tf, norm=norm)
    theirs = TfidfTransformer(smooth_idf=smooth_idf, sublinear_tf=sublinear_tf, norm=norm).fit_transform(counts)
    assert sp.issparse(ours) and ours.nnz == counts.nnz
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-12)


def test_tfidf_down_weights_words_in_every_document():
    counts = sp.csr_matrix(np.array([[5.0, 1.0, 0.0], [5.0, 0.0, 1.0], [5.0, 1.0, 0.0]]))  # word 0 = "the"
    weighted = tfidf(counts, norm=None).toarray()
    assert weighted[0, 0] / weighted[0, 1] < 5.0
    with pytest.raises(ConfigError, match="norm"):
        tfidf(counts, norm="max")
