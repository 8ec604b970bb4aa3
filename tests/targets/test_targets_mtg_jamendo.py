"""MTG-Jamendo: the repository's CRLF split files, tags as written, .low.mp3 audio, split-0."""

from __future__ import annotations

import logging

import pytest

from mtl_music.errors import DataError
from mtl_music.targets import mtg_jamendo

from tests.helpers.target_files import JAMENDO_SUBSETS, jamendo_rows, target_node, write_jamendo


@pytest.mark.parametrize("subset", sorted(JAMENDO_SUBSETS))
def test_each_subset_reads_its_split_files(targets_root, subset):
    index = mtg_jamendo.load_index(target_node(f"mtg_jamendo_{subset.removeprefix('autotagging_')}", targets_root))
    expected = {f"track_{n:07d}": (tags, {"validation": "valid"}.get(split, split))
                for split, rows in jamendo_rows(subset).items() for n, tags in rows if n != 1000}
    assert {t.track_id: (t.label, t.split) for t in index.tracks} == {k: (tuple(sorted(v[0])), v[1])
                                                                    for k, v in expected.items()}
    assert index.classes == tuple(sorted(JAMENDO_SUBSETS[subset]))
    assert all("\r" not in tag for t in index.tracks for tag in t.label)


def test_low_quality_audio_is_accepted_and_missing_audio_logged(targets_root, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.mtg_jamendo"):
        index = mtg_jamendo.load_index(target_node("mtg_jamendo_genre", targets_root))
    names = {t.track_id: t.path.name for t in index.tracks}
    assert names["track_0000201"] == "201.low.mp3" and names["track_0000200"] == "200.mp3"
    assert "have no audio" in caplog.text and "00/1000.mp3" in caplog.text


def test_errors(tmp_path):
    root = tmp_path / "mtg-jamendo-dataset"
    write_jamendo(root)
    with pytest.raises(DataError, match=r"target\.mtg_jamendo_genre\.subset='genre' is not one of autotagging_top50tags"):
        mtg_jamendo.load_index(target_node("mtg_jamendo_genre", tmp_path, subset="genre"))
    (root / "data/splits/split-0/autotagging_genre-test.tsv").unlink()
    with pytest.raises(DataError, match=r"autotagging_genre-test\.tsv does not exist.*target\.mtg_jamendo_genre\.splits_dir="):
        mtg_jamendo.load_index(target_node("mtg_jamendo_genre", tmp_path))
    test_file = root / "data/splits/split-0/autotagging_instrument-test.tsv"
    train_line = (root / "data/splits/split-0/autotagging_instrument-train.tsv").read_bytes().splitlines()[1]
    test_file.write_bytes(test_file.read_bytes() + train_line + b"\r\n")
    with pytest.raises(DataError, match="track_0000200 is listed in both autotagging_instrument-train.tsv"):
        mtg_jamendo.load_index(target_node("mtg_jamendo_instrument", tmp_path))
