"""Your own target: an audio folder plus a CSV/TSV label file (classification, multi-label
tagging or regression), evaluated like the paper's targets.

Layout under ``root``: audio files anywhere below it, and a label file (``labels``; by default
``<root>/labels.csv`` or ``<root>/labels.tsv``), comma- or tab-separated (``delimiter: auto``
takes the one the first row uses, else the extension's), one row per track::

    path,label              path,tags                path,arousal,valence     path,label,split,group
    a/x.wav,rock            x.wav,rock;guitar        x.wav,0.31,-0.12         x.wav,rock,train,album 1

* Header row: names the columns. ``path`` (or ``file``, ``filename``) is the audio path;
  ``label``, ``labels`` or ``tags`` the label column, or else every other column is a label
  column (value columns for regression; ``label_columns`` picks some); ``split``
  (``train``/``valid``/``test``) and ``group`` are optional. Without a header (the first row's
  first cell is an audio file under ``root``) the columns are positional: the path, then the
  label(s).
* Paths are relative to ``root`` (absolute ones are allowed). Track id: the path relative to
  ``root`` without its extension (``a/x``).
* Task (``task: auto``): every label cell a number → regression (several value columns: a
  k-valued label, scored by the uniform-average R²); some cell holding ``label_separator``
  (``;``) → multilabel (a set of tags per track); otherwise classification. ``task`` forces
  one; a forced task the file contradicts is an error naming the rows.
* Split: a ``split`` column is the pre-defined split (train + valid vs test; a group must not
  span train and test). Without one, ``splits()`` draws ``test_fraction`` (20 %) per repetition,
  seeded by ``(seed, repetition)``: stratified by class for classification, and keeping every
  ``group`` on one side when the file has groups; multi-label draws are retried until every tag
  has tracks on both sides (:func:`~mtl_music.targets.base.multilabel_splits`).

A bad label file is a :class:`~mtl_music.errors.DataError` listing every problem with its rows
(file line numbers, the first few and a count): paths not found under ``root``, duplicate paths,
empty labels, wrong column counts, unknown split names, numbers mixed with names, a class (or
tag) with a single track, a configured class without tracks. Audio that cannot be decoded is
not the loader's concern: the mel cache reports it and the evaluation leaves the track out.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mtl_music.audio.files import is_audio_file
from mtl_music.errors import ConfigError, DataError
from mtl_music.tables import sniff_delimiter
from mtl_music.targets.base import (
    DEFAULT_TEST_FRACTION,
    TASK_METRICS,
    Split,
    TargetIndex,
    TargetTrack,
    group_shuffle_splits,
    group_stratified_splits,
    multilabel_splits,
    predefined_splits,
    random_splits,
    stratified_splits,
)
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("audio files anywhere under root and a CSV/TSV label file (labels; default <root>/labels.csv or "
          "labels.tsv) with one row per track: 'path,label' (classification), 'path,tags' with tags separated by "
          "';' (multilabel) or 'path,value[,value2]' (regression), optional 'split' and 'group' columns, paths "
          "relative to root")

#: Values of ``task``.
TASKS = ("auto", "classification", "multilabel", "regression")

#: Header names (lower-cased) of the path column, the label column, the optional ones.
PATH_COLUMNS = ("path", "file", "filename")
LABEL_COLUMNS = ("label", "labels", "tags")
SPLIT_COLUMN = "split"
GROUP_COLUMN = "group"

#: Split cells (lower-cased) → split names.
SPLIT_VALUES = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid",
                "test": "test"}

#: Values of ``delimiter`` → the character (``None``: detect).
DELIMITERS = {"auto": None, "comma": ",", ",": ",", "tab": "\t", "\t": "\t"}

#: Default label files under ``root``, in the order tried.
DEFAULT_LABEL_FILES = ("labels.csv", "labels.tsv")

#: Rows named per problem in an error (the rest are counted).
SHOWN_ROWS = 5


@dataclass(frozen=True)
class LabelFile:
    """A label file's rows and which column is what.

    Attributes:
        path: the file.
        header: the column names, or ``None`` for a positional (header-less) file.
        rows: ``(line number, cells)`` of every non-blank row after the header; cells stripped.
        path_column: position of the audio path.
        label_columns: positions of the label cells (one, or several value columns).
        split_column, group_column: positions of the optional columns, or ``None``.
    """

    path: Path
    header: tuple[str, ...] | None
    rows: list[tuple[int, list[str]]]
    path_column: int
    label_columns: tuple[int, ...]
    split_column: int | None = None
    group_column: int | None = None

    @property
    def n_columns(self) -> int:
        return len(self.header) if self.header is not None else len(self.rows[0][1])

    def label_names(self) -> list[str]:
        """The label columns' names (``column 2`` … without a header)."""
        if self.header is None:
            return [f"column {i + 1}" for i in self.label_columns]
        return [self.header[i] for i in self.label_columns]


