"""musiXmatch bag-of-words files ``mxm_dataset_{train,test}.txt``: ``#`` comments, one
``%word1,word2,...`` vocabulary line, then ``track_id,mxm_track_id,idx:cnt,...`` with 1-based
word indices."""

from __future__ import annotations

import math
from array import array
from pathlib import Path
from typing import Iterable

import numpy as np

from mtl_music.errors import SourceError
from mtl_music.sources.base import LabelMatrix, SourceReport
from mtl_music.sources.readers.common import open_text, sparse_from_entries


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
        with open_text(path) as f:
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
    matrix = sparse_from_entries(rows, cols, vals, n_rows=len(row_ids), n_cols=len(vocabulary),
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
