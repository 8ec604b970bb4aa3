"""Readers of the raw label files of the learning sources, in the public formats of the
MSD-era originals (paper Table 1, SPEC R3.3).

Every reader streams its file line by line (or row by row for SQLite), counts what it
cannot use in a :class:`~mtl_music.sources.base.SourceReport` (with line numbers) instead
of dropping it silently, and returns either a sparse :class:`LabelMatrix` or
:class:`ScalarLabels`. Duplicated (track, label) entries are summed, duplicated scalars
averaged; both are reported.

Formats:

* ``lastfm_tags.db``: SQLite, ``tids(tid)``, ``tags(tag)``, ``tid_tag(tid, tag, val)`` where
  ``tid_tag.tid``/``.tag`` are ROWIDs of ``tids``/``tags`` and ``val`` is 0–100.
* ``train_triplets.txt``: ``user \\t song_id \\t count``; songs map to tracks through
  ``unique_tracks.txt`` (``track_id<SEP>song_id<SEP>artist<SEP>title``).
* ``mxm_dataset_{train,test}.txt``: ``#`` comments, one ``%word1,word2,...`` vocabulary line,
  then ``track_id,mxm_track_id,idx:cnt,...`` with 1-based word indices.
* ``tracks_per_year.txt``: ``year<SEP>track_id<SEP>artist<SEP>title``; year 0 is unknown.
* ``tempo.tsv``: ``track_id \\t bpm`` with an optional header; bpm <= 0 or non-finite is unknown.
* any CSV/TSV: ``track_id, label[, weight]`` (weight defaults to 1) or ``track_id, value``.
"""

from __future__ import annotations

import csv
import math
import sqlite3
from array import array
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from mtl_music.errors import SourceError
from mtl_music.sources.base import LabelMatrix, ScalarLabels, SourceReport

#: The field separator of the MSD text files (``unique_tracks.txt``, ``tracks_per_year.txt``).
MSD_SEP = "<SEP>"

#: Bad lines described one by one per chunk (the rest are counted).
MAX_BAD_EXAMPLES = 20

#: Column names that mark the first line of a table as a header.
HEADER_FIRST_FIELDS = ("track_id", "track", "tid", "id")


# ------------------------------------------------------------------ shared helpers
def _open_text(path: Path):
    # Real MSD files are UTF-8; a stray byte must not abort a 48 M-line read.
    return open(path, encoding="utf-8", errors="replace", newline="")


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _sparse_from_entries(
    rows: array | np.ndarray,
    cols: array | np.ndarray,
    values: array | np.ndarray,
    *,
    n_rows: int,
    n_cols: int,
    row_ids: Sequence[str],
    label_names: Sequence[str],
    report: SourceReport,
) -> sp.csr_matrix:
    """CSR ``(n_rows, n_cols)`` float64 from COO entries, duplicates summed and reported."""
    r = np.frombuffer(rows, dtype=np.int32) if isinstance(rows, array) else np.asarray(rows, dtype=np.int32)
    c = np.frombuffer(cols, dtype=np.int32) if isinstance(cols, array) else np.asarray(cols, dtype=np.int32)
    v = np.frombuffer(values, dtype=np.float64) if isinstance(values, array) else np.asarray(values, np.float64)
    # COO -> CSR sums repeated (row, col) entries into one stored entry (explicit zeros kept).
    matrix = sp.csr_matrix((v, (r, c)), shape=(n_rows, n_cols), dtype=np.float64)
    matrix.sum_duplicates()
    n_duplicates = len(v) - matrix.nnz
    if n_duplicates:
        # Only for the examples: find a few repeated keys (a sort, paid only when there are repeats).
        key = r.astype(np.int64) * max(n_cols, 1) + c
        uniq, counts = np.unique(key, return_counts=True)
        repeated = np.flatnonzero(counts > 1)[:5]
        examples = [
            f"track {row_ids[int(uniq[i] // max(n_cols, 1))]} label {label_names[int(uniq[i] % max(n_cols, 1))]!r} "
            f"({int(counts[i])} entries, summed)"
            for i in repeated
        ]
        report.add_many("duplicates", examples, count=n_duplicates)
    matrix.eliminate_zeros()
    return matrix