class Problems:
    """A label file's problems, each with the rows that show it, raised together as one
    :class:`DataError` so a user fixes the file in one pass."""

    def __init__(self, *, options: TargetOptions, labels: Path) -> None:
        self.options = options
        self.labels = labels
        self.found: dict[str, list[str]] = {}
        self.fixes: dict[str, str] = {}

    def add(self, problem: str, where: str, *, fix: str = "") -> None:
        """Notes ``where`` (``"line 4 'a.wav'"``, or a class name) under ``problem``."""
        self.found.setdefault(problem, []).append(where)
        if fix:
            self.fixes[problem] = fix

    def __bool__(self) -> bool:
        return bool(self.found)

    def error(self) -> DataError:
        lines = [f"target {self.options.name}: {self.labels} has {len(self.found)} problem(s) "
                 "(line numbers count every line of the file, the header included):"]
        for problem, places in self.found.items():
            shown = ", ".join(places[:SHOWN_ROWS]) + (f" and {len(places) - SHOWN_ROWS} more"
                                                      if len(places) > SHOWN_ROWS else "")
            fix = f" Fix: {self.fixes[problem]}" if problem in self.fixes else ""
            lines.append(f"  - {problem} ({len(places)}): {shown}.{fix}")
        return DataError("\n".join(lines))

    def raise_if_any(self) -> None:
        if self.found:
            raise self.error()


def _row(line: int, cells: Sequence[str], column: int = 0) -> str:
    """``"line 4 'a/x.wav'"``: how an error names a row."""
    cell = cells[column] if column < len(cells) else ""
    return f"line {line} {cell!r}"


def number(text: str) -> float | None:
    """``text`` as a finite float, or ``None`` (``"nan"`` and ``"inf"`` are not label values)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------- reading the file
def _delimiter(first_line: str, path: Path, option: Any, options: TargetOptions) -> str:
    if option is None or str(option) not in DELIMITERS:
        raise ConfigError(f"{options.key('delimiter')}={option!r}: use auto, comma or tab")
    fixed = DELIMITERS[str(option)]
    if fixed is not None:
        return fixed
    return sniff_delimiter(first_line=first_line, path=path)


def read_rows(path: Path, *, delimiter: Any, options: TargetOptions) -> list[tuple[int, list[str]]]:
    """``(line number, stripped cells)`` of the non-blank rows of a CSV/TSV file (quoting as
    Excel writes it; a byte-order mark is dropped). Raises :class:`DataError` for an unreadable
    or empty file."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise DataError(f"target {options.name}: cannot read {path} ({err})") from err
    except UnicodeDecodeError as err:
        raise DataError(f"target {options.name}: {path} is not UTF-8 text ({err}); save it as UTF-8 CSV") from err
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise DataError(f"target {options.name}: {path} is empty; write one row per audio file "
                        "('path,label', see conf/target/folder.yaml)")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first, path, delimiter, options))
    rows, next_line = [], 1
    try:
        for cells in reader:
            line, next_line = next_line, reader.line_num + 1  # a quoted cell may span lines
            cells = [c.strip() for c in cells]
            if any(cells):
                rows.append((line, cells))
    except csv.Error as err:
        raise DataError(f"target {options.name}: {path}, line {reader.line_num}: {err}") from err
    return rows


def _resolve(root: Path, cell: str) -> Path:
    path = Path(cell).expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else root / path))


