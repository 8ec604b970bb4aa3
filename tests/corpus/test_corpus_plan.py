"""The catalog of works, the mix, track ids and splits (header reading only, no rendering)."""

from __future__ import annotations

import re

import pytest

from mtl_music.corpus import catalog, plan
from mtl_music.corpus.demo_targets import training_titles
from mtl_music.corpus.text import normalise_title
from mtl_music.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def all_works():
    return {name: catalog.works(name) for name in catalog.TRAINING_COLLECTIONS + catalog.TARGET_COLLECTIONS}


def test_collections_are_large_enough_and_keys_unique(all_works):
    sizes = {name: len(works) for name, works in all_works.items()}
    assert sizes["essen_german"] > 4000 and sizes["oneills"] > 1800 and sizes["bach"] > 350
    assert sizes["palestrina"] > 1000 and sizes["monteverdi"] >= 40 and sizes["trecento"] >= 90
    keys = [w.key for works in all_works.values() for w in works]
    assert len(keys) == len(set(keys))


def test_nothing_comes_from_airds_airs(all_works):
    for works in all_works.values():
        assert not any("airdsAirs" in w.path or "airdsAirs" in w.key for w in works)
    with pytest.raises(DataError, match="unknown demo-corpus collection"):
        catalog.works("airdsAirs")


def test_essen_training_is_german_and_targets_are_not(all_works):
    assert {w.region for w in all_works["essen_german"]} == {"germany"}
    assert "germany" not in {w.region for w in all_works["essen_regional"]}
    german_keys = {w.key for w in all_works["essen_german"]}
    assert not german_keys & {w.key for w in all_works["essen_regional"]}


def test_metadata_is_plausible(all_works):
    for name in catalog.TRAINING_COLLECTIONS:
        for work in all_works[name]:
            assert 1300 <= work.year <= 2000, work
            assert work.artist and work.title and work.genres
            assert all(g.count("/") >= 2 for g in work.genres)
    artists = {w.artist for name in catalog.TRAINING_COLLECTIONS for w in all_works[name]}
    assert len(artists) >= 20
    types = {w.tune_type for w in all_works["oneills"]}
    assert {"reel", "jig", "hornpipe", "air"} <= types


def test_counts_follow_the_mix():
    available = {"a": 100, "b": 100, "c": 3}
    counts = plan.collection_counts(50, {"a": 0.5, "b": 0.3, "c": 0.2}, available)
    assert sum(counts.values()) == 50 and counts["c"] == 3  # capped; the rest goes to a and b
    assert counts["a"] > counts["b"]
    small = plan.collection_counts(3, {"a": 0.9, "b": 0.05, "c": 0.05}, available)
    assert small == {"a": 1, "b": 1, "c": 1}
    with pytest.raises(ConfigError, match="data.corpus.size"):
        plan.collection_counts(0, {"a": 1.0}, available)
    with pytest.raises(ConfigError, match="data.corpus.mix"):
        plan.collection_counts(5, {"a": -1.0}, available)


def test_track_ids_and_splits_are_stable(all_works):
    work = all_works["bach"][0]
    assert re.fullmatch(r"TR[0-9A-F]{16}", plan.track_id(work))
    ids = {"x": [f"TR{i:016X}" for i in range(100)], "y": [f"TR{i:016X}" for i in range(100, 120)]}
    splits = plan.assign_splits(ids, val_fraction=0.1, seed=0)
    assert sum(v == "valid" for v in splits.values()) == 10 + 2
    assert splits == plan.assign_splits(ids, val_fraction=0.1, seed=0)
    assert splits != plan.assign_splits(ids, val_fraction=0.1, seed=1)
    order = plan.candidate_order(all_works["bach"], seed=0, collection="bach")
    assert [w.key for w in order] == [w.key for w in plan.candidate_order(all_works["bach"], seed=0, collection="bach")]


def test_ryans_target_candidates_do_not_share_titles_with_training(all_works):
    titles = training_titles()
    oneill = {normalise_title(w.title) for w in all_works["oneills"]}
    assert oneill <= titles | {""}
    ryans = {normalise_title(w.title) for w in all_works["ryans"]}
    assert ryans & oneill, "the filter has something to remove in the real data"
