"""CSV/TSV tables: ``track_id, label[, weight]`` sparse labels (weight defaults to 1, e.g.
``cdr_genres.tsv``), ``track_id, value`` scalars, and ``tempo.tsv`` (``track_id \\t bpm`` with an
optional header; bpm <= 0 or non-finite is unknown). The delimiter, unless given, follows
:func:`mtl_music.tables.sniff_delimiter` (first row, then extension) over tab, comma, ``;`` and ``|``."""

from __future__ import annotations

import csv
import math
from array import array
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mtl_music.sources.base import LabelMatrix, ScalarLabels, SourceReport
from mtl_music.sources.readers.common import open_text, parse_float, scalars_from_entries, sparse_from_entries
from mtl_music.tables import sniff_delimiter

#: Column names that mark the first line of a table as a header.
HEADER_FIRST_FIELDS = ("track_id", "track", "tid", "id")

#: Delimiters a table may use (tab, comma, semicolon, pipe).
TABLE_DELIMITERS = "\t,;|"


def _delimiter(path: Path) -> str:
    """The table's delimiter by :func:`~mtl_music.tables.sniff_delimiter`, from its first non-blank line."""
    with open_text(path) as f:
        first = next((line for line in f if line.strip()), "")
    return sniff_delimiter(first_line=first.rstrip("\r\n"), path=path, candidates=TABLE_DELIMITERS)


def _is_header(fields: Sequence[str]) -> bool:
    return bool(fields) and fields[0].strip().lower() in HEADER_FIRST_FIELDS


def _data_rows(path: Path, *, delimiter: str, header: bool | None) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of every data row: blank lines and the header row left out
    (``header=None``: the first line is one iff its first field is a :data:`HEADER_FIRST_FIELDS` name)."""
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if reader.line_num == 1 and (header or (header is None and _is_header(fields))):
                continue
            yield reader.line_num, fields


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
        path: the table; delimiter from its first row, else the extension (:func:`_delimiter`).
        delimiter: force a delimiter.
        header: ``None`` = the first line is a header iff its first field is ``track_id``.
        valid: predicate on a finite value; values failing it are ``missing_values``.
        what: the value's name in messages.
    """
    path = Path(path)
    delimiter = delimiter or _delimiter(path)
    ids: list[str] = []
    values: list[float] = []
    for line_no, fields in _data_rows(path, delimiter=delimiter, header=header):
        value = parse_float(fields[1].strip()) if len(fields) >= 2 else None
        if value is None or len(fields) > 2 or not fields[0].strip():
            report.add("malformed", f"{path.name} line {line_no}: expected track_id{delimiter!r}{what}")
            continue
        if not math.isfinite(value) or (valid is not None and not valid(value)):
            report.add("missing_values", f"{path.name} line {line_no}: {what} {fields[1].strip()} (unknown)")
            continue
        ids.append(fields[0].strip())
        values.append(value)
    return scalars_from_entries(ids, values, report=report)


def read_label_table(
    path: str | Path,
    *,
    report: SourceReport,
    delimiter: str | None = None,
    header: bool | None = None,
) -> LabelMatrix:
    """Read a CSV/TSV of sparse labels ``track_id, label[, weight]`` (e.g. ``cdr_genres.tsv``).

    Args:
        path: the table; delimiter from its first row, else the extension (:func:`_delimiter`).
        delimiter: force a delimiter.
        header: ``None`` = the first line is a header iff its first field is ``track_id``.

    Returns:
        :class:`LabelMatrix` with ``matrix`` CSR ``(n_tracks, n_labels)`` float64 of weights
        (1 where the weight column is absent); labels in order of first appearance.
    """
    path = Path(path)
    delimiter = delimiter or _delimiter(path)
    track_index: dict[str, int] = {}
    label_index: dict[str, int] = {}
    rows, cols, vals = array("i"), array("i"), array("d")
    for line_no, fields in _data_rows(path, delimiter=delimiter, header=header):
        if len(fields) not in (2, 3) or not fields[0].strip() or not fields[1].strip():
            report.add("malformed", f"{path.name} line {line_no}: expected track_id{delimiter!r}label[{delimiter!r}weight]")
            continue
        weight = parse_float(fields[2].strip()) if len(fields) == 3 else 1.0
        if weight is None or not math.isfinite(weight) or weight < 0:
            report.add("malformed", f"{path.name} line {line_no}: weight {fields[2]!r} is not a non-negative number")
            continue
        rows.append(track_index.setdefault(fields[0].strip(), len(track_index)))
        cols.append(label_index.setdefault(fields[1].strip(), len(label_index)))
        vals.append(weight)
    row_ids, label_names = list(track_index), list(label_index)
    matrix = sparse_from_entries(rows, cols, vals, n_rows=len(row_ids), n_cols=len(label_names),
                                  row_ids=row_ids, label_names=label_names, report=report)
    return LabelMatrix(matrix=matrix, row_ids=np.asarray(row_ids, dtype=str), label_names=label_names)