def _scalars_from_entries(ids: list[str], values: list[float], *, report: SourceReport) -> ScalarLabels:
    """One value per track; a track given several values gets their mean (reported)."""
    if not ids:
        return ScalarLabels(track_ids=np.array([], dtype=str), values=np.zeros(0))
    id_array = np.asarray(ids, dtype=str)
    value_array = np.asarray(values, dtype=np.float64)
    unique, inverse, counts = np.unique(id_array, return_inverse=True, return_counts=True)
    if len(unique) < len(id_array):
        sums = np.bincount(inverse, weights=value_array, minlength=len(unique))
        merged = sums / counts
        dup = np.flatnonzero(counts > 1)
        report.add_many(
            "duplicates", [f"track {unique[i]} ({counts[i]} values, averaged)" for i in dup[:5]],
            count=int((counts[dup] - 1).sum()),
        )
        return ScalarLabels(track_ids=unique, values=merged)
    return ScalarLabels(track_ids=id_array, values=value_array)


def _sniff_delimiter(path: Path) -> str:
    """``,`` for .csv, tab for .tsv, else the candidate (tab , ; |) found on most of the first lines."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return ","
    if suffix == ".tsv":
        return "\t"
    with _open_text(path) as f:
        sample = [line for line in (f.readline() for _ in range(50)) if line.strip()]
    # csv.Sniffer gives up on rows of uneven length (optional weight column); counting lines does not.
    score = {d: (sum(d in line for line in sample), sum(line.count(d) for line in sample)) for d in "\t,;|"}
    best = max(score, key=lambda d: score[d])
    return best if score[best][0] else "\t"


def _is_header(fields: Sequence[str]) -> bool:
    return bool(fields) and fields[0].strip().lower() in HEADER_FIRST_FIELDS


# ------------------------------------------------------------------ Last.fm tags (SQLite)
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
    matrix = _sparse_from_entries(rows, cols, vals, n_rows=len(row_ids), n_cols=len(label_names),
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


# ------------------------------------------------------------------ unique_tracks.txt
def read_unique_tracks(path: str | Path, *, report: SourceReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read ``unique_tracks.txt`` (``track_id<SEP>song_id<SEP>artist<SEP>title``).

    Returns:
        ``(track_ids, song_ids, artists)``, each ``(n,)`` str, one entry per valid line
        (a track listed twice keeps its first line; the repeat is reported).
    """
    track_ids: list[str] = []
    song_ids: list[str] = []
    artists: list[str] = []
    seen: set[str] = set()
    with _open_text(Path(path)) as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(MSD_SEP, 3)
            if len(fields) < 3 or not fields[0].strip() or not fields[1].strip():
                report.add("malformed", f"{Path(path).name} line {line_no}: expected track_id<SEP>song_id<SEP>artist<SEP>title")
                continue
            tid = fields[0].strip()
            if tid in seen:
                report.add("duplicates", f"{Path(path).name} line {line_no}: track {tid} listed again (first kept)")
                continue
            seen.add(tid)
            track_ids.append(tid)
            song_ids.append(fields[1].strip())
            artists.append(fields[2].strip())
    return np.asarray(track_ids, dtype=str), np.asarray(song_ids, dtype=str), np.asarray(artists, dtype=str)


# ------------------------------------------------------------------ taste profile triplets
def read_taste_triplets(path: str | Path, *, tracks_path: str | Path, report: SourceReport,
                        chunk_lines: int = 1 << 20) -> LabelMatrix:
    """Read the Echo Nest taste profile ``train_triplets.txt`` into a song × user matrix.

    Streams the file in chunks of ``chunk_lines`` through pandas' C parser: each line becomes
    three machine numbers (song code, user code, count) and each distinct id is kept once, so
    memory is O(lines · 16 bytes + distinct ids). A file with a structural fault the C
    parser cannot take (a line with more than three fields, a count that is not a number) is
    re-read by a plain Python loop (several times slower), so every bad line is still reported
    with its number.

    Args:
        path: ``user \t song_id \t count`` lines.
        tracks_path: ``unique_tracks.txt``, mapping songs (``SO...``) to tracks (``TR...``).
        report: malformed lines (line numbers), duplicates, songs with no track (``unmapped``).
        chunk_lines: lines parsed at a time.

    Returns:
        :class:`LabelMatrix` over songs (``row_ids`` = song ids, columns = users, values =
        play counts); ``track_ids``/``track_rows`` give every track of a song that has plays.
    """
    path = Path(path)
    scratch = SourceReport(report.source)  # the fast path's findings are kept only if it finishes
    parsed = _triplets_chunked(path, report=scratch, chunk_lines=chunk_lines)
    if parsed is None:
        parsed = _triplets_loop(path, report=report)
    else:
        for kind, entry in scratch.issues.items():
            report.add_many(kind, entry["examples"], count=entry["count"])
    song_names, user_names, song_codes, user_codes, counts, n_lines = parsed
    report.counts["lines"] = n_lines
    matrix = _sparse_from_entries(song_codes, user_codes, counts, n_rows=len(song_names), n_cols=len(user_names),
                                  row_ids=song_names, label_names=user_names, report=report)
    del song_codes, user_codes, counts

    track_ids, track_song_ids, _ = read_unique_tracks(tracks_path, report=report)
    song_row = {s: i for i, s in enumerate(song_names)}
    rows = np.fromiter((song_row.get(s, -1) for s in track_song_ids), dtype=np.int64, count=len(track_song_ids))
    has_plays = rows >= 0
    mapped = np.zeros(len(song_names), dtype=bool)
    mapped[rows[has_plays]] = True
    unmapped = np.flatnonzero(~mapped)
    report.add_many("unmapped", [f"song {song_names[i]} has no track in {Path(tracks_path).name}" for i in unmapped[:5]],
                    count=len(unmapped))
    return LabelMatrix(matrix=matrix, row_ids=np.asarray(song_names, dtype=str), label_names=user_names,
                       track_ids=track_ids[has_plays], track_rows=rows[has_plays])


