from pathlib import Path

import pytest

from mtl_music.config import compose
from mtl_music.data import dataset_tracks, hash_split, read_manifest, scan_audio_dir
from mtl_music.errors import ConfigError, DataError

from tests.helpers.folder_dataset import write_track


def test_tsv_manifest_with_relative_and_absolute_paths(tmp_path):
    (tmp_path / "m.tsv").write_text(
        "track_id\tpath\tsplit\tduration\n"
        f"a\taudio/a.wav\ttrain\t30\n"
        f"b\t{tmp_path}/x/b.flac\tTest\t\n"
        "\n"
        "c\taudio/c.mp3\t\t12.5\n"
    )
    tracks = read_manifest(tmp_path / "m.tsv")
    assert [t.track_id for t in tracks] == ["a", "b", "c"]
    assert tracks[0].path == tmp_path / "audio" / "a.wav" and tracks[0].duration == 30.0
    assert tracks[1].path == tmp_path / "x" / "b.flac" and tracks[1].split == "test" and tracks[1].duration is None
    assert tracks[2].split == hash_split("c", val_fraction=0.1)  # empty split: the hash rule


def test_csv_and_sniffed_delimiters_and_optional_split_column(tmp_path):
    (tmp_path / "m.csv").write_text('path,track_id,artist\n"dir, with comma/a.wav",a,someone\nb.wav,b,x\n')
    tracks = read_manifest(tmp_path / "m.csv")
    assert tracks[0].path == tmp_path / "dir, with comma" / "a.wav"
    assert {t.split for t in tracks} <= {"train", "valid"}
    (tmp_path / "list.txt").write_text("track_id\tpath\tsplit\na\ta.wav\tvalid\n")
    assert read_manifest(tmp_path / "list.txt")[0].split == "valid"


@pytest.mark.parametrize(
    "text, message",
    [
        ("id\tpath\tsplit\na\ta.wav\ttrain\n", r"line 1: missing column\(s\) track_id"),
        ("track_id\tpath\tsplit\na\ta.wav\ttrain\nb\tb.wav\ttrain\na\tc.wav\ttest\n", r"line 4: duplicate track_id 'a' \(first on line 2\)"),
        ("track_id\tpath\tsplit\na\ta.wav\tvalidation\n", r"line 2: unknown split 'validation'"),
        ("track_id\tpath\tsplit\tduration\na\ta.wav\ttrain\tlong\n", r"line 2: duration 'long'"),
        ("track_id\tpath\tsplit\na\ta.wav\ttrain\textra\n", r"line 2: has 4 fields, the header has 3"),
        ("track_id\tpath\tsplit\n\ta.wav\ttrain\n", r"line 2: empty track_id"),
        ("track_id\tpath\tsplit\na\t\ttrain\n", r"line 2: empty path"),
        ("track_id\tpath\n", r"no track rows"),
        ("", r"is empty"),
    ],
)
def test_manifest_errors_name_the_file_and_row(tmp_path, text, message):
    (tmp_path / "bad.tsv").write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_manifest(tmp_path / "bad.tsv")
    assert "bad.tsv" in str(err.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="nothere.tsv does not exist"):
        read_manifest(tmp_path / "nothere.tsv")


def test_audio_folder_ids_and_hash_split(tmp_path):
    for rel in ("rock/one.wav", "rock/two.flac", "jazz/three.mp3", ".hidden/x.wav"):
        write_track(tmp_path / rel, 0.2)
    (tmp_path / "notes.txt").write_text("not audio")
    tracks = scan_audio_dir(tmp_path, val_fraction=0.5)
    assert [t.track_id for t in tracks] == ["jazz/three", "rock/one", "rock/two"]
    assert all(t.split == hash_split(t.track_id, val_fraction=0.5) for t in tracks)
    write_track(tmp_path / "rock" / "one.flac", 0.2)
    with pytest.raises(DataError, match="both give track id 'rock/one'"):
        scan_audio_dir(tmp_path)
    with pytest.raises(DataError, match="holds no audio"):
        scan_audio_dir(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def test_hash_split_is_stable_and_near_the_fraction():
    ids = [f"TR{i:06d}" for i in range(5000)]
    splits = [hash_split(i, val_fraction=0.1) for i in ids]
    assert splits == [hash_split(i, val_fraction=0.1) for i in ids]
    assert 0.08 < splits.count("valid") / len(ids) < 0.12
    assert hash_split("TR000001", val_fraction=0.0) == "train"
    with pytest.raises(ConfigError, match="val_fraction"):
        hash_split("x", val_fraction=1.5)


def test_dataset_tracks_from_the_data_config(tmp_path):
    write_track(tmp_path / "a" / "x.wav", 0.2)
    cfg = compose("prepare", ["data=folder", "data.name=n", f"paths.data_root={tmp_path}", f"data.audio_dir={tmp_path / 'a'}"])
    assert [t.track_id for t in dataset_tracks(cfg.data)] == ["x"]
    cfg = compose("prepare", ["data=folder", "data.name=n", f"paths.data_root={tmp_path}"])
    with pytest.raises(ConfigError, match="neither data.manifest nor data.audio_dir"):
        dataset_tracks(cfg.data)
