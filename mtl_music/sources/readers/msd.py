"""The MSD text files with ``<SEP>`` fields: ``unique_tracks.txt``
(``track_id<SEP>song_id<SEP>artist<SEP>title``) and ``tracks_per_year.txt``
(``year<SEP>track_id<SEP>artist<SEP>title``; year 0 is unknown)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mtl_music.sources.base import ScalarLabels, SourceReport
from mtl_music.sources.readers.common import open_text, parse_float, scalars_from_entries

#: The field separator of the MSD text files (``unique_tracks.txt``, ``tracks_per_year.txt``).
MSD_SEP = "<SEP>"


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
    with open_text(Path(path)) as f:
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


def read_tracks_per_year(path: str | Path, *, report: SourceReport) -> ScalarLabels:
    """Read ``tracks_per_year.txt`` (``year<SEP>track_id<SEP>artist<SEP>title``).

    Year 0 (or below) means unknown: the track is left out and counted as ``missing_values``.
    """
    path = Path(path)
    ids: list[str] = []
    values: list[float] = []
    line_no = 0
    with open_text(path) as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(MSD_SEP, 3)
            year = parse_float(fields[0]) if len(fields) >= 2 else None
            if year is None or not fields[1].strip() or not math.isfinite(year):
                report.add("malformed", f"{path.name} line {line_no}: expected year<SEP>track_id<SEP>artist<SEP>title")
                continue
            if year <= 0:
                report.add("missing_values", f"{path.name} line {line_no}: year {fields[0]} (unknown)")
                continue
            ids.append(fields[1].strip())
            values.append(year)
    report.counts["lines"] = line_no
    return scalars_from_entries(ids, values, report=report)
