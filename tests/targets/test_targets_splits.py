"""The shared split helpers of mtl_music.targets.base, on synthetic indexes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mtl_music.errors import DataError
from mtl_music.targets.base import (
    TargetIndex,
    TargetTrack,
    group_stratified_splits,
    predefined_splits,
    random_splits,
    repetition_seed,
    stratified_splits,
)


def _index(labels, *, groups=None, splits=None, test_fraction=0.2) -> TargetIndex:
    tracks = [TargetTrack(track_id=f"t{i:04d}", path=Path(f"/x/{i}.wav"), label=label,
                          split=splits[i] if splits else None, group=groups[i] if groups else None)
              for i, label in enumerate(labels)]
    return TargetIndex(name="synthetic", loader="ballroom", task="classification", metric="accuracy",
                       tracks=tracks, classes=tuple(sorted(set(labels))), test_fraction=test_fraction)


def test_repetition_seeds_are_distinct_across_seed_and_repetition():
    seeds = {repetition_seed(s, r) for s in range(20) for r in range(20)}
    assert len(seeds) == 400 and repetition_seed(3, 1) == repetition_seed(3, 1)


def test_stratified_keeps_class_shares_and_unbalanced_classes():
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 10
    index = _index(labels)
    result = stratified_splits(index, n_repetitions=5, seed=7)
    for train, test in result:
        assert Counter(np.array(labels)[test]) == {"a": 10, "b": 6, "c": 2}
        assert len(train) + len(test) == 90
    assert len({tuple(test) for _, test in result}) == 5
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(result, stratified_splits(index, n_repetitions=5, seed=7)))


def test_group_stratified_never_splits_a_group_and_holds_out_about_a_fifth():
    rng = np.random.default_rng(0)
    labels, groups = [], []
    for song in range(100):
        cls = "abcd"[song % 4]
        for _ in range(int(rng.integers(1, 5))):
            labels.append(cls)
            groups.append(f"song{song}")
    index = _index(labels, groups=groups)
    groups_arr = np.array(groups)
    labels_arr = np.array(labels)
    for train, test in group_stratified_splits(index, n_repetitions=5, seed=0):
        assert not set(groups_arr[train]) & set(groups_arr[test])
        assert 0.12 < len(test) / len(labels) < 0.28
        assert set(labels_arr[test]) == set("abcd")


def test_group_stratified_needs_enough_groups():
    index = _index(["a", "a", "b", "b"], groups=["g1", "g1", "g2", "g2"])
    with pytest.raises(DataError, match="2 song group\\(s\\) cannot be split 5 ways"):
        group_stratified_splits(index)


def test_predefined_reuses_the_split_and_needs_both_sides():
    splits = ["train", "valid", "test", "train", "test"]
    index = _index(list("ababa"), splits=splits)
    result = predefined_splits(index, n_repetitions=3)
    assert len(result) == 3
    assert all(train.tolist() == [0, 1, 3] and test.tolist() == [2, 4] for train, test in result)
    with pytest.raises(DataError, match="0 test tracks"):
        predefined_splits(_index(list("ab"), splits=["train", "valid"]))
    with pytest.raises(DataError, match="every track needs a split"):
        predefined_splits(_index(list("ab")))


def test_random_splits_hold_out_the_fraction():
    index = _index(["x"] * 50, test_fraction=0.3)
    result = random_splits(index, n_repetitions=4, seed=1)
    assert all(len(test) == 15 for _, test in result)
    assert len({tuple(test) for _, test in result}) == 4


def test_stratified_refuses_an_impossible_split():
    with pytest.raises(DataError, match="cannot be split"):
        stratified_splits(_index(list("aabbccdd")), n_repetitions=1)


def test_n_repetitions_must_be_positive():
    with pytest.raises(ValueError, match="n_repetitions"):
        random_splits(_index(["x"] * 10), n_repetitions=0)


def test_index_rejects_inconsistent_fields():
    with pytest.raises(ValueError, match="metric"):
        TargetIndex(name="x", loader="gtzan", task="classification", metric="r2", tracks=[])
    track = TargetTrack(track_id="a", path=Path("/a.wav"), label="rock", split=None)
    with pytest.raises(ValueError, match="duplicate"):
        TargetIndex(name="x", loader="gtzan", task="classification", metric="accuracy", tracks=[track, track],
                    classes=("rock",))
    with pytest.raises(ValueError, match="classes"):
        TargetIndex(name="x", loader="gtzan", task="classification", metric="accuracy", tracks=[track], classes=("pop",))