def parse_columns(path: Path, rows: list[tuple[int, list[str]]], *, root: Path, options: TargetOptions) -> LabelFile:
    """Which column is what: from the header row when the first row has one, else positional
    (path, then labels). Raises :class:`DataError` naming the columns when they do not say."""
    line, first = rows[0]
    names = [c.lower() for c in first]
    chosen = options.names("label_columns")
    if names[0] not in PATH_COLUMNS and not any(n in PATH_COLUMNS for n in names):
        if not (_resolve(root, first[0]).is_file() or Path(first[0]).suffix):
            raise DataError(f"target {options.name}: {path}, line {line}: the first row names no path column "
                            f"({', '.join(PATH_COLUMNS)}) and its first cell {first[0]!r} is no file under {root}; "
                            "start the file with a header row such as 'path,label'")
        if chosen:
            raise ConfigError(f"{options.key('label_columns')} names columns but {path} has no header row; "
                              "add one ('path,<name>,...') or drop the option")
        if len(first) < 2:
            raise DataError(f"target {options.name}: {path}, line {line}: one column only; each row needs the "
                            "audio path and its label (e.g. 'a/x.wav,rock')")
        return LabelFile(path=path, header=None, rows=rows, path_column=0, label_columns=tuple(range(1, len(first))))

    header = tuple(first)
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    if duplicated or not all(names):
        raise DataError(f"target {options.name}: {path}, line {line}: header {', '.join(header)} has "
                        + (f"duplicate column(s) {', '.join(duplicated)}" if duplicated else "an empty column name")
                        + "; give every column one name")
    path_column = next(i for i, n in enumerate(names) if n in PATH_COLUMNS)
    split_column = names.index(SPLIT_COLUMN) if SPLIT_COLUMN in names else None
    group_column = names.index(GROUP_COLUMN) if GROUP_COLUMN in names else None
    others = [i for i in range(len(names)) if i not in (path_column, split_column, group_column)]
    if chosen:
        missing = [c for c in chosen if c.lower() not in names]
        if missing:
            raise ConfigError(f"{options.key('label_columns')}: {path} has no column(s) {', '.join(missing)} "
                              f"(its header: {', '.join(header)})")
        labels = [names.index(c.lower()) for c in chosen]
    else:
        labels = [i for i in others if names[i] in LABEL_COLUMNS]
        if len(labels) > 1:
            raise ConfigError(f"{path} has several label columns ({', '.join(header[i] for i in labels)}); pick "
                              f"one with {options.key('label_columns')}=[<name>]")
        labels = labels or others
    if not labels:
        raise DataError(f"target {options.name}: {path}, line {line}: header {', '.join(header)} has no label "
                        f"column; add one named {' or '.join(LABEL_COLUMNS)} (or value columns for regression)")
    ignored = [header[i] for i in others if i not in labels]
    if ignored:
        log.info("target %s: %s: ignoring column(s) %s", options.name, path.name, ", ".join(ignored))
    return LabelFile(path=path, header=header, rows=rows[1:], path_column=path_column, label_columns=tuple(labels),
                     split_column=split_column, group_column=group_column)


# ---------------------------------------------------------------- the task
def infer_task(labels: LabelFile, rows: list[tuple[int, list[str]]], *, forced: str, separator: str,
               options: TargetOptions) -> str:
    """The task the label cells say (see the module docstring), or ``forced`` when they agree
    with it. Raises :class:`DataError` naming the rows that contradict it."""
    table = [(line, cells, [cells[i] for i in labels.label_columns]) for line, cells in rows]
    numeric = [(line, cells) for line, cells, values in table if all(number(v) is not None for v in values)]
    named = [(line, cells) for line, cells, values in table if any(number(v) is None for v in values)]
    separated = [(line, cells) for line, cells, values in table if any(separator in v for v in values)]
    problems = Problems(options=options, labels=labels.path)

    def where(line: int, cells: list[str]) -> str:  # "line 4 'a.wav': 'rock'"
        return f"{_row(line, cells, labels.path_column)}: {cells[labels.label_columns[0]]!r}"
    several = len(labels.label_columns) > 1
    if forced == "auto":
        if not named:
            return "regression"
        if several:
            for line, row in named:
                problems.add(f"non-numeric value in the value columns {', '.join(labels.label_names())}",
                             _row(line, row, labels.path_column),
                             fix="several label columns make a regression target: every cell must be a number "
                                 f"(or name one label column with {options.key('label_columns')})")
            raise problems.error()
        if separated:
            return "multilabel"
        if numeric:
            for line, row in numeric:
                problems.add("numbers mixed with names: these labels are numbers", where(line, row))
            for line, row in named:
                problems.add("numbers mixed with names: these labels are not", where(line, row),
                             fix=f"make every label a number (regression) or a name; if the numbers are class "
                                 f"names, pass {options.key('task')}=classification")
            raise problems.error()
        return "classification"
    if forced == "regression":
        for line, row in named:
            problems.add(f"{options.key('task')}=regression but the label is not a number", where(line, row),
                         fix=f"fix these labels or pass {options.key('task')}=auto")
    elif several:
        raise DataError(f"target {options.name}: {options.key('task')}={forced} needs one label column; "
                        f"{labels.path} has {len(labels.label_columns)} ({', '.join(labels.label_names())}); name "
                        f"one with {options.key('label_columns')}=[<name>]")
    elif forced == "classification":
        for line, row in separated:
            problems.add(f"{options.key('task')}=classification but the label holds the separator {separator!r}",
                         where(line, row), fix=f"one class per row, or {options.key('task')}=multilabel, or a "
                                                f"{options.key('label_separator')} the class names do not use")
    problems.raise_if_any()
    return forced


