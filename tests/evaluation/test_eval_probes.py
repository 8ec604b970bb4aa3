"""MLP probes (R6.2)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation import probes
from mtl_music.evaluation.probes import _probe_score, _random_splits, _run_probes, probe_fit, run_probe_details


def blobs(n=160, dim=12, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.standard_normal((classes, dim)) * 4
    return centres[y] + rng.standard_normal((n, dim)), y


def test_classification_probe_learns_separable_classes():
    X, y = blobs()
    X = X * 1000 + 50  # StandardScaler (fit on the training part) removes the units
    splits = _random_splits(n=len(y), n_repetitions=2, strata=y, seed=0)
    scores = _run_probes(features=X, labels=y, splits=splits, task="classification", seed=0)
    assert len(scores) == 2 and min(scores) >= 0.9
    # Same seed → same score; string labels work the same way.
    train, test = splits[0]
    names = np.array(["jazz", "rock", "pop"])[y]
    assert _probe_score(features=X, labels=names, train_idx=train, test_idx=test, task="classification",
                       seed=0) == scores[0]


def test_regression_probe_reports_r2():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 8))
    y = X @ rng.standard_normal(8) + 0.05 * rng.standard_normal(200)
    train, test = _random_splits(n=200, n_repetitions=1, seed=3)[0]
    assert _probe_score(features=X, labels=y, train_idx=train, test_idx=test, task="regression", seed=0) > 0.8
    # Two targets at once (arousal, valence): uniform average R².
    Y = np.stack([y, -y], axis=1)
    assert _probe_score(features=X, labels=Y, train_idx=train, test_idx=test, task="regression", seed=0) > 0.8


def test_repetition_r_uses_seed_plus_r(monkeypatch):
    seen = []
    real = probes.probe_fit

    def spy(**kwargs):
        seen.append(kwargs["seed"])
        return real(**kwargs)

    monkeypatch.setattr(probes, "probe_fit", spy)
    X, y = blobs(n=60)
    _run_probes(features=X, labels=y, splits=_random_splits(n=60, n_repetitions=3, strata=y), task="classification",
               seed=10)
    assert seen == [10, 11, 12]


def test_unconverged_fits_are_counted_not_warned(monkeypatch, caplog):
    monkeypatch.setattr(probes, "MAX_ITER", 2)  # far too few epochs: sklearn would warn
    X, y = blobs(n=60)
    splits = _random_splits(n=60, n_repetitions=2, strata=y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any escaping warning fails the test
        with caplog.at_level("INFO", logger="mtl_music.evaluation.probes"):
            details = run_probe_details(features=X, labels=y, splits=splits, task="classification")
    assert [d.converged for d in details] == [False, False] and all(d.n_iter == 2 for d in details)
    assert "2 of 2 probe fits stopped" in caplog.text


def test_probe_uses_the_paper_settings(monkeypatch):
    from sklearn import neural_network

    captured = {}
    real = neural_network.MLPClassifier

    class Spy(real):
        def fit(self, X, y):
            captured.update(self.get_params())
            return super().fit(X, y)

    monkeypatch.setattr(neural_network, "MLPClassifier", Spy)
    X, y = blobs(n=60)
    train, test = _random_splits(n=60, n_repetitions=1, strata=y)[0]
    probe_fit(features=X, labels=y, train_idx=train, test_idx=test, task="classification", seed=4)
    defaults = real().get_params()
    expected = {**defaults, "hidden_layer_sizes": (256, 256), "activation": "relu", "solver": "adam",
                "max_iter": 200, "random_state": 4}
    assert captured == expected


def test_probe_errors():
    X, y = blobs(n=40)
    train, test = np.arange(30), np.arange(30, 40)
    bad = X.copy()
    bad[[2, 35]] = np.inf
    with pytest.raises(DataError, match=r"NaN or infinite values in 2 rows \(first: \[2, 35\]\)"):
        _probe_score(features=bad, labels=y, train_idx=train, test_idx=test, task="classification", seed=0)
    with pytest.raises(DataError, match="single class"):
        _probe_score(features=X, labels=np.zeros(40, int), train_idx=train, test_idx=test, task="classification",
                    seed=0)
    with pytest.raises(DataError, match="constant on the training part"):
        _probe_score(features=X, labels=np.ones(40), train_idx=train, test_idx=test, task="regression", seed=0)
    with pytest.raises(DataError, match="both train_idx and test_idx"):
        _probe_score(features=X, labels=y, train_idx=train, test_idx=np.arange(25, 40), task="classification",
                    seed=0)
    with pytest.raises(DataError, match="40 rows"):
        _probe_score(features=X, labels=y[:-1], train_idx=train, test_idx=test, task="classification", seed=0)
    with pytest.raises(DataError, match="outside"):
        _probe_score(features=X, labels=y, train_idx=train, test_idx=np.array([41]), task="classification", seed=0)
    with pytest.raises(ConfigError, match="task"):
        _probe_score(features=X, labels=y, train_idx=train, test_idx=test, task="ranking", seed=0)
    with pytest.raises(DataError, match="single item"):
        _random_splits(n=4, strata=np.array([0, 0, 1, 2]))


def test_random_splits_are_stratified_and_reproducible():
    y = np.repeat(np.arange(4), 25)
    a = _random_splits(n=100, n_repetitions=5, strata=y, seed=7)
    b = _random_splits(n=100, n_repetitions=5, strata=y, seed=7)
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(a, b))
    for train, test in a:
        assert test.size == 20 and np.intersect1d(train, test).size == 0
        assert np.bincount(y[test]).tolist() == [5, 5, 5, 5]
    assert not np.array_equal(a[0][1], a[1][1])
