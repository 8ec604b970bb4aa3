"""Last.fm 1K users listening data (Celma 2010), content-aware recommendation target (R6.3, R6.4).

Layout under ``root``:

* ``userid-timestamp-artid-artname-traid-traname.tsv``: the release's listening events, tab
  separated, no header, six columns ``user_id, timestamp, artist_mbid, artist_name, track_mbid,
  track_name`` (19 M lines; track names may contain quotes, so no CSV quoting is applied and
  tabs past the fifth stay in the track name);
* an audio mapping the user supplies (the release has no audio), ``audio_map_tsv``: lines
  ``<track_mbid>\\t<audio path>`` (paths relative to the mapping's folder or absolute; a first
  line starting with ``track_id`` is a header).

A track is a ``track_mbid`` (events without one cannot be mapped and are skipped). Only tracks
with an existing audio file enter: mapping lines whose file is missing are logged and dropped,
then events of unmapped tracks are dropped, *before* the paper's filter, so that the thresholds
count what can be evaluated. Filter: users with fewer than ``min_tracks_per_user`` (5) distinct
tracks and tracks with fewer than ``min_users_per_track`` (5) distinct users are removed,
repeatedly until neither rule removes anything (removing a track can push a user under 5).

``interactions`` holds the play counts (events per user and track); ``splits()`` holds out a
random ``test_fraction`` of the *tracks* per repetition (cold-start items, seeded by
``(seed, repetition)``).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from mtl_music.targets.base import DEFAULT_TEST_FRACTION, Interactions, Split, TargetIndex, TargetTrack, random_splits
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LISTENS_FILE = "userid-timestamp-artid-artname-traid-traname.tsv"

LAYOUT = (f"{LISTENS_FILE} (tab separated, no header: user_id, timestamp, artist_mbid, artist_name, track_mbid, "
          "track_name) plus your audio mapping TSV (audio_map_tsv) with lines '<track_mbid>\\t<audio path>'")


def read_audio_map(path: Path, *, options: TargetOptions) -> dict[str, Path]:
    """``{track_mbid: audio path}`` of the mapping TSV, keeping only files that exist.

    Raises :class:`~mtl_music.errors.DataError` for a malformed line, a track mapped to two
    different files, or a mapping none of whose files exist; missing files are logged.
    """
    mapping: dict[str, Path] = {}
    missing: list[str] = []
    for line_no, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not raw.strip():
            continue
        fields = raw.split("\t")
        if line_no == 1 and fields[0].strip().lower() == "track_id":
            continue
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise options.layout_error(f"{path} line {line_no}: {raw!r} is not '<track_mbid>\\t<audio path>'",
                                       fix_key="audio_map_tsv")
        track, audio = fields[0].strip(), Path(fields[1].strip()).expanduser()
        audio = audio if audio.is_absolute() else path.parent / audio
        if track in mapping and mapping[track] != audio:
            raise options.layout_error(f"{path} line {line_no}: track {track} is mapped to both {mapping[track]} and {audio}",
                                       fix_key="audio_map_tsv")
        if not audio.is_file():
            missing.append(f"{track} -> {audio}")
            continue
        mapping[track] = audio
    if missing:
        log.warning("target %s: %d track(s) of %s point to missing audio files and are dropped (e.g. %s)",
                    options.name, len(missing), path, "; ".join(missing[:3]))
    if not mapping:
        raise options.layout_error(f"none of the {len(missing)} audio file(s) named in {path} exists"
                                   if missing else f"{path} maps no track", fix_key="audio_map_tsv")
    return mapping


def count_plays(path: Path, *, tracks: set[str], options: TargetOptions) -> Counter:
    """``Counter{(user_id, track_mbid): plays}`` over the listening events of tracks in ``tracks``.

    The file is read in binary line by line (~19 M lines): splitting on the first 5 tabs is all
    the parsing needed. Lines with fewer than 6 fields are counted and logged.
    """
    wanted = {t.encode("utf-8") for t in tracks}
    plays: Counter = Counter()
    malformed: list[int] = []
    no_track = 0
    with path.open("rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.rstrip(b"\r\n").split(b"\t", 5)
            if len(fields) < 6:
                if line.strip():
                    malformed.append(line_no)
                continue
            track = fields[4].strip()
            if not track:
                no_track += 1
            elif track in wanted:
                plays[(fields[0].decode("utf-8", errors="replace"), track.decode("utf-8"))] += 1
    if malformed:
        log.warning("target %s: %d line(s) of %s have fewer than 6 tab-separated fields and are skipped (lines %s)",
                    options.name, len(malformed), path, ", ".join(map(str, malformed[:5])))
    if no_track:
        log.info("target %s: %d listening events have no track MBID and cannot be mapped to audio", options.name, no_track)
    return plays


def filter_min_counts(matrix: sp.csr_matrix, *, min_tracks_per_user: int, min_users_per_track: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Rows (users) and columns (tracks) of ``matrix`` (n_users, n_tracks) that survive the
    alternating filter at its fixed point: every kept user has at least ``min_tracks_per_user``
    kept tracks and every kept track at least ``min_users_per_track`` kept users.

    Returns (kept row positions, kept column positions), both sorted int64.
    """
    rows = np.arange(matrix.shape[0])
    cols = np.arange(matrix.shape[1])
    binary = (matrix > 0).astype(np.int64).tocsr()
    while True:
        sub = binary[rows][:, cols]
        keep_cols = np.asarray(sub.sum(axis=0)).ravel() >= min_users_per_track
        sub = sub[:, keep_cols]
        keep_rows = np.asarray(sub.sum(axis=1)).ravel() >= min_tracks_per_user
        if keep_cols.all() and keep_rows.all():
            return rows.astype(np.int64), cols.astype(np.int64)
        cols, rows = cols[keep_cols], rows[keep_rows]