# ---------------------------------------------------------------- the index
def _labels_file(options: TargetOptions, root: Path) -> Path:
    value = options.value("labels", None)
    if value is None:
        present = [root / name for name in DEFAULT_LABEL_FILES if (root / name).is_file()]
        if len(present) > 1:
            raise options.layout_error(f"both {present[0]} and {present[1]} exist", fix_key="labels")
        if not present:
            raise options.layout_error(f"no label file: {' or '.join(str(root / n) for n in DEFAULT_LABEL_FILES)} "
                                       "does not exist", fix_key="labels")
        return present[0]
    path = Path(str(value)).expanduser()
    # a relative path: from the working directory, else from root (target.labels=tags.csv)
    candidates = [path] if path.is_absolute() else [path.absolute(), root / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise options.layout_error(f"{options.key('labels')}={value}: no such file ({' nor '.join(map(str, candidates))})",
                               fix_key="labels")


def _track_id(root: Path, path: Path) -> str:
    relative = path.relative_to(root) if path.is_relative_to(root) else Path(*path.parts[1:])
    return relative.with_suffix("").as_posix()


def load_index(cfg: Any) -> TargetIndex:
    """Reads an audio folder's label file (keys: ``name``, ``root``, ``labels``, ``task``,
    ``label_separator``, ``delimiter``, ``label_columns``, ``classes``, ``test_fraction``).

    Returns a classification, multilabel or regression :class:`TargetIndex` in the file's row
    order: labels a class name, a sorted tuple of tags, or a float (a tuple of floats for several
    value columns); splits and groups from the optional columns. Raises :class:`ConfigError` for
    bad options and :class:`DataError` listing every problem of the file with its rows.
    """
    options = TargetOptions(cfg, dataset="audio-folder", layout=LAYOUT)
    if options.value("root", None) is None:
        raise ConfigError(f"{options.key('root')} is not set: pass the folder holding your audio, "
                          f"target=folder target.root=/path/to/audio (or {options.key('root')}=...)")
    root = options.root()
    forced = str(options.value("task", "auto"))
    if forced not in TASKS:
        raise ConfigError(f"{options.key('task')}={forced!r}: use one of {', '.join(TASKS)}")
    separator = str(options.value("label_separator", ";"))
    if not separator.strip():
        raise ConfigError(f"{options.key('label_separator')}={separator!r} must be a visible character, e.g. ';'")
    labels_path = _labels_file(options, root)
    rows = read_rows(labels_path, delimiter=options.value("delimiter", "auto"), options=options)
    labels = parse_columns(labels_path, rows, root=root, options=options)
    if not labels.rows:
        raise DataError(f"target {options.name}: {labels_path} has a header but no row; add one row per audio file")

    rows = _check_rows(labels, root=root, options=options)
    task = infer_task(labels, rows, forced=forced, separator=separator, options=options)
    tracks = _tracks(labels, rows, root=root, task=task, separator=separator)
    classes = _check_labels(labels, rows, tracks, task=task, options=options)
    _check_split(labels, rows, tracks, options=options)

    if forced == "auto":
        hint = (f" (every label is a number; pass {options.key('task')}=classification if they are class ids)"
                if task == "regression" else "")
        log.info("target %s: task %s inferred from %s%s", options.name, task, labels_path.name, hint)
    log.info("target %s: %d tracks from %s, %s%s, %s split", options.name, len(tracks), labels_path, task,
             f" ({len(classes)} {'tags' if task == 'multilabel' else 'classes'})" if classes else "",
             "pre-defined" if labels.split_column is not None else
             "group-aware random" if any(t.group is not None for t in tracks) else "random")
    # The caches live under <data_root>/targets/<cache_name>: one per audio folder, so evaluating
    # another folder under the same target name never reuses this one's mels or features.
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return TargetIndex(name=options.name, loader="folder", task=task, metric=TASK_METRICS[task], tracks=tracks,
                       classes=classes, test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION),
                       cache_name=f"{options.name}-{root.name}-{digest}")


