"""FMA, Extended Ballroom, IRMAS, MediaEval and Last.fm-1K loaders: what they read from the real
formats, what they leave out (logged), and their errors."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp

from mtl_music.errors import DataError
from mtl_music.targets import ballroom, fma_medium, irmas, lastfm1k, mediaeval

from tests.helpers.target_files import (
    IRMAS_INSTRUMENTS,
    fma_rows,
    lastfm_events,
    mbid,
    target_node,
    write_audio,
    write_ballroom_layout,
    write_fma,
    write_irmas,
    write_lastfm,
    write_lines,
    write_mediaeval,
)


# ---------------------------------------------------------------- FMA
def test_fma_reads_the_two_row_header_and_nested_subsets(targets_root):
    index = fma_medium.load_index(target_node("fma_medium", targets_root))
    expected = {f"{tid:06d}": (genre, {"training": "train", "validation": "valid", "test": "test"}[split])
                for tid, subset, split, genre in fma_rows() if subset in ("small", "medium") and genre and tid != 140002}
    assert {t.track_id: (t.label, t.split) for t in index.tracks} == expected
    assert index.classes == ("Electronic", "Folk", "Rock")
    track = index.tracks[0]
    assert track.path.parent.name == track.track_id[:3] and track.path.name == f"{track.track_id}.mp3"


def test_fma_subsets_option(targets_root):
    index = fma_medium.load_index(target_node("fma_medium", targets_root, subsets=["small"]))
    assert len(index.tracks) == sum(1 for _, subset, _, _ in fma_rows() if subset == "small")


def test_fma_logs_what_it_leaves_out(targets_root, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.fma_medium"):
        fma_medium.load_index(target_node("fma_medium", targets_root))
    assert "have no track.genre_top" in caplog.text and "140001" in caplog.text
    assert "have no audio" in caplog.text and "140/140002.mp3" in caplog.text


def test_fma_wrong_csv_and_unreadable_csv(tmp_path):
    write_fma(tmp_path / "fma")
    tracks_csv = tmp_path / "fma" / "fma_metadata" / "tracks.csv"
    tracks_csv.write_text("track_id,genre_top,split\n2,Rock,training\n")
    with pytest.raises(DataError, match="lacks the column\\(s\\) set.subset, set.split, track.genre_top"):
        fma_medium.load_index(target_node("fma_medium", tmp_path))
    tracks_csv.write_bytes(b"\xff\xfe\x00garbage\x80\x81")
    with pytest.raises(DataError, match="cannot read FMA's tracks.csv"):
        fma_medium.load_index(target_node("fma_medium", tmp_path))
    tracks_csv.unlink()
    with pytest.raises(DataError, match=r"tracks.csv.*does not exist.*target\.fma_medium\.tracks_csv="):
        fma_medium.load_index(target_node("fma_medium", tmp_path))


def test_fma_without_audio_is_an_error(tmp_path):
    write_fma(tmp_path / "fma")
    for mp3 in (tmp_path / "fma" / "fma_medium").rglob("*.mp3"):
        mp3.unlink()
    with pytest.raises(DataError, match="no track of subset"):
        fma_medium.load_index(target_node("fma_medium", tmp_path))


# ---------------------------------------------------------------- Extended Ballroom
def test_ballroom_classes_from_folders_ignoring_root_files(targets_root):
    index = ballroom.load_index(target_node("ballroom", targets_root))
    assert index.classes == ("Chacha", "Jive", "Tango", "Waltz") and len(index.tracks) == 24
    assert index.tracks[0].track_id == "Chacha/100000" and all(t.split is None for t in index.tracks)


def test_ballroom_flat_folder_and_empty_class_are_errors(tmp_path):
    for n in range(3):
        write_audio(tmp_path / "extended_ballroom" / f"{n}.mp3")
    with pytest.raises(DataError, match="no class folder \\(3 audio files lie directly in it"):
        ballroom.load_index(target_node("ballroom", tmp_path))
    write_ballroom_layout(tmp_path / "extended_ballroom", classes=("Jive",), per_class=5)
    (tmp_path / "extended_ballroom" / "Salsa").mkdir()
    with pytest.raises(DataError, match="Salsa hold no audio"):
        ballroom.load_index(target_node("ballroom", tmp_path))


def test_ballroom_same_stem_twice_is_an_error(tmp_path):
    write_ballroom_layout(tmp_path / "extended_ballroom", classes=("Jive", "Tango"), per_class=5)
    write_audio(tmp_path / "extended_ballroom" / "Jive" / "200000.wav")
    write_audio(tmp_path / "extended_ballroom" / "Jive" / "200000.mp3")
    with pytest.raises(DataError, match="Jive/200000"):
        ballroom.load_index(target_node("ballroom", tmp_path))


def test_ballroom_too_small_class_for_a_stratified_split(tmp_path):
    write_ballroom_layout(tmp_path / "extended_ballroom", classes=("Jive", "Tango"), per_class=5)
    write_ballroom_layout(tmp_path / "extended_ballroom", classes=("Salsa",), per_class=1)
    index = ballroom.load_index(target_node("ballroom", tmp_path))
    with pytest.raises(DataError, match="at least 2 tracks per class.*Salsa \\(1\\)"):
        ballroom.splits(index)


# ---------------------------------------------------------------- IRMAS
@pytest.mark.parametrize("stem, song", [
    ("[cel][cla]0001__1", "[cel][cla]0001"),
    ("[cel][cla]0001__12", "[cel][cla]0001"),
    ("008__[cel][nod][cla]0058__1", "008__[cel][nod][cla]0058"),
    ("[gac][pop_roc]0522", None),
    ("__3", None),
])
def test_irmas_song_key(stem, song):
    assert irmas.song_key(stem) == song


def test_irmas_groups_excerpts_by_song(targets_root):
    index = irmas.load_index(target_node("irmas", targets_root))
    assert index.classes == IRMAS_INSTRUMENTS and len(index.tracks) == 110
    sizes = Counter(t.group for t in index.tracks)
    assert len(sizes) == 55 and set(sizes.values()) == {2}
    track = next(t for t in index.tracks if t.track_id == "cel/001__[cel][nod][cla]0001__2")
    assert track.group == "001__[cel][nod][cla]0001" and track.label == "cel"


def test_irmas_missing_instrument_folder(tmp_path):
    write_irmas(tmp_path / "irmas" / "IRMAS-TrainingData", instruments=IRMAS_INSTRUMENTS[:-1])
    with pytest.raises(DataError, match=r"class folder\(s\) voi missing.*target\.irmas\.root="):
        irmas.load_index(target_node("irmas", tmp_path))


def test_irmas_unsuffixed_names_are_logged_songs_of_their_own(tmp_path, caplog):
    root = tmp_path / "irmas" / "IRMAS-TrainingData"
    write_irmas(root)
    write_audio(root / "cel" / "odd name.wav")
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.irmas"):
        index = irmas.load_index(target_node("irmas", tmp_path))
    assert "cel/odd name.wav" in caplog.text
    assert next(t for t in index.tracks if t.track_id == "cel/odd name").group == "cel/odd name"


# ---------------------------------------------------------------- MediaEval
def test_mediaeval_labels_and_release_split(targets_root):
    arousal = mediaeval.load_index(target_node("mediaeval_arousal", targets_root))
    valence = mediaeval.load_index(target_node("mediaeval_valence", targets_root))
    assert [t.track_id for t in arousal.tracks] == [str(i) for i in range(3, 42)]  # numeric order; 2 has no audio
    assert arousal.labels[0] != valence.labels[0]
    by_id = {t.track_id: t for t in arousal.tracks}
    assert by_id["7"].split == "test" and by_id["8"].split == "train" and by_id["8"].stratum == "Rock"


def test_mediaeval_values_match_the_csv(tmp_path):
    truth = write_mediaeval(tmp_path / "mediaeval")
    index = mediaeval.load_index(target_node("mediaeval_valence", tmp_path))
    for track in index.tracks:
        assert track.label == truth[track.track_id][1] and track.stratum == truth[track.track_id][2]


def test_mediaeval_without_split_column_is_genre_stratified(tmp_path, caplog):
    write_mediaeval(tmp_path / "mediaeval", n_songs=60, split_column=False)
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.mediaeval"):
        index = mediaeval.load_index(target_node("mediaeval_arousal", tmp_path))
    assert "genre-stratified random split" in caplog.text
    assert all(t.split is None for t in index.tracks)
    genres = np.array([t.stratum for t in index.tracks])
    totals = Counter(genres)
    for _, test in mediaeval.splits(index, n_repetitions=3, seed=0):
        for genre, count in Counter(genres[test]).items():
            assert abs(count - 0.2 * totals[genre]) <= 1


def test_mediaeval_split_column_null_overrides_the_release_split(targets_root):
    index = mediaeval.load_index(target_node("mediaeval_arousal", targets_root, split_column=None))
    assert all(t.split is None for t in index.tracks)


def test_mediaeval_errors(tmp_path):
    write_mediaeval(tmp_path / "mediaeval")
    with pytest.raises(DataError, match="lacks the column\\(s\\) mean_dominance"):
        mediaeval.load_index(target_node("mediaeval_arousal", tmp_path, label_column="mean_dominance"))
    info = tmp_path / "mediaeval" / "annotations" / "songs_info.csv"
    info.write_text(info.read_text().replace("evaluation", "holdout"))
    with pytest.raises(DataError, match="'holdout'"):
        mediaeval.load_index(target_node("mediaeval_arousal", tmp_path))
    info.unlink()
    with pytest.raises(DataError, match=r"songs_info.csv.*target\.mediaeval_arousal\.songs_info_csv="):
        mediaeval.load_index(target_node("mediaeval_arousal", tmp_path))


# ---------------------------------------------------------------- Last.fm-1K
def _naive_filter(events, *, min_tracks: int, min_users: int) -> tuple[set, set]:
    pairs = set(events)
    while True:
        users = Counter(u for u, _ in pairs)
        tracks = Counter(t for _, t in pairs)
        kept = {(u, t) for u, t in pairs if users[u] >= min_tracks and tracks[t] >= min_users}
        if kept == pairs:
            return {u for u, _ in pairs}, {t for _, t in pairs}
        pairs = kept


def test_lastfm_counts_plays_and_filters_to_a_fixed_point(targets_root):
    index = lastfm1k.load_index(target_node("lastfm1k", targets_root))
    users, tracks = _naive_filter(lastfm_events(), min_tracks=5, min_users=5)
    assert set(index.interactions.user_ids) == users == {f"user_{u:06d}" for u in range(10)}
    assert {t.track_id for t in index.tracks} == tracks == {mbid(t) for t in range(8)}
    plays = Counter(lastfm_events())
    matrix = index.interactions.matrix.toarray()
    for i, user in enumerate(index.interactions.user_ids):
        for j, track in enumerate(index.tracks):
            assert matrix[i, j] == plays[(user, track.track_id)]
    assert index.tracks[0].path.name == f"{index.tracks[0].track_id}.wav"


def test_lastfm_logs_skips(targets_root, caplog):
    with caplog.at_level(logging.INFO, logger="mtl_music.targets.lastfm1k"):
        lastfm1k.load_index(target_node("lastfm1k", targets_root))
    assert "point to missing audio files" in caplog.text and "missing.wav" in caplog.text
    assert "fewer than 6 tab-separated fields" in caplog.text
    assert "have no track MBID" in caplog.text


def test_filter_min_counts_matches_the_naive_loop():
    rng = np.random.default_rng(0)
    dense = (rng.random((40, 30)) < 0.2) * rng.integers(1, 5, (40, 30))
    rows, cols = lastfm1k.filter_min_counts(sp.csr_matrix(dense.astype(np.float32)), min_tracks_per_user=4,
                                            min_users_per_track=4)
    events = [(i, j) for i, j in zip(*np.nonzero(dense))]
    users, tracks = _naive_filter(events, min_tracks=4, min_users=4)
    assert set(rows.tolist()) == users and set(cols.tolist()) == tracks


def test_lastfm_mapping_errors(tmp_path):
    root = tmp_path / "lastfm-dataset-1K"
    write_lastfm(root)
    audio_map = root / "audio_map.tsv"
    write_lines(audio_map, [f"{mbid(0)}\taudio/gone.wav", f"{mbid(1)}\taudio/gone2.wav"])
    with pytest.raises(DataError, match="none of the 2 audio file\\(s\\).*exists"):
        lastfm1k.load_index(target_node("lastfm1k", tmp_path))
    write_lines(audio_map, [f"{mbid(0)} audio/{mbid(0)}.wav"])
    with pytest.raises(DataError, match="line 1.*is not '<track_mbid>"):
        lastfm1k.load_index(target_node("lastfm1k", tmp_path))
    write_lines(audio_map, [f"{mbid(0)}\taudio/{mbid(0)}.wav", f"{mbid(0)}\taudio/{mbid(1)}.wav"])
    with pytest.raises(DataError, match="mapped to both"):
        lastfm1k.load_index(target_node("lastfm1k", tmp_path))
    write_lines(audio_map, [f"{mbid(0)}\taudio/{mbid(0)}.wav"])
    with pytest.raises(DataError, match="no user keeps 5 tracks"):
        lastfm1k.load_index(target_node("lastfm1k", tmp_path))
    audio_map.unlink()
    with pytest.raises(DataError, match=r"audio_map.tsv.*target\.lastfm1k\.audio_map_tsv="):
        lastfm1k.load_index(target_node("lastfm1k", tmp_path))


def test_demo_dance_skips_the_builders_records_folder_only_when_configured(targets_root):
    assert ballroom.load_index(target_node("demo_dance", targets_root)).classes == ("Hornpipe", "Jig", "Reel")
    with pytest.raises(DataError, match="records hold no audio"):
        ballroom.load_index(target_node("demo_dance", targets_root, ignore_folders=[]))
