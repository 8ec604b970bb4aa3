"""GiantSteps key: both release layouts, key normalisation, unusable keys left out, the key-stratified split."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest

from mtl_music.errors import DataError
from mtl_music.evaluation.metrics import KEYS
from mtl_music.targets import giantsteps_key

from tests.helpers.target_files import target_node, write_giantsteps


def test_gs_plus_layout_normalises_keys_and_leaves_unusable_ones_out(targets_root, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.giantsteps_key"):
        index = giantsteps_key.load_index(target_node("giantsteps_key", targets_root))
    expected = write_giantsteps(tmp_path / "copy")  # the fixture's expected mapping (the shared root stays read-only)
    assert {t.track_id: t.label for t in index.tracks} == expected
    assert set(index.classes) <= set(KEYS) and "C# minor" in index.classes and "Db minor" not in index.classes
    assert "have an unusable key" in caplog.text and "'C major / A minor'" in caplog.text and "'-'" in caplog.text
    assert "have no key file" in caplog.text
    assert index.metrics == ("accuracy", "mirex_weighted")


def test_original_lofi_layout(tmp_path):
    expected = write_giantsteps(tmp_path / "giantsteps_key", lofi=True)
    index = giantsteps_key.load_index(target_node("giantsteps_key", tmp_path))
    assert {t.track_id: t.label for t in index.tracks} == expected
    assert index.tracks[0].path.name.endswith(".LOFI.mp3")


def test_key_stratified_split(targets_root):
    index = giantsteps_key.load_index(target_node("giantsteps_key", targets_root))
    labels = index.labels
    for train, test in giantsteps_key.splits(index, n_repetitions=3, seed=0):
        assert Counter(labels[test]) == {k: round(0.2 * n) for k, n in Counter(labels).items()}
        assert len(np.intersect1d(train, test)) == 0


def test_no_key_folder_is_a_data_error_naming_the_key(tmp_path):
    (tmp_path / "giantsteps_key" / "audio").mkdir(parents=True)
    with pytest.raises(DataError, match=r"none of the key folders keys_gs\+, keys, annotations/key.*keys_dirs="):
        giantsteps_key.load_index(target_node("giantsteps_key", tmp_path))
