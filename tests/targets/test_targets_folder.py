"""The generic folder target (mtl_music.targets.folder): label files in their forms, the task
each makes, the errors that name the rows of a bad file, and splits that keep groups apart."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mtl_music.errors import ConfigError, DataError
from mtl_music.targets import load_target, target_splits

from tests.helpers.target_files import folder_track, target_node, write_audio, write_folder, write_lines

GENRES = ("folk", "jazz", "rock")


def audio_folder(root, n: int = 12):
    """``root/a00.wav`` … ``a<n-1>.wav``; returns their names."""
    names = [f"a{i:02d}.wav" for i in range(n)]
    for name in names:
        write_audio(root / name)
    return names


def load(root, lines, *, name: str = "labels.csv", **overrides):
    """Writes ``lines`` as ``root/<name>`` and loads it as the folder target."""
    write_lines(root / name, lines)
    return load_target(target_node("folder", root.parent, root=str(root), labels=str(root / name), **overrides))


def data_error(root, lines, **overrides) -> str:
    with pytest.raises(DataError) as err:
        load(root, lines, **overrides)
    return str(err.value)


@pytest.fixture()
def songs(tmp_path):
    root = tmp_path / "songs"
    return root, audio_folder(root)


# ---------------------------------------------------------------- the forms of a label file
def test_classification_csv_with_header_groups_and_nested_paths(targets_root):
    index = load_target(target_node("folder", targets_root))
    assert index.task == "classification" and index.metric == "accuracy" and index.classes == GENRES
    first = index.tracks[0]
    assert (first.track_id, first.label, first.group, first.split) == ("folk/song 00", "folk", "album 0", None)
    assert index.tracks[25].track_id == "more/jazz/song 25"
    assert index.cache_name.startswith("folder-folder-")


def test_multilabel_tsv_with_a_filename_alias(targets_root):
    index = load_target(target_node("folder", targets_root, labels="${.root}/tags.tsv"))
    assert index.task == "multilabel" and index.metrics == ("roc_auc", "pr_auc")
    assert index.classes == ("folk", "jazz", "live", "rock", "vocal")
    assert index.tracks[15].label == ("folk", "live", "vocal") == tuple(sorted(folder_track(15)[3]))
    assert index.labels[15].tolist() == [1, 0, 1, 0, 1]


def test_regression_without_header_has_two_values(targets_root):
    index = load_target(target_node("folder", targets_root, labels="${.root}/values.csv"))
    assert index.task == "regression" and index.metric == "r2"
    assert index.labels.shape == (30, 2) and index.tracks[3].label == folder_track(3)[4]


def test_one_value_column_with_a_header_and_a_sniffed_delimiter(songs):
    root, names = songs
    lines = ["filename\tvalence"] + [f"{n}\t{i * 0.5}" for i, n in enumerate(names)]
    index = load(root, lines, name="labels.txt")  # no telling extension: the first row's tab decides
    assert index.task == "regression" and index.labels.shape == (12,) and index.tracks[2].label == 1.0
    assert [t.track_id for t in index.tracks] == [n[:-4] for n in names]


def test_headerless_classification_and_the_default_tsv(songs):
    root, names = songs
    write_lines(root / "labels.tsv", [f"{n}\t{GENRES[i % 3]}" for i, n in enumerate(names)])
    index = load_target(target_node("folder", root.parent, root=str(root)))
    assert index.task == "classification" and index.labels.tolist() == [GENRES[i % 3] for i in range(12)]


def test_absolute_paths_a_label_column_among_others_and_trailing_commas(songs, caplog):
    root, names = songs
    lines = ["Path,artist,Label,year"] + [f"{root / n},someone,{GENRES[i % 2]},1999," for i, n in enumerate(names)]
    with caplog.at_level(logging.INFO, logger="mtl_music.targets.folder"):
        index = load(root, lines)
    assert index.task == "classification" and index.classes == GENRES[:2]
    assert index.tracks[0].track_id == "a00" and "ignoring column(s) artist, year" in caplog.text


def test_labels_relative_to_root_and_label_columns(songs):
    root, names = songs
    write_lines(root / "meta.csv", ["path,genre,energy,mood"] + [f"{n},{GENRES[i % 3]},{i},{i % 4}"
                                                                 for i, n in enumerate(names)])
    node = target_node("folder", root.parent, root=str(root), labels="meta.csv", label_columns=["energy", "mood"])
    index = load_target(node)
    assert index.task == "regression" and index.labels.shape == (12, 2)
    node = target_node("folder", root.parent, root=str(root), labels="meta.csv", label_columns=["genre"])
    assert load_target(node).task == "classification"
    with pytest.raises(DataError, match=r"non-numeric value in the value columns genre, energy, mood \(12\)"):
        load_target(target_node("folder", root.parent, root=str(root), labels="meta.csv"))


def test_forcing_the_task(songs):
    root, names = songs
    ids = [f"{n},{i % 3}" for i, n in enumerate(names)]
    assert load(root, ["path,label", *ids]).task == "regression"
    index = load(root, ["path,label", *ids], task="classification")  # numbers as class ids
    assert index.task == "classification" and index.classes == ("0", "1", "2")
    single = [f"{n},{GENRES[i % 3]}" for i, n in enumerate(names)]
    index = load(root, ["path,tags", *single], task="multilabel")
    assert index.task == "multilabel" and index.tracks[0].label == ("folk",)
    message = data_error(root, ["path,label", *single], task="regression")
    assert "target.folder.task=regression but the label is not a number (12): line 2 'a00.wav': 'folk'" in message
    tagged = [f"{n},{GENRES[i % 3]};{GENRES[(i + 1) % 3]}" for i, n in enumerate(names)]
    message = data_error(root, ["path,label", *tagged], task="classification")
    assert "holds the separator ';' (12): line 2 'a00.wav': 'folk;jazz'" in message
    assert load(root, ["path,label", *[t.replace(";", "|") for t in tagged]], label_separator="|").task == "multilabel"
    with pytest.raises(ConfigError, match="target.folder.task='tagging'"):
        load(root, ["path,label", *single], task="tagging")


# ---------------------------------------------------------------- bad files name their rows
def test_unknown_paths_duplicates_empty_labels_and_column_counts_are_listed_together(songs):
    root, names = songs
    lines = (["path,label"] + [f"{n},{GENRES[i % 3]}" for i, n in enumerate(names)]
             + ["gone.wav,rock", "./a01.wav,jazz", "a02.wav,", "a03.wav,rock,extra", "", "a04.mp3,rock"])
    message = data_error(root, lines)
    assert "has 4 problem(s)" in message
    assert f"audio file not found under {root} (2): line 14 'gone.wav', line 19 'a04.mp3'" in message
    assert "duplicate path (each audio file once) (2): line 15 './a01.wav' (also line 3), line 16 'a02.wav' " \
           "(also line 4)" in message
    assert "empty label (label) (1): line 16 'a02.wav'" in message
    assert "wrong number of columns (expected 2: path, label) (1): line 17 'a03.wav' (3 columns)" in message


def test_many_bad_rows_are_counted(songs):
    root, names = songs
    message = data_error(root, ["path,label", *[f"missing{i}.wav,rock" for i in range(9)]])
    assert "(9): line 2 'missing0.wav', line 3 'missing1.wav', line 4 'missing2.wav', line 5 'missing3.wav', " \
           "line 6 'missing4.wav' and 4 more" in message


def test_mixed_numbers_and_names_name_both_kinds(songs):
    root, names = songs
    lines = ["path,label"] + [f"{n},{GENRES[i % 3] if i < 9 else i}" for i, n in enumerate(names)]
    message = data_error(root, lines)
    assert "numbers mixed with names: these labels are numbers (3): line 11 'a09.wav': '9'" in message
    assert "numbers mixed with names: these labels are not (9): line 2 'a00.wav': 'folk'" in message
    assert "target.folder.task=classification" in message


def test_a_class_or_tag_of_one_track(songs):
    root, names = songs
    lines = ["path,label"] + [f"{n},{GENRES[i % 2] if i < 11 else 'polka'}" for i, n in enumerate(names)]
    message = data_error(root, lines)
    assert "class with a single track (a class must be on both sides of a train/test split) (1): " \
           "'polka' on line 13 'a11.wav'" in message
    lines = ["path,tags"] + [f"{n},{GENRES[i % 3]}{';solo' if i == 4 else ''}" for i, n in enumerate(names)]
    message = data_error(root, lines)
    assert "tag with a single track" in message and "'solo' on line 6 'a04.wav'" in message
    lines = ["path,tags"] + [f"{n},{GENRES[i % 3] + ';' if i else ';'}" for i, n in enumerate(names)]
    assert "no tag in the label (only separators) (1): line 2 'a00.wav'" in data_error(root, lines)


def test_configured_classes_must_match_the_labels(songs):
    root, names = songs
    lines = ["path,label"] + [f"{n},{GENRES[i % 3]}" for i, n in enumerate(names)]
    message = data_error(root, lines, classes=["folk", "jazz", "blues"])
    assert "class not in target.folder.classes (4): line 4 'a02.wav': rock" in message
    assert "class of target.folder.classes without any track (1): 'blues'" in message
    assert load(root, lines, classes=list(GENRES)).classes == GENRES


def test_split_names_and_groups_across_a_predefined_split(songs):
    root, names = songs
    split = lambda i: "test" if i < 3 else "train"  # noqa: E731
    lines = ["path,label,split,group"] + [f"{n},{GENRES[i % 3]},{split(i)},g{i // 2}" for i, n in enumerate(names)]
    message = data_error(root, lines)
    assert "group in both train/valid and test (1): 'g1' (train/valid on line(s) 5, test on 4)" in message
    bad = lines[:3] + [lines[3].replace(",test,", ",holdout,"), lines[4].replace(",train,", ",,")] + lines[5:]
    message = data_error(root, bad)
    assert "unknown split name (use train, training, valid, validation, val, test) (2): line 4 'a02.wav': " \
           "'holdout', line 5 'a03.wav': ''" in message
    fine = ["path,label,split,group"] + [f"{n},{GENRES[i % 3]},{'TEST' if i < 4 else 'Validation'},g{i // 2}"
                                         for i, n in enumerate(names)]
    index = load(root, fine)
    (train, test), = target_splits(index, n_repetitions=1)
    assert test.tolist() == [0, 1, 2, 3] and {t.split for t in index.tracks} == {"test", "valid"}
    only_train = [line.replace("TEST", "train") for line in fine]
    assert "0 test rows" in data_error(root, only_train)


def test_empty_files_headers_and_missing_options(songs, tmp_path):
    root, names = songs
    assert "is empty" in data_error(root, ["", "  "])
    assert "has a header but no row" in data_error(root, ["path,label"])
    assert "no label column" in data_error(root, ["path,split", "a00.wav,train"])
    assert "first row names no path column" in data_error(root, ["song,genre", "a00.wav,rock"])
    assert "duplicate column(s) label" in data_error(root, ["path,label,label", "a00.wav,rock,rock"])
    with pytest.raises(ConfigError, match="several label columns \\(label, tags\\)"):
        load(root, ["path,label,tags", "a00.wav,rock,x"])
    with pytest.raises(ConfigError, match="target.folder.root is not set: .*target=folder target.root="):
        load_target(target_node("folder", tmp_path, root=None))
    (root / "labels.csv").unlink()
    with pytest.raises(DataError, match="no label file: .*labels.csv or .*labels.tsv.*target.folder.labels="):
        load_target(target_node("folder", tmp_path, root=str(root)))
    write_lines(root / "labels.csv", ["path,label"])
    write_lines(root / "labels.tsv", ["path\tlabel"])
    with pytest.raises(DataError, match="both .*labels.csv and .*labels.tsv exist"):
        load_target(target_node("folder", tmp_path, root=str(root)))
    with pytest.raises(DataError, match="target.folder.labels=nope.csv: no such file"):
        load_target(target_node("folder", tmp_path, root=str(root), labels="nope.csv"))
    with pytest.raises(ConfigError, match="target.folder.delimiter=';'"):
        load(root, ["path,label", "a00.wav,rock"], delimiter=";")


def test_a_constant_value_and_a_single_class(songs):
    root, names = songs
    assert "every value of energy is 3" in data_error(root, ["path,energy", *[f"{n},3" for n in names]])
    assert "a single class ('rock')" in data_error(root, ["path,label", *[f"{n},rock" for n in names]])


# ---------------------------------------------------------------- splits
def _groups_apart(index, splits):
    groups = np.array([t.group for t in index.tracks], dtype=object)
    return all(not set(groups[train]) & set(groups[test]) for train, test in splits)


def test_random_splits_keep_groups_apart_for_every_task(tmp_path):
    root = tmp_path / "grouped"
    write_folder(root)
    tracks = [folder_track(i) for i in range(30)]
    write_lines(root / "tags_grouped.csv",
                ["path,tags,group", *(f"{p},{';'.join(t)},{a}" for p, _, a, t, _ in tracks)])
    write_lines(root / "values_grouped.csv",
                ["path,x,y,group", *(f"{p},{v[0]},{v[1]},{a}" for p, _, a, _, v in tracks)])
    for labels, task in (("labels.csv", "classification"), ("tags_grouped.csv", "multilabel"),
                         ("values_grouped.csv", "regression")):
        index = load_target(target_node("folder", tmp_path, root=str(root), labels=f"${{.root}}/{labels}"))
        assert index.task == task and index.tracks[0].group == "album 0"
        splits = target_splits(index, n_repetitions=5, seed=3)
        assert _groups_apart(index, splits), labels
        assert len({tuple(test) for _, test in splits}) > 1
        assert all(0.1 <= len(test) / 30 <= 0.3 for _, test in splits)


def test_multilabel_splits_retry_until_every_tag_is_on_both_sides(songs, caplog):
    root, names = songs
    # 'rare' on two tracks: a plain 20 % draw often leaves it on one side
    lines = ["path,tags"] + [f"{n},{GENRES[i % 3]}{';rare' if i in (0, 1) else ''}" for i, n in enumerate(names)]
    index = load(root, lines)
    splits = target_splits(index, n_repetitions=5, seed=0)
    rare = index.labels[:, index.classes.index("rare")].astype(bool)
    assert all(rare[train].any() and rare[test].any() for train, test in splits)
    for train, test in splits:  # every tag has positives and negatives on both sides: learnable and scored
        for side in (train, test):
            assert index.labels[side].any(axis=0).all() and not index.labels[side].all(axis=0).any()
    # same track set, every tag on both sides impossible (a tag of two tracks in one group): logged, not fatal
    grouped = ["path,tags,group"] + [f"{line},{'g0' if i < 2 else f'g{i}'}" for i, line in enumerate(lines[1:])]
    index = load(root, grouped)
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.base"):
        splits = target_splits(index, n_repetitions=2, seed=0)
    assert len(splits) == 2
    assert "none of 25 draws gives all 4 tags positive and negative tracks on both sides" in caplog.text
