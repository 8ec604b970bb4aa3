"""Scalar labels (bpm, year) to k-dimensional probability vectors with a Gaussian mixture
(paper Sect. 2.3: "a Gaussian mixture model ... to transform each value into a categorical
distribution of Gaussian components"; k = 50).

The values are standardised before fitting (so ``reg_covar`` means the same for years and
beats per minute), the fit is scikit-learn's EM, and the components are re-ordered by mean so
that z dimension j is the j-th lowest tempo (or era): reproducible and readable in inspection.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from mtl_music.errors import SourceError

log = logging.getLogger(__name__)

#: Column names of :attr:`ScalarMixture.components` (the ``topic_labels`` of a GMM source).
COMPONENT_COLUMNS = ["weight", "mean", "std"]


@dataclass
class ScalarMixture:
    """A fitted 1-D Gaussian mixture in the units of the raw values.

    Attributes:
        components: ``(k, 3)`` float64, columns ``weight, mean, std``, sorted by mean.
        converged: whether sklearn's EM met its tolerance.
        n_iter: EM iterations of the kept initialisation.
        log_likelihood: mean per-sample log-likelihood lower bound (standardised units).
    """

    model: GaussianMixture
    center: float
    scale: float
    order: np.ndarray
    components: np.ndarray
    converged: bool
    n_iter: int
    log_likelihood: float

    def posterior(self, values: np.ndarray) -> np.ndarray:
        """P(component | value) ``(n, k)`` float64 for values ``(n,)``, components sorted by mean."""
        x = (np.asarray(values, dtype=np.float64).reshape(-1, 1) - self.center) / self.scale
        return self.model.predict_proba(x)[:, self.order]


def fit_scalar_mixture(
    values: np.ndarray,
    *,
    k: int = 50,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-4,
    reg_covar: float = 1e-4,
    n_init: int = 1,
) -> ScalarMixture:
    """Fit a k-component 1-D GMM to ``values`` ``(n,)`` float (finite).

    Args:
        k: number of components (the paper: 50); needs at least k values.
        seed: sklearn ``random_state`` (k-means initialisation).
        max_iter, tol, n_init: sklearn's EM controls.
        reg_covar: variance floor in standardised units (a component sitting on one repeated
            value, such as a single year, keeps a width of sqrt(reg_covar) standard deviations).
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size < k:
        raise SourceError(f"a {k}-component Gaussian mixture needs at least {k} values, got {x.size}")
    if not np.isfinite(x).all():
        raise SourceError("Gaussian mixture input has non-finite values; readers must drop them")
    center = float(x.mean())
    scale = float(x.std()) or 1.0
    model = GaussianMixture(n_components=k, covariance_type="full", max_iter=max_iter, tol=tol,
                            reg_covar=reg_covar, n_init=n_init, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(((x - center) / scale).reshape(-1, 1))
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            log.warning("GMM: %s", w.message)
    means = model.means_.reshape(-1) * scale + center
    stds = np.sqrt(model.covariances_.reshape(-1)) * scale
    order = np.argsort(means, kind="stable")
    components = np.stack([model.weights_[order], means[order], stds[order]], axis=1)
    log.info("GMM with %d components on %d values: converged=%s after %d iterations", k, x.size,
             model.converged_, model.n_iter_)
    return ScalarMixture(model=model, center=center, scale=scale, order=order, components=components,
                         converged=bool(model.converged_), n_iter=int(model.n_iter_),
                         log_likelihood=float(model.lower_bound_))