def _triplets_chunked(path: Path, *, report: SourceReport, chunk_lines: int):
    """Fast path: pandas' C parser, chunk by chunk; ``None`` when the file needs the slow path."""
    import pandas as pd

    users: dict[str, int] = {}
    songs: dict[str, int] = {}
    song_parts, user_parts, count_parts = [], [], []
    n_lines = 0
    try:
        # Blank lines kept and no NA parsing of ids: the row index is the line number - 1, a
        # short line shows up as empty fields, and ids such as "NA" stay ids. No dtype is given
        # for the ids: pandas' own string inference is 3x faster than dtype=str.
        chunks = pd.read_csv(path, sep="\t", header=None, names=["user", "song", "count"],
                             dtype={"count": np.float64}, quoting=csv.QUOTE_NONE, skip_blank_lines=False,
                             keep_default_na=False, na_values={"count": [""]}, chunksize=chunk_lines,
                             engine="c", encoding="utf-8")  # encoding_errors="replace" would cost 10x
        for chunk in chunks:
            n_lines = int(chunk.index[-1]) + 1
            user, song = chunk["user"], chunk["song"]
            if not (pd.api.types.is_string_dtype(user) and pd.api.types.is_string_dtype(song)):
                return None  # ids that all look like numbers: only the slow path keeps them verbatim
            count = chunk["count"].to_numpy(np.float64)
            finite = np.isfinite(count)
            blank = ((user == "") & (song == "")).to_numpy() & np.isnan(count)
            good = ((user != "") & (song != "")).to_numpy() & finite & (count > 0)
            bad = ~(good | blank)
            if bad.any():
                for i in np.flatnonzero(bad)[:MAX_BAD_EXAMPLES]:
                    line_no = int(chunk.index[i]) + 1
                    why = ("expected user\\tsong\\tcount" if user.iat[i] == "" or song.iat[i] == "" or np.isnan(count[i])
                           else f"count {count[i]!r} is not a positive number")
                    report.add("malformed", f"{path.name} line {line_no}: {why}")
                if bad.sum() > MAX_BAD_EXAMPLES:
                    report.add("malformed", count=int(bad.sum()) - MAX_BAD_EXAMPLES)
            keep = good
            user_local, user_uniques = pd.factorize(user[keep])
            song_local, song_uniques = pd.factorize(song[keep])
            # Only distinct ids of the chunk meet the dictionaries, not every line.
            user_map = np.fromiter((users.setdefault(u, len(users)) for u in user_uniques), np.int32, len(user_uniques))
            song_map = np.fromiter((songs.setdefault(s, len(songs)) for s in song_uniques), np.int32, len(song_uniques))
            user_parts.append(user_map[user_local])
            song_parts.append(song_map[song_local])
            count_parts.append(count[keep])
    except (pd.errors.ParserError, ValueError):  # a 4th field, a count that is not a number, bad UTF-8
        return None
    concat = (lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype))
    return (list(songs), list(users), concat(song_parts, np.int32), concat(user_parts, np.int32),
            concat(count_parts, np.float64), n_lines)