def _check_rows(labels: LabelFile, *, root: Path, options: TargetOptions) -> list[tuple[int, list[str]]]:
    """The rows whose shape, path, label cells and split name are sound; every problem found
    is raised together."""
    problems = Problems(options=options, labels=labels.path)
    expected = labels.n_columns
    columns = ", ".join(labels.header) if labels.header else f"path, then {expected - 1} label column(s)"
    seen_paths: dict[Path, int] = {}
    seen_ids: dict[str, int] = {}
    good = []
    for line, cells in labels.rows:
        where = _row(line, cells, labels.path_column)
        if len(cells) > expected and not any(cells[expected:]):
            cells = cells[:expected]  # trailing empty cells (a spreadsheet's extra commas)
        if len(cells) != expected:
            problems.add(f"wrong number of columns (expected {expected}: {columns})",
                         f"{where} ({len(cells)} columns)")
            continue
        ok = True
        cell = cells[labels.path_column]
        path = _resolve(root, cell)
        if not cell:
            problems.add("empty path", f"line {line}")
            ok = False
        elif not path.is_file():
            problems.add(f"audio file not found under {root}", where,
                         fix=f"correct the paths (relative to {options.key('root')}) or drop the rows")
            ok = False
        elif path in seen_paths:
            problems.add("duplicate path (each audio file once)", f"{where} (also line {seen_paths[path]})")
            ok = False
        else:
            seen_paths[path] = line
            track_id = _track_id(root, path)
            if track_id in seen_ids:
                problems.add("two files with one name but different extensions (track ids must be unique)",
                             f"{where} (and line {seen_ids[track_id]})")
                ok = False
            seen_ids[track_id] = line
            if not is_audio_file(path):
                log.warning("target %s: %s, line %d: %s has no audio extension; the mel cache will try to read it",
                            options.name, labels.path.name, line, cell)
        for name, column in zip(labels.label_names(), labels.label_columns):
            if not cells[column]:
                problems.add(f"empty label ({name})", where)
                ok = False
        if labels.split_column is not None:
            split = cells[labels.split_column].lower()
            if split not in SPLIT_VALUES:
                problems.add(f"unknown split name (use {', '.join(SPLIT_VALUES)})",
                             f"{where}: {cells[labels.split_column]!r}",
                             fix="name a split on every row, or drop the split column for random splits")
                ok = False
        if ok:
            good.append((line, cells))
    problems.raise_if_any()
    return good


def _tracks(labels: LabelFile, rows, *, root: Path, task: str, separator: str) -> list[TargetTrack]:
    tracks = []
    for _line, cells in rows:
        values = [cells[i] for i in labels.label_columns]
        if task == "regression":
            numbers = tuple(number(v) for v in values)
            label = numbers[0] if len(numbers) == 1 else numbers
        elif task == "multilabel":
            label = tuple(sorted({tag.strip() for tag in values[0].split(separator) if tag.strip()}))
        else:
            label = values[0]
        path = _resolve(root, cells[labels.path_column])
        split = SPLIT_VALUES[cells[labels.split_column].lower()] if labels.split_column is not None else None
        group = (cells[labels.group_column] or None) if labels.group_column is not None else None
        tracks.append(TargetTrack(track_id=_track_id(root, path), path=path, label=label, split=split, group=group))
    return tracks


