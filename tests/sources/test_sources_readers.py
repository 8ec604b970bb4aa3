"""Every reader on a tiny file in its real format: values, ids, and the report of bad input."""

import numpy as np
import pytest

from mtl_music.errors import SourceError
from mtl_music.sources import readers
from mtl_music.sources.base import SourceReport

from tests.helpers.source_files import write_lastfm_db, write_lines, write_mxm, write_unique_tracks


def _dense(labels):
    return labels.matrix.toarray()


def test_lastfm_tags_reads_rowid_references_and_reports_bad_rows(tmp_path):
    db = write_lastfm_db(tmp_path / "lastfm_tags.db", ["TRA", "TRB", "TRC"], ["rock", "pop", "jazz"], [
        (1, 1, 100.0), (1, 2, 20.0), (2, 2, 100.0), (2, 2, 50.0),  # TRB/pop twice: summed
        (3, 3, 0.0),                     # TRC only has a zero weight
        (9, 1, 10.0),                    # no tids row 9
        (1, 3, "lots"),                  # not a number
        (2, 1, -5.0),                    # negative
    ])
    report = SourceReport("tag")
    labels = readers.read_lastfm_tags(db, report=report)
    assert list(labels.row_ids) == ["TRA", "TRB", "TRC"]
    assert labels.label_names == ["rock", "pop", "jazz"]
    np.testing.assert_allclose(_dense(labels), [[100, 20, 0], [0, 150, 0], [0, 0, 0]])
    assert report.count("malformed") == 3
    assert any("ROWID 6" in e for e in report.examples("malformed"))  # the 6th tid_tag row
    assert report.count("duplicates") == 1 and "TRB" in report.examples("duplicates")[0]
    assert report.counts["tid_tag_rows"] == 8


def test_lastfm_tags_wrong_schema_is_a_source_error(tmp_path):
    import sqlite3

    db = tmp_path / "tags.db"
    sqlite3.connect(db).executescript("CREATE TABLE other (x INTEGER);")
    with pytest.raises(SourceError, match="tid_tag"):
        readers.read_lastfm_tags(db, report=SourceReport("tag"))
    junk = tmp_path / "junk.db"
    junk.write_text("this is not sqlite " * 100)
    with pytest.raises(SourceError, match="SQLite"):
        readers.read_lastfm_tags(junk, report=SourceReport("tag"))


@pytest.mark.parametrize("extra_field_line", [False, True])
def test_taste_triplets_map_songs_to_tracks(tmp_path, extra_field_line):
    # A line with a fourth field sends the reader down its slow path: same result, same report.
    lines = [
        "u1\tSOAAA\t3", "u2\tSOAAA\t1", "u1\tSOBBB\t7",
        "u2\tSOBBB",              # line 4: two fields
        "u3\tSOCCC\tmany",        # line 5: not a number
        "u3\tSOCCC\t2", "u3\tSOCCC\t2",   # duplicate: summed to 4
        "u1\tSONOTRACK\t5",       # a song with no track
        "", "u9\tSOAAA\t0",       # a blank line, then a zero count (line 10)
    ] + (["u1\tSOAAA\t1\textra"] if extra_field_line else [])
    triplets = write_lines(tmp_path / "train_triplets.txt", lines)
    tracks = write_unique_tracks(tmp_path / "unique_tracks.txt", [
        ("TR1", "SOAAA", "Artist A", "Song a"), ("TR2", "SOBBB", "Artist B", "Song b"),
        ("TR3", "SOCCC", "Artist C", "Song c"), ("TR4", "SOAAA", "Artist A", "Song a (live)"),
        ("TR5", "SOQUIET", "Artist Q", "No plays"),
    ])
    report = SourceReport("taste")
    labels = readers.read_taste_triplets(triplets, tracks_path=tracks, report=report, chunk_lines=3)
    assert list(labels.row_ids) == ["SOAAA", "SOBBB", "SOCCC", "SONOTRACK"]
    assert labels.label_names == ["u1", "u2", "u3"]
    np.testing.assert_allclose(_dense(labels), [[3, 1, 0], [7, 0, 0], [0, 0, 4], [5, 0, 0]])
    assert list(labels.track_ids) == ["TR1", "TR2", "TR3", "TR4"]
    assert list(labels.track_rows) == [0, 1, 2, 0]  # both tracks of SOAAA share its row
    expected_bad = ["line 4", "line 5", "line 10"] + (["line 11"] if extra_field_line else [])
    assert report.count("malformed") == len(expected_bad)
    assert [e.split(":")[0] for e in report.examples("malformed")] == [f"train_triplets.txt {b}" for b in expected_bad]
    assert report.count("duplicates") == 1
    assert report.count("unmapped") == 1 and "SONOTRACK" in report.examples("unmapped")[0]
    assert report.counts["lines"] == len(lines)


