"""MagnaTagATune: the top-k tags over the file, clips without one left out, the 12/1/3 folder split."""

from __future__ import annotations

import logging

import pytest

from mtl_music.errors import DataError
from mtl_music.targets import magnatagatune

from tests.helpers.target_files import MTT_TAGS, mtt_rows, target_node, write_lines, write_mtt


def test_top50_are_the_most_frequent_tags_and_clips_without_one_are_left_out(targets_root, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.magnatagatune"):
        index = magnatagatune.load_index(target_node("magnatagatune", targets_root))
    assert index.classes == tuple(sorted(MTT_TAGS[:50]))  # the 10 rare tags (one clip each) are not among them
    assert "999" not in {t.track_id for t in index.tracks} and "carry none of the top tags" in caplog.text
    assert "1000" not in {t.track_id for t in index.tracks} and "have no audio" in caplog.text
    rows = {clip: values for clip, _, values in mtt_rows()}
    track = index.tracks[0]
    assert track.label == tuple(sorted(MTT_TAGS[j] for j in range(50) if rows[track.track_id][j]))
    assert [t.track_id for t in index.tracks] == [str(i) for i in range(2, 34)]  # numeric order


def test_directory_split_12_1_3(targets_root):
    index = magnatagatune.load_index(target_node("magnatagatune", targets_root))
    by_folder = {t.path.parent.name: t.split for t in index.tracks}
    assert by_folder == {**{f: "train" for f in "0123456789ab"}, "c": "valid", "d": "test", "e": "test", "f": "test"}
    (train, test), = magnatagatune.splits(index, n_repetitions=1)
    assert len(test) == 6 and len(train) == 26  # 2 clips per folder; valid folds into train


def test_top_k_ties_follow_column_order_and_rare_tags_can_be_chosen(tmp_path):
    rows = [("1", "0/a.mp3", (1, 1, 0)), ("2", "d/b.mp3", (0, 1, 1)), ("3", "c/c.mp3", (1, 0, 1))]
    write_mtt(tmp_path / "magnatagatune", rows, tags=("x", "y", "z"))
    index = magnatagatune.load_index(target_node("magnatagatune", tmp_path, top_k=2))
    assert index.classes == ("x", "y")  # all tie at 2: the first two columns
    assert {t.track_id: t.label for t in index.tracks} == {"1": ("x", "y"), "2": ("y",), "3": ("x",)}


def test_errors_name_the_file_and_the_fix(tmp_path):
    write_mtt(tmp_path / "magnatagatune")
    with pytest.raises(DataError, match=r"top_k=61 but .* has 60 tag columns.*target\.magnatagatune\.top_k="):
        magnatagatune.load_index(target_node("magnatagatune", tmp_path, top_k=61))
    write_lines(tmp_path / "magnatagatune" / "annotations_final.csv", ["clip_id,no voice,mp3_path", "2,0,0/a.mp3"])
    with pytest.raises(DataError, match="looks comma-separated"):
        magnatagatune.load_index(target_node("magnatagatune", tmp_path))
    write_lines(tmp_path / "magnatagatune" / "annotations_final.csv", ['"clip_id"\t"x"\t"mp3_path"', '"2"\t"2"\t"0/a.mp3"'])
    with pytest.raises(DataError, match="line 2: tag value '2' is not 0 or 1"):
        magnatagatune.load_index(target_node("magnatagatune", tmp_path))
