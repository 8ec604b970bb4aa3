"""The Echo Nest taste profile ``train_triplets.txt`` (``user \\t song_id \\t count``); songs map to
tracks through ``unique_tracks.txt`` (:mod:`.msd`)."""

from __future__ import annotations

import csv
import math
from array import array
from pathlib import Path

import numpy as np

from mtl_music.sources.base import LabelMatrix, SourceReport
from mtl_music.sources.readers.common import MAX_BAD_EXAMPLES, sparse_from_entries
from mtl_music.sources.readers.msd import read_unique_tracks


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
    matrix = sparse_from_entries(song_codes, user_codes, counts, n_rows=len(song_names), n_cols=len(user_names),
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
