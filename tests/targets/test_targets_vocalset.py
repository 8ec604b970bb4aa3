"""VocalSet: singers from the folders, MARBLE's techniques, the release's singer split or a
singer-grouped one, the singer task's stratified split."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mtl_music.errors import DataError
from mtl_music.targets import vocalset

from tests.helpers.target_files import VOCALSET_SINGERS, target_node, write_audio, write_lines, write_vocalset


def test_singer_task_takes_the_singer_folder_and_every_technique(targets_root, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.vocalset"):
        index = vocalset.load_index(target_node("vocalset_singer", targets_root))
    assert index.classes == VOCALSET_SINGERS
    by_id = {t.track_id: t.label for t in index.tracks}
    assert by_id["f2/arpeggios/lip_trill/lip_trill_arps"] == "f2"  # a file without the singer prefix
    assert not any("(1)" in i for i in by_id) and "duplicate download" in caplog.text
    assert "f1/stray.wav" in caplog.text and len(index.tracks) == 6 * 8 + 2
    assert all(t.split is None and t.group is None for t in index.tracks)


def test_technique_task_uses_marble_techniques_and_the_release_singer_split(targets_root):
    index = vocalset.load_index(target_node("vocalset_technique", targets_root))
    assert set(index.classes) <= set(vocalset.MARBLE_TECHNIQUES) and "messa" not in index.classes
    assert {t.group for t in index.tracks if t.split == "test"} == {"f2", "m3"}
    assert {t.group for t in index.tracks if t.split == "train"} == {"f1", "f3", "m1", "m2"}


# lip_trill has 2 singers: StratifiedGroupKFold warns that it cannot spread it over every fold
@pytest.mark.filterwarnings("ignore:The least populated class")
def test_without_singer_lists_a_singer_grouped_stratified_split(tmp_path):
    write_vocalset(tmp_path / "vocalset", singer_lists=False)
    index = vocalset.load_index(target_node("vocalset_technique", tmp_path, test_fraction=0.34))
    assert all(t.split is None for t in index.tracks)
    groups = np.array([t.group for t in index.tracks])
    for train, test in vocalset.splits(index, n_repetitions=3, seed=0):
        assert not set(groups[train]) & set(groups[test])


def test_aliases_spellings_and_list_errors(tmp_path):
    root = tmp_path / "vocalset"
    write_vocalset(root)
    write_audio(root / "FULL" / "m1" / "scales" / "Vocal Fry" / "m1_scales_vocal_fry_e.wav")
    write_audio(root / "FULL" / "m1" / "scales" / "vibrado" / "m1_scales_vibrato_e.wav")
    index = vocalset.load_index(target_node("vocalset_technique", tmp_path, technique_aliases={"vibrado": "vibrato"}))
    labels = {t.track_id: t.label for t in index.tracks}
    assert labels["m1/scales/Vocal Fry/m1_scales_vocal_fry_e"] == "vocal_fry"
    assert labels["m1/scales/vibrado/m1_scales_vibrato_e"] == "vibrato"
    write_lines(root / "test_singers_technique.txt", ["female2", "tenor3"])
    with pytest.raises(DataError, match=r"line 2: 'tenor3' is not a singer.*target\.vocalset_technique\.test_singers="):
        vocalset.load_index(target_node("vocalset_technique", tmp_path))
    write_lines(root / "test_singers_technique.txt", ["f1"])
    with pytest.raises(DataError, match="singer\\(s\\) f1 are in both"):
        vocalset.load_index(target_node("vocalset_technique", tmp_path))