def test_mxm_lyrics_reads_train_and_test_with_one_vocabulary(tmp_path):
    vocab = ["i", "the", "love", "you"]
    train = write_mxm(tmp_path / "mxm_dataset_train.txt", vocab, [
        "TR1,101,1:3,3:2", "TR2,102,2:5,4:1",
        "TR3,103,7:1",          # index past the vocabulary
        "TR4,104,2-3",          # not idx:cnt
    ])
    test = write_mxm(tmp_path / "mxm_dataset_test.txt", vocab, ["TR5,105,4:2", "TR1,101,1:1"])
    report = SourceReport("lyrics")
    labels = readers.read_mxm_lyrics([train, test], report=report)
    assert labels.label_names == vocab
    assert list(labels.row_ids) == ["TR1", "TR2", "TR5"]
    np.testing.assert_allclose(_dense(labels), [[4, 0, 2, 0], [0, 5, 0, 1], [0, 0, 0, 2]])
    assert report.count("malformed") == 2
    assert report.examples("malformed")[0].startswith("mxm_dataset_train.txt line 6")
    assert report.count("duplicates") == 1  # TR1 word 1 in both files

    other = write_mxm(tmp_path / "other.txt", ["a", "b"], ["TR9,1,1:1"])
    with pytest.raises(SourceError, match="vocabulary"):
        readers.read_mxm_lyrics([train, other], report=SourceReport("lyrics"))


def test_tracks_per_year_treats_year_zero_as_missing(tmp_path):
    path = write_lines(tmp_path / "tracks_per_year.txt", [
        "1999<SEP>TR1<SEP>Artist<SEP>Title", "0<SEP>TR2<SEP>Artist<SEP>Unknown year",
        "nineteen<SEP>TR3<SEP>A<SEP>T", "2003<SEP>TR4<SEP>A<SEP>T", "2005<SEP>TR4<SEP>A<SEP>T again",
        "1970<SEP>TR5<SEP>Title with <SEP> inside<SEP>x",
    ])
    report = SourceReport("year")
    labels = readers.read_tracks_per_year(path, report=report)
    assert dict(zip(labels.track_ids, labels.values)) == {"TR1": 1999.0, "TR4": 2004.0, "TR5": 1970.0}
    assert report.count("missing_values") == 1 and "line 2" in report.examples("missing_values")[0]
    assert report.count("malformed") == 1 and "line 3" in report.examples("malformed")[0]
    assert report.count("duplicates") == 1


@pytest.mark.parametrize("header", [True, False])
def test_tempo_table_with_or_without_header(tmp_path, header):
    lines = ["TR1\t120.5", "TR2\t0", "TR3\t-1", "TR4\tnan", "TR5\tfast", "TR6\t90"]
    path = write_lines(tmp_path / "tempo.tsv", (["track_id\tbpm"] if header else []) + lines)
    report = SourceReport("bpm")
    labels = readers.read_tempo(path, report=report)
    assert dict(zip(labels.track_ids, labels.values)) == {"TR1": 120.5, "TR6": 90.0}
    assert report.count("missing_values") == 3  # 0, -1, nan
    assert report.count("malformed") == 1
    assert f"line {5 + header}" in report.examples("malformed")[0]