def load_index(cfg: Any) -> TargetIndex:
    """Reads Last.fm-1K with its audio mapping (keys: ``name``, ``root``, ``listens_tsv``,
    ``audio_map_tsv``, ``min_tracks_per_user``, ``min_users_per_track``, ``test_fraction``).

    Returns a recommendation :class:`TargetIndex`: tracks sorted by MBID (label and split
    ``None``) and :class:`~mtl_music.targets.base.Interactions` (users sorted by id × tracks,
    float32 play counts).
    """
    options = TargetOptions(cfg, dataset="lastfm-dataset-1K", layout=LAYOUT)
    root = options.root()
    listens = options.existing_file("listens_tsv", root / LISTENS_FILE)
    audio_map = options.existing_file("audio_map_tsv", root / "audio_map.tsv")
    min_tracks = options.count("min_tracks_per_user", 5)
    min_users = options.count("min_users_per_track", 5)

    audio = read_audio_map(audio_map, options=options)
    plays = count_plays(listens, tracks=set(audio), options=options)
    if not plays:
        raise options.layout_error(f"no listening event of {listens} is for a track of {audio_map}; are the mapping's "
                                   "ids the track MBIDs (5th column)?", fix_key="audio_map_tsv")
    user_ids = sorted({u for u, _ in plays})
    track_ids = sorted({t for _, t in plays})
    user_pos = {u: i for i, u in enumerate(user_ids)}
    track_pos = {t: j for j, t in enumerate(track_ids)}
    pairs = list(plays.items())
    matrix = sp.csr_matrix(
        (np.fromiter((n for _, n in pairs), dtype=np.float32, count=len(pairs)),
         (np.fromiter((user_pos[u] for (u, _), _ in pairs), dtype=np.int64, count=len(pairs)),
          np.fromiter((track_pos[t] for (_, t), _ in pairs), dtype=np.int64, count=len(pairs)))),
        shape=(len(user_ids), len(track_ids)),
    )
    rows, cols = filter_min_counts(matrix, min_tracks_per_user=min_tracks, min_users_per_track=min_users)
    log.info("target %s: %d users x %d tracks with audio; %d x %d after the %d-track / %d-user filter", options.name,
             len(user_ids), len(track_ids), len(rows), len(cols), min_tracks, min_users)
    if len(rows) == 0 or len(cols) == 0:
        raise options.layout_error(f"no user keeps {min_tracks} tracks with {min_users} users each after filtering "
                                   f"({len(user_ids)} users x {len(track_ids)} tracks with audio before); map more tracks "
                                   f"in {audio_map}", fix_key="audio_map_tsv")
    matrix = matrix[rows][:, cols].tocsr()
    matrix.sort_indices()
    tracks = [TargetTrack(track_id=track_ids[j], path=audio[track_ids[j]], label=None, split=None) for j in cols]
    return TargetIndex(name=options.name, loader="lastfm1k", task="recommendation", metric="ndcg@500", tracks=tracks,
                       interactions=Interactions(matrix=matrix, user_ids=tuple(user_ids[i] for i in rows)),
                       test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION))


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Holds out a random ``index.test_fraction`` of the tracks per repetition (cold start),
    seeded by ``(seed, repetition)``; train/test are positions into ``index.tracks`` (columns)."""
    return random_splits(index, n_repetitions=n_repetitions, seed=seed)
