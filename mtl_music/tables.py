"""The one delimiter rule of every CSV/TSV table the project reads: dataset manifests
(:mod:`mtl_music.data.manifest`), the label tables of learning sources
(:mod:`mtl_music.sources.readers`) and the label files of folder targets
(:mod:`mtl_music.targets.folder`)."""

from __future__ import annotations

import os
from pathlib import Path

#: Extensions that name the delimiter when the first row does not.
TAB_SUFFIXES = (".tsv", ".tab")
COMMA_SUFFIXES = (".csv",)


def sniff_delimiter(*, first_line: str, path: str | os.PathLike, candidates: str = "\t,") -> str:
    """The delimiter of a delimited text table.

    1. The first row: when exactly one of ``candidates`` occurs in it, that one.
    2. Otherwise (none or several occur) the extension: a tab for ``.tsv``/``.tab``, a comma
       for ``.csv``.
    3. Otherwise the candidate occurring most often in the first row (the earlier one in
       ``candidates`` on a tie), or a comma when none occurs.

    Args:
        first_line: the table's first (non-blank) row, as text.
        path: the table's file (only its extension is used).
        candidates: the delimiters considered, one character each (tab and comma; the learning
            sources' tables also accept ``;`` and ``|``).
    """
    present = [d for d in candidates if d in first_line]
    if len(present) == 1:
        return present[0]
    suffix = Path(path).suffix.lower()
    if suffix in TAB_SUFFIXES:
        return "\t"
    if suffix in COMMA_SUFFIXES:
        return ","
    if present:
        return max(present, key=first_line.count)  # max keeps the first of equal counts
    return ","