@pytest.mark.parametrize("name,sep", [("cdr_genres.tsv", "\t"), ("genres.csv", ","), ("genres.txt", ";")])
def test_label_table_any_delimiter_weight_defaults_to_one(tmp_path, name, sep):
    rows = [["track_id", "label", "weight"], ["TR1", "rock/indie", "2"], ["TR1", "pop"], ["TR2", "jazz", "1.5"],
            ["TR2", "jazz", "0.5"], ["TR3", "folk", "heavy"], ["TR4"]]
    path = write_lines(tmp_path / name, [sep.join(r) for r in rows])
    report = SourceReport("cdr_tag")
    labels = readers.read_label_table(path, report=report)
    assert list(labels.row_ids) == ["TR1", "TR2"]
    assert labels.label_names == ["rock/indie", "pop", "jazz"]
    np.testing.assert_allclose(_dense(labels), [[2, 1, 0], [0, 0, 2]])
    assert report.count("malformed") == 2
    assert "line 6" in report.examples("malformed")[0] and "line 7" in report.examples("malformed")[1]
    assert report.count("duplicates") == 1


def test_scalar_table_for_a_custom_source(tmp_path):
    path = write_lines(tmp_path / "loudness.csv", ["TR1,-7.5", "TR2,-12", "TR3,", "TR4,inf"])
    report = SourceReport("loudness")
    labels = readers.read_scalar_table(path, report=report)
    assert dict(zip(labels.track_ids, labels.values)) == {"TR1": -7.5, "TR2": -12.0}
    assert report.count("malformed") == 1 and report.count("missing_values") == 1


def test_artist_tags_sum_the_tags_of_each_artists_tracks(tmp_path):
    db = write_lastfm_db(tmp_path / "lastfm_tags.db", ["TR1", "TR2", "TR3", "TRX"], ["metal", "pop"], [
        (1, 1, 100.0), (2, 1, 50.0), (2, 2, 10.0), (3, 2, 80.0), (4, 2, 5.0)])
    tracks = write_unique_tracks(tmp_path / "unique_tracks.txt", [
        ("TR1", "SO1", "Band", "a"), ("TR2", "SO2", "Band", "b"), ("TR3", "SO3", "Singer", "c"),
        ("TR4", "SO4", "Band", "untagged track of a tagged artist"), ("TR5", "SO5", "Nobody", "no tags"),
    ])
    report = SourceReport("artist")
    labels = readers.read_artist_tags(db, tracks_path=tracks, report=report)
    assert list(labels.row_ids) == ["Band", "Singer"]
    np.testing.assert_allclose(_dense(labels), [[150, 10], [0, 80]])
    assert dict(zip(labels.track_ids, labels.track_rows)) == {"TR1": 0, "TR2": 0, "TR3": 1, "TR4": 0}
    assert report.count("unmapped") == 1 and "TRX" in report.examples("unmapped")[0]


def test_unique_tracks_reports_malformed_and_repeated_lines(tmp_path):
    path = write_lines(tmp_path / "unique_tracks.txt", [
        "TR1<SEP>SO1<SEP>A<SEP>t", "garbage line", "TR1<SEP>SO9<SEP>B<SEP>t2", "TR2<SEP>SO2<SEP>C<SEP>t3"])
    report = SourceReport("taste")
    track_ids, song_ids, artists = readers.read_unique_tracks(path, report=report)
    assert list(track_ids) == ["TR1", "TR2"] and list(song_ids) == ["SO1", "SO2"] and list(artists) == ["A", "C"]
    assert report.count("malformed") == 1 and "line 2" in report.examples("malformed")[0]
    assert report.count("duplicates") == 1