def _check_labels(labels: LabelFile, rows, tracks: list[TargetTrack], *, task: str,
                  options: TargetOptions) -> tuple[str, ...]:
    """The sorted classes (tag vocabulary for multilabel; ``()`` for regression). Raises
    :class:`DataError` for labels outside a configured ``classes``, configured classes without
    tracks, classes (tags) of a single track, fewer than 2 classes, a constant regression value."""
    problems = Problems(options=options, labels=labels.path)
    where = [_row(line, cells, labels.path_column) for line, cells in rows]
    if task == "regression":
        values = np.array([t.label for t in tracks], dtype=np.float64).reshape(len(tracks), -1)
        for name, column in zip(labels.label_names(), values.T):
            if np.ptp(column) == 0:
                problems.add(f"every value of {name} is {column[0]:g}, nothing to learn", where[0])
        problems.raise_if_any()
        return ()
    kind = "tag" if task == "multilabel" else "class"
    names = [t.label if task == "multilabel" else (t.label,) for t in tracks]
    for place, tags in zip(where, names):
        if not tags:
            problems.add("no tag in the label (only separators)", place)
    configured = options.names("classes")
    if configured is not None:
        allowed = set(configured)
        for place, tags in zip(where, names):
            unknown = [tag for tag in tags if tag not in allowed]
            if unknown:
                problems.add(f"{kind} not in {options.key('classes')}", f"{place}: {', '.join(unknown)}",
                             fix=f"add it to {options.key('classes')} (or set it to null) or fix the row")
        present = {tag for tags in names for tag in tags}
        for name in configured:
            if name not in present:
                problems.add(f"{kind} of {options.key('classes')} without any track", repr(name),
                             fix=f"drop it from {options.key('classes')} or add tracks")
    counts = Counter(tag for tags in names for tag in tags)
    first_row = {}
    for place, tags in zip(where, names):
        for tag in tags:
            first_row.setdefault(tag, place)
    for name, count in sorted(counts.items()):
        if count == 1:
            side = ("a class must be on both sides of a train/test split" if task == "classification"
                    else "a tag needs tracks on both sides of a train/test split")
            problems.add(f"{kind} with a single track ({side})", f"{name!r} on {first_row[name]}",
                         fix=f"add tracks of it, merge it into another {kind}, or drop its rows")
    problems.raise_if_any()
    classes = tuple(sorted(counts))
    if task == "classification" and len(classes) < 2:
        raise DataError(f"target {options.name}: {labels.path} has a single class ({classes[0]!r}); a classification "
                        "target needs at least 2")
    if task == "multilabel":
        everywhere = [name for name, count in counts.items() if count == len(tracks)]
        if everywhere:
            log.warning("target %s: tag(s) %s are on every track; nothing to learn for them (the test metrics leave "
                        "them out)", options.name, ", ".join(sorted(everywhere)))
    return classes


def _check_split(labels: LabelFile, rows, tracks: list[TargetTrack], *, options: TargetOptions) -> None:
    """With a split column: both sides have tracks and no group spans train and test."""
    if labels.split_column is None:
        return
    sides = Counter("test" if t.split == "test" else "train" for t in tracks)
    if not sides["test"] or not sides["train"]:
        raise DataError(f"target {options.name}: the split column of {labels.path} has {sides['train']} train/valid "
                        f"and {sides['test']} test rows; both sides need tracks (or drop the column for random splits)")
    lines: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"train": [], "test": []})
    for (line, _cells), track in zip(rows, tracks):
        if track.group is not None:
            lines[track.group]["test" if track.split == "test" else "train"].append(line)
    problems = Problems(options=options, labels=labels.path)
    for group, side in lines.items():
        if side["train"] and side["test"]:
            problems.add("group in both train/valid and test", f"{group!r} (train/valid on line(s) "
                         f"{', '.join(map(str, side['train'][:3]))}, test on {', '.join(map(str, side['test'][:3]))})",
                         fix="a group's tracks must all be on one side: move them, or drop the split column "
                             "for group-aware random splits")
    problems.raise_if_any()


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """The file's own split when it has a split column (``n_repetitions`` times, ``seed``
    unused). Else a random split per repetition seeded by ``(seed, repetition)``: stratified by
    class for classification (keeping groups on one side when the file has groups),
    group-aware and retried until every tag is on both sides for multilabel, plain or
    group-aware for regression."""
    if all(t.split is not None for t in index.tracks):
        return predefined_splits(index, n_repetitions=n_repetitions)
    grouped = any(t.group is not None for t in index.tracks)
    if index.task == "classification":
        draw = group_stratified_splits if grouped else stratified_splits
    elif index.task == "multilabel":
        draw = multilabel_splits
    else:
        draw = group_shuffle_splits if grouped else random_splits
    return draw(index, n_repetitions=n_repetitions, seed=seed)
