"""The MSD Last.fm tag database ``lastfm_tags.db`` (SQLite): ``tids(tid)``, ``tags(tag)``,
``tid_tag(tid, tag, val)`` where ``tid_tag.tid``/``.tag`` are ROWIDs of ``tids``/``tags`` and
``val`` is 0–100; and the artist × tag bag built from it with ``unique_tracks.txt``."""

from __future__ import annotations

import sqlite3
from array import array
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import SourceError
from mtl_music.sources.base import LabelMatrix, SourceReport
from mtl_music.sources.readers.common import sparse_from_entries
from mtl_music.sources.readers.msd import read_unique_tracks


def read_lastfm_tags(path: str | Path, *, report: SourceReport, batch_rows: int = 200_000) -> LabelMatrix:
    """Read the MSD Last.fm tag database ``lastfm_tags.db`` into a track × tag matrix.

    Args:
        path: the SQLite file (tables ``tids``, ``tags``, ``tid_tag``).
        report: collects malformed ``tid_tag`` rows (by ROWID), duplicates and counts.
        batch_rows: rows fetched from SQLite at a time (memory bound of the read).

    Returns:
        :class:`LabelMatrix` with ``matrix`` CSR ``(n_tracks, n_tags)`` float64 of ``val``
        (0–100), ``row_ids`` the ``tids.tid`` strings and ``label_names`` the ``tags.tag`` strings.
    """
    path = Path(path)
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as err:
        raise SourceError(f"{path} is not a readable SQLite database ({err}); expected the MSD Last.fm "
                          "tag database with tables tids, tags, tid_tag") from err
    missing = {"tids", "tags", "tid_tag"} - tables
    if missing:
        con.close()
        raise SourceError(f"{path} lacks the table(s) {', '.join(sorted(missing))}; the MSD Last.fm tag schema is "
                          "tids(tid TEXT), tags(tag TEXT), tid_tag(tid INTEGER, tag INTEGER, val FLOAT)")
    try:
        track_index, row_ids = _rowid_lookup(con, "tids", "tid", report=report)
        tag_index, label_names = _rowid_lookup(con, "tags", "tag", report=report)
        rows, cols, vals = array("i"), array("i"), array("d")
        n_read = 0
        cursor = con.execute("SELECT rowid, tid, tag, val FROM tid_tag")
        while True:
            batch = cursor.fetchmany(batch_rows)
            if not batch:
                break
            n_read += len(batch)
            _lastfm_batch(batch, track_index, tag_index, rows, cols, vals, report)
    except sqlite3.DatabaseError as err:
        raise SourceError(f"{path}: cannot read the tag tables ({err})") from err
    finally:
        con.close()
    report.counts["tid_tag_rows"] = n_read
    matrix = sparse_from_entries(rows, cols, vals, n_rows=len(row_ids), n_cols=len(label_names),
                                  row_ids=row_ids, label_names=label_names, report=report)
    return LabelMatrix(matrix=matrix, row_ids=np.asarray(row_ids, dtype=str), label_names=label_names)


def _rowid_lookup(con: sqlite3.Connection, table: str, column: str, *, report: SourceReport):
    """ROWID -> dense index (an array, -1 where no row) and the names; repeated names merge."""
    pairs = con.execute(f"SELECT rowid, {column} FROM {table}").fetchall()  # noqa: S608 (fixed names)
    max_rowid = max((p[0] for p in pairs), default=0)
    lookup = np.full(max_rowid + 1, -1, dtype=np.int64)
    names: list[str] = []
    index: dict[str, int] = {}
    for rowid, name in pairs:
        if name is None or str(name) == "":
            report.add("malformed", f"{table} ROWID {rowid}: empty {column}")
            continue
        name = str(name)
        code = index.get(name)
        if code is None:
            code = index[name] = len(names)
            names.append(name)
        else:
            report.add("duplicates", f"{table}.{column} {name!r} at ROWID {rowid} repeats ROWID of an earlier row (merged)")
        lookup[rowid] = code
    return lookup, names


