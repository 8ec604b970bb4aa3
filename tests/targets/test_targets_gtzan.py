"""GTZAN-layout loader: the packaged fault-filtered lists, the full 1000-file layout, the demo
target with its own lists, and the layout errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mtl_music.errors import DataError
from mtl_music.targets import gtzan

from tests.helpers.target_files import (
    GTZAN_GENRES,
    demo_region_split,
    target_node,
    write_audio,
    write_full_gtzan,
    write_gtzan_layout,
    write_lines,
)


def _packaged_lists() -> dict[str, list[str]]:
    return {split: (gtzan.PACKAGED_SPLITS_DIR / name).read_text().splitlines()
            for split, name in gtzan.SPLIT_FILES.items()}


def test_packaged_lists_are_the_fault_filtered_split():
    lists = _packaged_lists()
    assert {split: len(lines) for split, lines in lists.items()} == {"train": 443, "valid": 197, "test": 290}
    sets = {split: set(lines) for split, lines in lists.items()}
    assert all(len(sets[s]) == len(lists[s]) for s in sets)
    assert not (sets["train"] & sets["valid"] or sets["train"] & sets["test"] or sets["valid"] & sets["test"])
    for line in set().union(*sets.values()):
        genre, file_name = line.split("/")
        assert genre in GTZAN_GENRES and file_name.startswith(f"{genre}.000") and file_name.endswith(".wav")
    # Spot checks against the published lists (Kereliuk et al. 2015; torchaudio's filtered_* lists).
    assert lists["train"][0] == "blues/blues.00029.wav" and lists["train"][-1] == "rock/rock.00099.wav"
    assert lists["valid"][0] == "blues/blues.00000.wav" and lists["valid"][-1] == "rock/rock.00085.wav"
    assert lists["test"][0] == "blues/blues.00012.wav" and lists["test"][-1] == "rock/rock.00090.wav"
    assert "jazz/jazz.00054.wav" in sets["train"] and "reggae/reggae.00086.wav" not in set().union(*sets.values())


def test_full_gtzan_layout_loads_930_tracks(tmp_path, caplog):
    write_full_gtzan(tmp_path / "gtzan")
    with caplog.at_level(logging.INFO, logger="mtl_music.targets.gtzan"):
        index = gtzan.load_index(target_node("gtzan", tmp_path))
    assert len(index.tracks) == 930 and index.classes == GTZAN_GENRES
    assert "70 of 1000 audio files are in no split list" in caplog.text
    counts = {s: sum(t.split == s for t in index.tracks) for s in ("train", "valid", "test")}
    assert counts == {"train": 443, "valid": 197, "test": 290}
    blues = next(t for t in index.tracks if t.track_id == "blues/blues.00012")
    assert blues.path.suffix == ".au" and blues.split == "test" and blues.label == "blues"
    splits = gtzan.splits(index, n_repetitions=5, seed=3)
    assert len(splits) == 5 and all(len(train) == 640 and len(test) == 290 for train, test in splits)


def test_demo_region_uses_its_own_lists_and_classes_on_disk(targets_root):
    index = gtzan.load_index(target_node("demo_region", targets_root))
    assert index.classes == ("austria", "ireland", "low_countries")
    assert len(index.tracks) == 18  # the 7th file of each class is in no list
    assert {t.track_id: t.split for t in index.tracks}["low_countries/low_countries.00003"] == "valid"


def _demo_copy(tmp_path):
    root = tmp_path / "demo_region"
    write_gtzan_layout(root, classes=("austria", "ireland"), per_class=7, split_of=demo_region_split)
    return root


def test_missing_root_names_the_override(tmp_path):
    with pytest.raises(DataError, match=r"target\.gtzan\.root=") as err:
        gtzan.load_index(target_node("gtzan", tmp_path))
    assert str(tmp_path / "gtzan") in str(err.value) and "genres/<class>" in str(err.value)


def test_root_without_genres_folder_is_a_layout_error(tmp_path):
    write_audio(tmp_path / "gtzan" / "blues" / "blues.00000.wav")  # genres/ level missing
    with pytest.raises(DataError, match=r"genres.*target\.gtzan\.audio_dir="):
        gtzan.load_index(target_node("gtzan", tmp_path))


def test_missing_genre_folder_is_named(tmp_path):
    write_gtzan_layout(tmp_path / "gtzan", classes=GTZAN_GENRES[:9], per_class=1)
    with pytest.raises(DataError, match="class folder.*rock.*missing"):
        gtzan.load_index(target_node("gtzan", tmp_path))


def test_empty_class_folder_is_an_error(tmp_path):
    root = _demo_copy(tmp_path)
    (root / "genres" / "tyrol").mkdir()
    with pytest.raises(DataError, match="tyrol.*hold no audio"):
        gtzan.load_index(target_node("demo_region", tmp_path))


def test_unknown_class_in_a_split_list_is_an_error(tmp_path):
    root = _demo_copy(tmp_path)
    with (root / "splits" / "test_filtered.txt").open("a") as handle:
        handle.write("tyrol/tyrol.00000.wav\n")
    with pytest.raises(DataError, match="name class\\(es\\) tyrol"):
        gtzan.load_index(target_node("demo_region", tmp_path))


def test_file_listed_twice_is_an_error(tmp_path):
    root = _demo_copy(tmp_path)
    with (root / "splits" / "test_filtered.txt").open("a") as handle:
        handle.write("austria/austria.00000.wav\n")
    with pytest.raises(DataError, match="already listed in train_filtered.txt"):
        gtzan.load_index(target_node("demo_region", tmp_path))


def test_malformed_line_and_missing_list_are_errors(tmp_path):
    root = _demo_copy(tmp_path)
    write_lines(root / "splits" / "valid_filtered.txt", ["austria.00003.wav"])
    with pytest.raises(DataError, match="valid_filtered.txt line 1.*'<class>/<file>'"):
        gtzan.load_index(target_node("demo_region", tmp_path))
    (root / "splits" / "valid_filtered.txt").unlink()
    with pytest.raises(DataError, match=r"valid_filtered.txt does not exist.*target\.demo_region\.splits_dir="):
        gtzan.load_index(target_node("demo_region", tmp_path))


def test_listed_tracks_without_audio_are_logged_and_left_out(tmp_path, caplog):
    root = _demo_copy(tmp_path)
    (root / "genres" / "austria" / "austria.00004.wav").unlink()
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.gtzan"):
        index = gtzan.load_index(target_node("demo_region", tmp_path))
    assert "1 listed track(s) have no audio" in caplog.text and "austria/austria.00004.wav" in caplog.text
    assert len(index.tracks) == 11


def test_class_without_listed_audio_is_an_error(tmp_path):
    root = _demo_copy(tmp_path)
    for n in range(6):
        (root / "genres" / "ireland" / f"ireland.{n:05d}.wav").unlink()
    with pytest.raises(DataError, match="class\\(es\\) ireland have no listed track with audio"):
        gtzan.load_index(target_node("demo_region", tmp_path))


def test_demo_errors_say_how_to_build_it(tmp_path):
    with pytest.raises(DataError, match="mtl_music.prepare"):
        gtzan.load_index(target_node("demo_region", tmp_path))


def test_predefined_split_folds_valid_into_train(targets_root):
    index = gtzan.load_index(target_node("demo_region", targets_root))
    (train, test), = gtzan.splits(index, n_repetitions=1)
    splits = np.array([t.split for t in index.tracks])
    assert set(splits[train]) == {"train", "valid"} and set(splits[test]) == {"test"}
