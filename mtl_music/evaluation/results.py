"""The one tidy results table of the transfer evaluation (R6.6).

One row per measured number::

    run, strategy, sources, layer, target, condition, repetition, metric, value

``run``: the experiment/run name; ``strategy``: the representation kind (e.g. ``SS-R``,
``MSS-CR``, ``MFCC``, ``Rand``); ``sources``: the learning sources, ``+``-joined in the order given
(``"bpm+tag"``; empty for baselines); ``layer``: which of the network's layers were pooled
(empty: the representation itself, the fc-feature for a network; ``conv3`` for one layer of a
``per_layer`` evaluation, ``conv3+conv5`` or ``all`` for a concatenation); ``target``: the target
dataset; ``condition``: the audio the test part was scored on (``clean``, or a deformation such
as ``noise:snr=10``, the probe being trained on clean audio); ``repetition``: 0-based
index of the train/test split (SPEC R6.6 calls this column "split"); ``metric``: ``accuracy``,
``r2``, ``ndcg@500``, or for a multi-label target both ``roc_auc`` and ``pr_auc`` (two rows per
repetition); ``value``: the number.

Rows are keyed by everything but ``value``. Adding a row whose key exists replaces the old value,
and :meth:`ResultsTable.to_csv` merges with what the file already holds (the file's rows first,
then this table's rows win on equal keys) and replaces the file atomically, so re-running an
evaluation, or several evaluations writing to one file one after the other, never loses or
duplicates rows and never leaves a half-written file. A file of the first version (without
``layer`` and ``condition``) reads with the defaults, ``""`` and ``clean``.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

from mtl_music.atomic import atomic_path
from mtl_music.errors import DataError
from mtl_music.locks import exclusive

COLUMNS = ("run", "strategy", "sources", "layer", "target", "condition", "repetition", "metric", "value")
#: The columns of the first version's files (read with :data:`DEFAULTS` for the others).
COLUMNS_V1 = ("run", "strategy", "sources", "target", "repetition", "metric", "value")
#: The value of a column absent from a row (or from a first-version file).
DEFAULTS = {"layer": "", "condition": "clean"}
#: The clean (undeformed) test audio.
CLEAN = DEFAULTS["condition"]
#: What identifies one summary line: every column but repetition and value.
GROUP = ("run", "strategy", "sources", "layer", "target", "condition", "metric")


def join_sources(sources: str | Iterable[str] | None) -> str:
    """``["bpm", "tag"]`` → ``"bpm+tag"``; a string is kept; ``None`` → ``""``."""
    if sources is None:
        return ""
    if isinstance(sources, str):
        return sources
    names = [str(s) for s in sources]
    bad = [n for n in names if "+" in n or not n]
    if bad:
        raise DataError(f"source names {bad!r} are empty or contain '+', which joins names in the sources column")
    return "+".join(names)


class ResultsTable:
    """Rows of (run, strategy, sources, target, repetition, metric, value); see the module docstring."""

    def __init__(self, rows: Iterable[dict] = ()) -> None:
        self._rows: dict[tuple, float] = {}
        for row in rows:
            self.add(**{c: row.get(c, DEFAULTS.get(c)) for c in COLUMNS})

    def add(
        self,
        *,
        run: str,
        strategy: str,
        sources: str | Sequence[str] | None,
        target: str,
        repetition: int,
        metric: str,
        value: float,
        layer: str = DEFAULTS["layer"],
        condition: str = DEFAULTS["condition"],
    ) -> None:
        """Adds (or replaces, on an equal key) one row (``layer``/``condition``: see the module docstring)."""
        try:
            rep = int(repetition)
            if rep != float(repetition) or rep < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise DataError(f"repetition={repetition!r} must be a non-negative integer (the split index)") from None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"value={value!r} for {run}/{target}/{metric} is not a number") from None
        key = (str(run), str(strategy), join_sources(sources), str(layer or ""), str(target),
               str(condition or CLEAN), rep, str(metric))
        for name, text in zip(("run", "strategy", "target", "metric"), (key[0], key[1], key[4], key[7])):
            if not text:
                raise DataError(f"{name} is empty; every result row needs a {name}")
        self._rows[key] = number

    def extend(self, *, run: str, strategy: str, sources, target: str, metric: str,
               values: Sequence[float], layer: str = DEFAULTS["layer"], condition: str = DEFAULTS["condition"]) -> None:
        """Adds one row per repetition: ``values[r]`` at repetition ``r``."""
        for rep, value in enumerate(values):
            self.add(run=run, strategy=strategy, sources=sources, target=target, repetition=rep,
                     metric=metric, value=value, layer=layer, condition=condition)

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> list[dict]:
        """The rows as dicts (insertion order)."""
        return [dict(zip(COLUMNS, (*key, value))) for key, value in self._rows.items()]

    def merge(self, other: "ResultsTable") -> None:
        """Adds ``other``'s rows (``other`` wins on equal keys)."""
        self._rows.update(other._rows)

    def to_frame(self):
        """The rows as a ``pandas.DataFrame`` with :data:`COLUMNS`."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(COLUMNS))

    # ---------------------------------------------------------------- files

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Merges this table into the csv at ``path`` (creating it) and replaces it atomically.

        Concurrent writers (several evaluation processes, one file) are serialised by
        :func:`mtl_music.locks.exclusive` on ``<path>.lock``. Afterwards this table
        holds the merged rows.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive(path, what=f"the results file {path}"):
            merged = ResultsTable.from_csv(path) if path.exists() else ResultsTable()
            merged.merge(self)
            _write_atomic(path, merged)
        self._rows = dict(merged._rows)
        return path

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> "ResultsTable":
        """Reads a table written by :meth:`to_csv`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"results file {path} does not exist; run the evaluation first or fix the path")
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if tuple(reader.fieldnames or ()) not in (COLUMNS, COLUMNS_V1):
                    raise DataError(
                        f"{path} has columns {reader.fieldnames} but a results table has {list(COLUMNS)}; "
                        "it is not a results file of this version (write to a new file)"
                    )
                table = cls()
                for line, row in enumerate(reader, start=2):
                    try:
                        table.add(**{c: row.get(c, DEFAULTS.get(c)) for c in COLUMNS})
                    except DataError as err:
                        raise DataError(f"{path}, line {line}: {err}") from None
        except (UnicodeDecodeError, csv.Error) as err:  # a binary or garbled file, not a table with bad columns
            raise DataError(f"{path} is not a results table ({type(err).__name__}: {err}); pass transfer.csv "
                            "files written by mtl_music.evaluate") from None
        return table

    # ---------------------------------------------------------------- summary

    def summary_rows(self) -> list[dict]:
        """Mean ± std over repetitions per :data:`GROUP` (every column but repetition and
        value), sorted by it: dicts with those keys and ``n`` (repetitions), ``mean`` and ``std``
        (the sample standard deviation, ddof=1; 0 for a single repetition)."""
        groups: dict[tuple, list[float]] = {}
        for key, value in self._rows.items():
            row = dict(zip(COLUMNS, key))
            groups.setdefault(tuple(row[c] for c in GROUP), []).append(value)
        out = []
        for key in sorted(groups):
            values = groups[key]
            mean = math.fsum(values) / len(values)
            std = (math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
                   if len(values) > 1 else 0.0)
            out.append({**dict(zip(GROUP, key)), "n": len(values), "mean": mean, "std": std})
        return out

    def summary(self) -> str:
        """:meth:`summary_rows` as an aligned text table (the layer and condition columns only
        when some row has a non-default value there)."""
        rows = self.summary_rows()
        shown = [c for c in GROUP if c not in DEFAULTS or any(r[c] != DEFAULTS[c] for r in rows)]
        header = (*shown, "n", "mean ± std")
        lines = [(*(r[c] for c in shown), str(r["n"]), f"{r['mean']:.4f} ± {r['std']:.4f}") for r in rows]
        if not lines:
            return "(no results)"
        widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))]
        fmt = lambda row: "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
        return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(row) for row in lines)])


def _write_atomic(path: Path, table: ResultsTable) -> None:
    # Write next to the target, then rename: a crash leaves the old file intact.
    with atomic_path(path) as temp, temp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for key, value in table._rows.items():
            writer.writerow([*key, repr(value)])