def _lastfm_batch(batch, track_index, tag_index, rows: array, cols: array, vals: array, report: SourceReport) -> None:
    """Validate one batch of ``(rowid, tid, tag, val)`` rows and append the good ones."""
    try:
        block = np.asarray(batch, dtype=np.float64)  # fast path: every field numeric
    except (TypeError, ValueError):
        # Slow path, only for a batch holding text or NULL: set those rows aside one by one.
        numeric = []
        for row in batch:
            if all(isinstance(x, (int, float)) for x in row):
                numeric.append(row)
            else:
                report.add("malformed", f"tid_tag ROWID {row[0]}: non-numeric field in {tuple(row[1:])!r}")
        block = np.asarray(numeric, dtype=np.float64).reshape(-1, 4)
    rowids, tid, tag, val = block[:, 0], block[:, 1], block[:, 2], block[:, 3]
    tid_i = np.where((tid >= 0) & (tid < len(track_index)) & (tid == np.floor(tid)), tid, 0).astype(np.int64)
    tag_i = np.where((tag >= 0) & (tag < len(tag_index)) & (tag == np.floor(tag)), tag, 0).astype(np.int64)
    t = np.where(tid_i > 0, track_index[tid_i], -1)
    g = np.where(tag_i > 0, tag_index[tag_i], -1)
    bad_value = ~np.isfinite(val) | (val < 0)
    bad = (t < 0) | (g < 0) | bad_value
    if bad.any():
        for i in np.flatnonzero(bad)[:5]:
            why = ("tid refers to no tids row" if t[i] < 0 else "tag refers to no tags row" if g[i] < 0
                   else f"val {val[i]!r} is not a finite non-negative weight")
            report.add("malformed", f"tid_tag ROWID {int(rowids[i])}: {why}")
        if bad.sum() > 5:
            report.add("malformed", count=int(bad.sum()) - 5)
    keep = ~bad
    rows.frombytes(t[keep].astype(np.int32).tobytes())  # array("i") holds C ints (4 bytes)
    cols.frombytes(g[keep].astype(np.int32).tobytes())
    vals.frombytes(np.ascontiguousarray(val[keep]).tobytes())


def read_artist_tags(tags_path: str | Path, *, tracks_path: str | Path, report: SourceReport) -> LabelMatrix:
    """Bag of tags per artist: the Last.fm track × tag weights summed over each artist's tracks.

    Args:
        tags_path: ``lastfm_tags.db``.
        tracks_path: ``unique_tracks.txt`` (gives each track's artist name).
        report: as for the two readers; tagged tracks without an artist are ``unmapped``.

    Returns:
        :class:`LabelMatrix` over artists (``row_ids`` = artist names, columns = tags);
        ``track_ids``/``track_rows`` give every track of ``unique_tracks.txt`` whose artist has tags.
    """
    tags = read_lastfm_tags(tags_path, report=report)
    track_ids, _, artists = read_unique_tracks(tracks_path, report=report)
    artist_names, artist_of_track = np.unique(artists, return_inverse=True)
    position = {t: i for i, t in enumerate(track_ids)}
    tagged_artist = np.fromiter((artist_of_track[position[t]] if t in position else -1 for t in tags.row_ids),
                                dtype=np.int64, count=len(tags.row_ids))
    orphans = np.flatnonzero(tagged_artist < 0)
    report.add_many("unmapped", [f"tagged track {tags.row_ids[i]} has no artist in {Path(tracks_path).name}"
                                 for i in orphans[:5]], count=len(orphans))
    keep = np.flatnonzero(tagged_artist >= 0)
    # (artists × tagged tracks) indicator times (tagged tracks × tags): sparse, never dense.
    membership = sp.csr_matrix((np.ones(len(keep)), (tagged_artist[keep], keep)),
                               shape=(len(artist_names), len(tags.row_ids)))
    matrix = (membership @ tags.matrix).tocsr()
    matrix.sort_indices()
    has_tags = np.diff(matrix.indptr) > 0
    rows = np.flatnonzero(has_tags)
    new_row = np.full(len(artist_names), -1, dtype=np.int64)
    new_row[rows] = np.arange(len(rows))
    track_rows = new_row[artist_of_track]
    covered = track_rows >= 0
    report.counts["artists"] = int(len(rows))
    return LabelMatrix(matrix=matrix[rows], row_ids=artist_names[rows], label_names=tags.label_names,
                       track_ids=track_ids[covered], track_rows=track_rows[covered])