def _triplets_loop(path: Path, *, report: SourceReport):
    """Slow path: one Python loop over the bytes of each line, every bad line reported."""
    users: dict[bytes, int] = {}
    songs: dict[bytes, int] = {}
    song_codes, user_codes, counts = array("i"), array("i"), array("d")
    n_lines = 0
    with open(path, "rb") as f:
        for n_lines, line in enumerate(f, 1):
            fields = line.rstrip(b"\r\n").split(b"\t")
            if len(fields) != 3:
                if len(fields) == 1 and not fields[0]:
                    continue  # blank line
                report.add("malformed", f"{path.name} line {n_lines}: expected user\\tsong\\tcount, got {len(fields)} fields")
                continue
            try:
                count = float(fields[2])
            except ValueError:
                count = math.nan
            if not (count > 0 and count != math.inf) or not fields[0] or not fields[1]:
                report.add("malformed", f"{path.name} line {n_lines}: count {fields[2][:20].decode('utf-8', 'replace')!r} "
                                        "is not a positive number")
                continue
            user_codes.append(users.setdefault(fields[0], len(users)))
            song_codes.append(songs.setdefault(fields[1], len(songs)))
            counts.append(count)
    song_names = [s.decode("utf-8", "replace") for s in songs]
    user_names = [u.decode("utf-8", "replace") for u in users]
    return song_names, user_names, song_codes, user_codes, counts, n_lines


# ------------------------------------------------------------------ musiXmatch lyrics
def read_mxm_lyrics(paths: Iterable[str | Path], *, report: SourceReport) -> LabelMatrix:
    """Read musiXmatch bag-of-words files (``mxm_dataset_train.txt``, ``mxm_dataset_test.txt``).

    Args:
        paths: the files that exist (at least one); they must share the ``%`` vocabulary line.
        report: malformed lines (file and line number), duplicates, counts.

    Returns:
        :class:`LabelMatrix` with ``matrix`` CSR ``(n_tracks, n_words)`` float64 word counts.
    """
    vocabulary: list[str] | None = None
    vocab_file: Path | None = None
    track_index: dict[str, int] = {}
    rows, cols, vals = array("i"), array("i"), array("d")
    for path in map(Path, paths):
        file_vocab: list[str] | None = None
        with _open_text(path) as f:
            for line_no, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if not line or line.startswith("#"):
                    continue
                if line.startswith("%"):
                    file_vocab = line[1:].split(",")
                    if vocabulary is None:
                        vocabulary, vocab_file = file_vocab, path
                    elif file_vocab != vocabulary:
                        raise SourceError(
                            f"{path} line {line_no}: its word list differs from the one of {vocab_file}; "
                            "musiXmatch train and test files must share one vocabulary (use files of one release)")
                    continue
                if file_vocab is None:
                    report.add("malformed", f"{path.name} line {line_no}: data before the %vocabulary line")
                    continue
                parsed = _parse_mxm_line(line, len(file_vocab))
                if isinstance(parsed, str):
                    report.add("malformed", f"{path.name} line {line_no}: {parsed}")
                    continue
                tid, words, counts = parsed
                code = track_index.setdefault(tid, len(track_index))
                rows.extend([code] * len(words))
                cols.extend(words)
                vals.extend(counts)
        if file_vocab is None:
            raise SourceError(f"{path} has no '%word1,word2,...' vocabulary line; is it a musiXmatch bag-of-words file?")
    assert vocabulary is not None  # at least one path, each with a vocabulary
    row_ids = list(track_index)
    matrix = _sparse_from_entries(rows, cols, vals, n_rows=len(row_ids), n_cols=len(vocabulary),
                                  row_ids=row_ids, label_names=vocabulary, report=report)
    return LabelMatrix(matrix=matrix, row_ids=np.asarray(row_ids, dtype=str), label_names=vocabulary)


def _parse_mxm_line(line: str, n_words: int):
    """``(track_id, word indices 0-based, counts)`` or a reason string."""
    fields = line.split(",")
    if len(fields) < 2 or not fields[0]:
        return "expected track_id,mxm_track_id,idx:cnt,..."
    words: list[int] = []
    counts: list[float] = []
    for token in fields[2:]:
        idx, sep, cnt = token.partition(":")
        try:
            w = int(idx)
            c = float(cnt)
        except ValueError:
            return f"token {token!r} is not idx:cnt"
        if not sep or not 1 <= w <= n_words:
            return f"word index {idx!r} outside 1..{n_words}"
        if not (c >= 0 and math.isfinite(c)):
            return f"count {cnt!r} is not a non-negative number"
        words.append(w - 1)
        counts.append(c)
    return fields[0], words, counts


