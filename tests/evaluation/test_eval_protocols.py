"""The probe protocols beyond the paper's: MARBLE's early-stopped probe, slice-level
aggregation, re-scoring deformed test audio with the probe trained on clean audio."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation import probes, transfer
from mtl_music.evaluation.probes import fit_probe, mean_per_item, probe_fit
from mtl_music.evaluation.settings import EvaluationSettings
from mtl_music.targets import TargetIndex, TargetTrack
from mtl_music.targets.base import validation_part


def blobs(n=120, dim=10, classes=3, seed=0, spread=4.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    centres = rng.standard_normal((classes, dim)) * spread
    return centres[y] + rng.standard_normal((n, dim)), y


def index_of(y, *, split=None, groups=None, name="toy"):
    classes = tuple(sorted({f"c{v}" for v in y}))
    tracks = [TargetTrack(track_id=f"t{i:03d}", path=None, label=f"c{v}", split=None if split is None else split[i],
                          group=None if groups is None else groups[i]) for i, v in enumerate(y)]
    return TargetIndex(name=name, loader="folder", task="classification", metric="accuracy", tracks=tracks,
                       classes=classes)


def test_marble_probe_learns_stops_early_and_is_deterministic():
    X, y = blobs()
    train, valid, test = np.arange(0, 80), np.arange(80, 100), np.arange(100, 120)
    fitted = fit_probe(features=X, labels=y, train_idx=train, valid_idx=valid, task="classification", seed=3,
                       protocol="marble")
    assert isinstance(fitted.model, probes._TorchProbe)
    assert fitted.model.net[0].out_features == probes.MARBLE_HIDDEN == 512
    score = fitted.score(features=X[test], labels=y[test]).score
    assert score >= 0.95
    again = fit_probe(features=X, labels=y, train_idx=train, valid_idx=valid, task="classification", seed=3,
                      protocol="marble")
    np.testing.assert_array_equal(again.outputs(X[test]), fitted.outputs(X[test]))
    other = fit_probe(features=X, labels=y, train_idx=train, valid_idx=valid, task="classification", seed=4,
                      protocol="marble")
    assert not np.array_equal(other.outputs(X[test]), fitted.outputs(X[test]))
    # overlapping classes: the 512-unit MLP overfits, the validation loss turns up, training stops
    X, y = blobs(spread=0.5, dim=40)
    fitted = fit_probe(features=X, labels=y, train_idx=train, valid_idx=valid, task="classification", seed=3,
                       protocol="marble")
    assert fitted.model.stopped_early and fitted.n_iter < probes.MARBLE_MAX_EPOCHS


def test_marble_probe_regression_and_multilabel():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((150, 6))
    Y = np.stack([X @ rng.standard_normal(6), X @ rng.standard_normal(6)], axis=1) * 10 + 3
    fitted = fit_probe(features=X, labels=Y, train_idx=np.arange(100), valid_idx=np.arange(100, 120),
                       task="regression", seed=0, protocol="marble")
    result = fitted.score(features=X[120:], labels=Y[120:])
    assert fitted.outputs(X[120:]).shape == (30, 2) and result.scores["r2"] > 0.8
    tags = (X[:, :3] > 0).astype(np.uint8)
    fitted = fit_probe(features=X, labels=tags, train_idx=np.arange(100), valid_idx=np.arange(100, 120),
                       task="multilabel", seed=0, protocol="marble")
    result = fitted.score(features=X[120:], labels=tags[120:])
    assert set(result.scores) == {"roc_auc", "pr_auc"} and result.scores["roc_auc"] > 0.9


def test_marble_probe_needs_a_disjoint_validation_part():
    X, y = blobs(n=30)
    with pytest.raises(DataError, match="valid_idx"):
        fit_probe(features=X, labels=y, train_idx=np.arange(20), task="classification", seed=0, protocol="marble")
    with pytest.raises(DataError, match="overlap"):
        fit_probe(features=X, labels=y, train_idx=np.arange(20), valid_idx=np.arange(15, 25), task="classification",
                  seed=0, protocol="marble")
    with pytest.raises(ConfigError, match="evaluation.probe"):
        fit_probe(features=X, labels=y, train_idx=np.arange(20), task="classification", seed=0, protocol="sota")
    with pytest.raises(ConfigError, match="evaluation.probe='sota'"):
        EvaluationSettings(probe="sota")


def test_the_paper_probe_through_fit_and_score_equals_probe_fit():
    X, y = blobs(n=90)
    train, test = np.arange(60), np.arange(60, 90)
    direct = probe_fit(features=X, labels=y, train_idx=train, test_idx=test, task="classification", seed=2)
    fitted = fit_probe(features=X, labels=y, train_idx=train, task="classification", seed=2)
    assert fitted.score(features=X[test], labels=y[test]).scores == direct.scores
    # a track made of three identical slices scores like the track
    rows = np.repeat(X[test], 3, axis=0)
    offsets = np.arange(0, 3 * len(test) + 1, 3)
    assert fitted.score(features=rows, labels=y[test], offsets=offsets).scores == direct.scores


def test_mean_per_item_and_bad_offsets():
    outputs = np.arange(12, dtype=float).reshape(6, 2)
    np.testing.assert_allclose(mean_per_item(outputs, np.array([0, 1, 4, 6])), [[0, 1], [4, 5], [9, 10]])
    with pytest.raises(DataError, match="offsets"):
        mean_per_item(outputs, np.array([0, 3, 3, 6]))  # an item without rows


def test_validation_part_uses_the_own_valid_split_else_a_grouped_draw():
    y = np.arange(40) % 2
    split = ["valid" if i % 10 == 0 else "train" for i in range(40)]
    index = index_of(y, split=split)
    train = np.arange(40)
    fit, valid = validation_part(index, train, fraction=0.1, seed=0, repetition=0)
    assert valid.tolist() == [0, 10, 20, 30] and len(fit) == 36
    groups = [f"album{i // 4}" for i in range(40)]
    index = index_of(y, groups=groups)
    fit, valid = validation_part(index, train, fraction=0.2, seed=0, repetition=0)
    assert not {groups[i] for i in fit} & {groups[i] for i in valid} and 4 <= len(valid) <= 12
    again = validation_part(index, train, fraction=0.2, seed=0, repetition=0)
    other = validation_part(index, train, fraction=0.2, seed=0, repetition=1)
    assert np.array_equal(again[1], valid) and not np.array_equal(other[1], valid)
    with pytest.raises(DataError, match="too few"):
        validation_part(index_of(y, groups=["one"] * 40), train, fraction=0.2, seed=0, repetition=0)


def test_protocol_with_slices_marble_and_deformed_test_audio(monkeypatch):
    monkeypatch.setattr(probes, "MAX_ITER", 50)
    X, y = blobs(n=60, spread=3.0)
    index = index_of(y)
    # every track as 2 slices around its vector: the slice protocol averages per track
    rng = np.random.default_rng(5)
    slices = np.repeat(X, 2, axis=0) + 0.1 * rng.standard_normal((120, X.shape[1]))
    offsets = np.arange(0, 121, 2)
    clean = transfer._protocol(index, slices, settings=EvaluationSettings(repetitions=2), offsets=offsets)
    assert list(clean) == [("clean", "accuracy")] and min(clean["clean", "accuracy"]) >= 0.9

    asked = []

    def deformed(positions):
        asked.append(list(positions))
        ids = [index.tracks[i].track_id for i in positions]
        noisy = X[positions] + rng.standard_normal((len(positions), X.shape[1])) * 20.0
        return {"noise:snr=0": (ids, noisy), "gain:db=0": (ids, X[positions])}

    values = transfer._protocol(index, X, settings=EvaluationSettings(repetitions=2, probe="marble"),
                                deformed=deformed)
    assert list(values) == [("clean", "accuracy"), ("noise:snr=0", "accuracy"), ("gain:db=0", "accuracy")]
    assert len(asked) == 1  # deformed features of the union of the test parts, computed once
    assert values["gain:db=0", "accuracy"] == values["clean", "accuracy"]  # an identity deformation changes nothing
    assert np.mean(values["noise:snr=0", "accuracy"]) < np.mean(values["clean", "accuracy"]) - 0.2


def test_deform_and_slices_need_representations_that_give_them(tmp_path):
    rep = transfer.Representation(run="external:x", strategy="external", sources=(),
                                  features=lambda name, tracks, root: ([t[0] for t in tracks], np.zeros((len(tracks), 2))))
    index = index_of(np.arange(10) % 2)
    with pytest.raises(ConfigError, match="no audio path to deform"):
        transfer._deformed_features(rep, index, tmp_path, EvaluationSettings(deform=("noise",),
                                                                             deformations={"noise": (10,)}))
    with pytest.raises(ConfigError, match="does not define"):
        EvaluationSettings(deform=("reverb",), deformations={"noise": (10,)})


def test_settings_from_the_composed_config_and_its_errors():
    from omegaconf import OmegaConf

    from mtl_music.config import compose

    settings = EvaluationSettings.from_cfg(compose("evaluate", ["evaluation.probe=marble", "evaluation.layers=all",
                                                                "evaluation.deform=[noise]"]).evaluation)
    assert (settings.probe, settings.layers, settings.deform) == ("marble", "all", ("noise",))
    assert settings.deformations["noise"] == (20, 10, 0)
    with pytest.raises(ConfigError, match="evaluation.repetitons is not an evaluation option"):
        EvaluationSettings.from_cfg(OmegaConf.create({"repetitons": 3}))
    with pytest.raises(ConfigError, match="evaluation.layers=\\[\\]"):
        EvaluationSettings.from_cfg({"layers": []})
    with pytest.raises(ConfigError, match="layer_mode"):
        EvaluationSettings.from_cfg({"layer_mode": "stack"})
    assert dataclasses.replace(settings, probe="paper").probe == "paper"
