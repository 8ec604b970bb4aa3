"""The multi-label probe (one-vs-rest MLPs, ROC-AUC and PR-AUC) and the transfer protocol's rows
for a target with two metrics."""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np
import pytest

from mtl_music.errors import DataError
from mtl_music.evaluation import probes
from mtl_music.evaluation.probes import TASK_SCORES, _random_splits, probe_fit, run_probe_details
from mtl_music.targets import TASK_EXTRA_METRICS, TASK_METRICS


def tagged(n=120, dim=10, tags=4, seed=0):
    """Features and tags: tag j is on where feature j is positive (separable), so every tag
    has positives and negatives on both sides of any sizeable split."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim))
    return X * 100 + 7, (X[:, :tags] > 0).astype(np.uint8)


def test_probe_scores_name_the_targets_metrics():
    for task, scores in TASK_SCORES.items():
        assert scores == (TASK_METRICS[task], *TASK_EXTRA_METRICS.get(task, ()))


def test_multilabel_probe_reports_roc_auc_and_pr_auc_on_separable_tags():
    X, Y = tagged()
    train, test = _random_splits(n=len(Y), n_repetitions=1, seed=1)[0]
    result = probe_fit(features=X, labels=Y, train_idx=train, test_idx=test, task="multilabel", seed=0)
    assert set(result.scores) == {"roc_auc", "pr_auc"} and result.score == result.scores["roc_auc"]
    assert result.scores["roc_auc"] > 0.9 and result.scores["pr_auc"] > 0.85
    assert (result.skipped_tags, result.constant_tags) == (0, 0) and result.n_iter > 0
    # random tags: near chance, far below the separable ones
    shuffled = np.random.default_rng(2).permutation(Y)
    chance = probe_fit(features=X, labels=shuffled, train_idx=train, test_idx=test, task="multilabel", seed=0)
    assert chance.scores["roc_auc"] < 0.75


def test_the_scaler_is_fitted_on_the_training_part_and_each_tag_has_the_paper_mlp(monkeypatch):
    from sklearn import neural_network

    fitted = []
    real = neural_network.MLPClassifier

    class Spy(real):
        def fit(self, X, y):
            fitted.append((self.get_params()["hidden_layer_sizes"], X.mean(axis=0)))
            return super().fit(X, y)

    monkeypatch.setattr(neural_network, "MLPClassifier", Spy)
    X, Y = tagged(n=60)
    train, test = np.arange(45), np.arange(45, 60)
    probe_fit(features=X, labels=Y, train_idx=train, test_idx=test, task="multilabel", seed=0)
    assert len(fitted) == Y.shape[1] and all(sizes == (256, 256) for sizes, _ in fitted)
    assert all(np.allclose(mean, 0.0, atol=1e-9) for _, mean in fitted)  # z-scored with train statistics


def test_tags_without_both_classes_are_counted_not_warned(caplog):
    X, Y = tagged(n=80)
    train, test = np.arange(60), np.arange(60, 80)
    Y = np.concatenate([Y, np.zeros((80, 2), np.uint8)], axis=1)
    Y[test, 4] = 1  # tag 4: no positive in training (constant), all positive in test (unscored)
    Y[train[:5], 5] = 1  # tag 5: positives in training only (no positive in test: unscored)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's "Label not 4 is present in all training examples" is counted
        with caplog.at_level(logging.WARNING, logger="mtl_music.evaluation.probes"):
            details = run_probe_details(features=X, labels=Y, splits=[(train, test)], task="multilabel")
    assert (details[0].skipped_tags, details[0].constant_tags) == (2, 1)
    assert "2 tag score(s) were left out" in caplog.text and "1 tag(s) had a single class" in caplog.text


def test_multilabel_probe_errors():
    X, Y = tagged(n=40)
    train, test = np.arange(30), np.arange(30, 40)
    with pytest.raises(DataError, match="0/1 indicator matrix"):
        probe_fit(features=X, labels=Y[:, 0], train_idx=train, test_idx=test, task="multilabel", seed=0)
    with pytest.raises(DataError, match="0/1 indicator matrix"):
        probe_fit(features=X, labels=Y * 2, train_idx=train, test_idx=test, task="multilabel", seed=0)
    with pytest.raises(DataError, match="no tag has both a positive and a negative track in the training part"):
        probe_fit(features=X, labels=np.ones_like(Y), train_idx=train, test_idx=test, task="multilabel", seed=0)
    one_sided = Y.copy()
    one_sided[test] = 1
    with pytest.raises(DataError, match="in the 10-track test part"):
        probe_fit(features=X, labels=one_sided, train_idx=train, test_idx=test, task="multilabel", seed=0)


def test_protocol_gives_every_metric_of_a_multilabel_target(monkeypatch):
    from mtl_music.evaluation import transfer
    from mtl_music.evaluation.settings import EvaluationSettings
    from mtl_music.targets import TargetIndex, TargetTrack

    X, Y = tagged(n=60)
    names = ("a", "b", "c", "d")
    tracks = [TargetTrack(track_id=f"t{i}", path=None, split=None,
                          label=tuple(n for n, on in zip(names, row) if on) or ("a",)) for i, row in enumerate(Y)]
    index = TargetIndex(name="mine", loader="folder", task="multilabel", metric="roc_auc", tracks=tracks, classes=names)
    monkeypatch.setattr(probes, "MAX_ITER", 20)  # speed: the metric plumbing is under test, not the fit
    values = transfer._protocol(index, X, settings=EvaluationSettings(repetitions=2))
    assert list(values) == [("clean", "roc_auc"), ("clean", "pr_auc")] and all(len(v) == 2 for v in values.values())
    assert all(0.5 < v <= 1.0 for v in values["clean", "roc_auc"] + values["clean", "pr_auc"])
    regression = dataclasses.replace(index, task="regression", metric="r2", classes=(),
                                     tracks=[dataclasses.replace(t, label=float(i)) for i, t in enumerate(tracks)])
    assert list(transfer._protocol(regression, X, settings=EvaluationSettings(repetitions=1))) == [("clean", "r2")]