# ------------------------------------------------------------------ scalars: year, tempo
def read_tracks_per_year(path: str | Path, *, report: SourceReport) -> ScalarLabels:
    """Read ``tracks_per_year.txt`` (``year<SEP>track_id<SEP>artist<SEP>title``).

    Year 0 (or below) means unknown: the track is left out and counted as ``missing_values``.
    """
    path = Path(path)
    ids: list[str] = []
    values: list[float] = []
    line_no = 0
    with _open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(MSD_SEP, 3)
            year = _parse_float(fields[0]) if len(fields) >= 2 else None
            if year is None or not fields[1].strip() or not math.isfinite(year):
                report.add("malformed", f"{path.name} line {line_no}: expected year<SEP>track_id<SEP>artist<SEP>title")
                continue
            if year <= 0:
                report.add("missing_values", f"{path.name} line {line_no}: year {fields[0]} (unknown)")
                continue
            ids.append(fields[1].strip())
            values.append(year)
    report.counts["lines"] = line_no
    return _scalars_from_entries(ids, values, report=report)


def read_tempo(path: str | Path, *, report: SourceReport) -> ScalarLabels:
    """Read ``tempo.tsv`` (``track_id \\t bpm``, optional header ``track_id\\tbpm``).

    bpm <= 0 or non-finite means unknown (``missing_values``, the track is left out).
    """
    return read_scalar_table(path, report=report, delimiter="\t", valid=lambda v: v > 0, what="bpm")


def read_scalar_table(
    path: str | Path,
    *,
    report: SourceReport,
    delimiter: str | None = None,
    header: bool | None = None,
    valid=None,
    what: str = "value",
) -> ScalarLabels:
    """Read a CSV/TSV of ``track_id, value`` (a custom scalar source).

    Args:
        path: the table; delimiter from the extension (``.csv``/``.tsv``) or sniffed.
        delimiter: force a delimiter.
        header: ``None`` = the first line is a header iff its first field is ``track_id``.
        valid: predicate on a finite value; values failing it are ``missing_values``.
        what: the value's name in messages.
    """
    path = Path(path)
    delimiter = delimiter or _sniff_delimiter(path)
    ids: list[str] = []
    values: list[float] = []
    with _open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for fields in reader:
            line_no = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if line_no == 1 and (header or (header is None and _is_header(fields))):
                continue
            value = _parse_float(fields[1].strip()) if len(fields) >= 2 else None
            if value is None or len(fields) > 2 or not fields[0].strip():
                report.add("malformed", f"{path.name} line {line_no}: expected track_id{delimiter!r}{what}")
                continue
            if not math.isfinite(value) or (valid is not None and not valid(value)):
                report.add("missing_values", f"{path.name} line {line_no}: {what} {fields[1].strip()} (unknown)")
                continue
            ids.append(fields[0].strip())
            values.append(value)
    return _scalars_from_entries(ids, values, report=report)


# ------------------------------------------------------------------ generic sparse labels
def read_label_table(
    path: str | Path,
    *,
    report: SourceReport,
    delimiter: str | None = None,
    header: bool | None = None,
) -> LabelMatrix:
    """Read a CSV/TSV of sparse labels ``track_id, label[, weight]`` (e.g. ``cdr_genres.tsv``).

    Args:
        path: the table; delimiter from the extension (``.csv``/``.tsv``) or sniffed.
        delimiter: force a delimiter.
        header: ``None`` = the first line is a header iff its first field is ``track_id``.

    Returns:
        :class:`LabelMatrix` with ``matrix`` CSR ``(n_tracks, n_labels)`` float64 of weights
        (1 where the weight column is absent); labels in order of first appearance.
    """
    path = Path(path)
    delimiter = delimiter or _sniff_delimiter(path)
    track_index: dict[str, int] = {}
    label_index: dict[str, int] = {}
    rows, cols, vals = array("i"), array("i"), array("d")
    with _open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for fields in reader:
            line_no = reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if line_no == 1 and (header or (header is None and _is_header(fields))):
                continue
            if len(fields) not in (2, 3) or not fields[0].strip() or not fields[1].strip():
                report.add("malformed", f"{path.name} line {line_no}: expected track_id{delimiter!r}label[{delimiter!r}weight]")
                continue
            weight = _parse_float(fields[2].strip()) if len(fields) == 3 else 1.0
            if weight is None or not math.isfinite(weight) or weight < 0:
                report.add("malformed", f"{path.name} line {line_no}: weight {fields[2]!r} is not a non-negative number")
                continue
            rows.append(track_index.setdefault(fields[0].strip(), len(track_index)))
            cols.append(label_index.setdefault(fields[1].strip(), len(label_index)))
            vals.append(weight)
    row_ids, label_names = list(track_index), list(label_index)
    matrix = _sparse_from_entries(rows, cols, vals, n_rows=len(row_ids), n_cols=len(label_names),
                                  row_ids=row_ids, label_names=label_names, report=report)
    return LabelMatrix(matrix=matrix, row_ids=np.asarray(row_ids, dtype=str), label_names=label_names)


# ------------------------------------------------------------------ artist × tag (combination)
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
