"""MediaEval "Emotion in Music" song-level arousal / valence regression (Soleymani et al. 2013), R6.4.

Layout under ``root`` (the "1000 songs" / emoMusic release, 744 songs after its de-duplication):

* ``annotations/static_annotations.csv``: ``song_id, mean_arousal, std_arousal, mean_valence,
  std_valence`` (a space follows each comma in the release; names and values are stripped);
* ``annotations/songs_info.csv``: ``song_id, file_name, Artist, Song title, start of the
  segment (min.sec), end of the segment (min.sec), Genre, Mediaeval 2013 set``;
* ``clips_45seconds/<song_id>.mp3``.

Three targets share this loader: ``mediaeval_arousal`` and ``mediaeval_valence``, whose
``label_column`` picks one annotation column (the paper trains one model per dimension), and
``emomusic`` (MARBLE's EMO task), whose ``label_column: [mean_arousal, mean_valence]`` gives a
2-D label (R² is then the uniform average) with the per-dimension R² as extra metrics
``r2_arousal`` and ``r2_valence`` (:mod:`mtl_music.evaluation.metrics`).

Split: the release's own genre-stratified split, the ``Mediaeval 2013 set`` column
(``development`` → train, ``evaluation`` → test; 619 / 125 songs), as the paper uses it.
Where that column is absent (or ``split_column: null``), ``splits()`` reproduces the protocol
instead: a random 80/20 split per repetition, stratified by ``Genre`` and seeded by
``(seed, repetition)``.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any

from mtl_music.audio.files import audio_files
from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.metrics import EMOTION_DIMENSIONS
from mtl_music.targets.base import (
    DEFAULT_TEST_FRACTION,
    Split,
    TargetIndex,
    TargetTrack,
    predefined_splits,
    stratified_splits,
)
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("annotations/static_annotations.csv (song_id, mean_arousal, std_arousal, mean_valence, std_valence), "
          "annotations/songs_info.csv (song_id, ..., Genre, Mediaeval 2013 set) and clips_45seconds/<song_id>.mp3")

#: Values of the split column → split names (the release's, and ours for user-made files).
SPLIT_VALUES = {"development": "train", "evaluation": "test", "train": "train", "valid": "valid", "test": "test"}

DEFAULT_SPLIT_COLUMN = "Mediaeval 2013 set"

#: The stratum of songs whose genre is empty.
NO_GENRE = "(no genre)"


def read_csv_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a comma-separated file, with names and values stripped of whitespace.

    Undecodable bytes (artist names in a legacy encoding) are replaced: only ids, numbers,
    genres and split names are used. Raises :class:`DataError` when the file cannot be read or
    has no header.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
        reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise DataError(f"{path} is empty or has no header row")
        rows = [{name: value.strip() for name, value in zip(header, row)} for row in reader if any(v.strip() for v in row)]
    except (OSError, csv.Error) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    return header, rows


def normalise_id(value: str) -> str:
    """``"0002"`` and ``"2"`` → ``"2"`` (the release writes ids unpadded; user files may pad)."""
    value = value.strip()
    return str(int(value)) if value.isdigit() else value


def _require_columns(path: Path, header: list[str], columns: list[str], options: TargetOptions, key: str) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise options.layout_error(f"{path} lacks the column(s) {', '.join(missing)} (it has: {', '.join(header)})",
                                   fix_key=key)


def load_index(cfg: Any) -> TargetIndex:
    """Reads a MediaEval emotion target (keys: ``name``, ``root``, ``annotations_csv``,
    ``songs_info_csv``, ``audio_dir``, ``label_column``, ``id_column``, ``genre_column``,
    ``split_column``, ``test_fraction``, ``extra_metrics``).

    Returns a regression :class:`TargetIndex` sorted by song id (numerically), labels the
    ``label_column`` values (a float; a tuple of floats when it is a list), strata the genres,
    splits from ``split_column`` where present.
    Songs without info row, without a numeric label or without audio are logged and left out.
    """
    options = TargetOptions(cfg, dataset="MediaEval", layout=LAYOUT)
    root = options.root()
    annotations_csv = options.existing_file("annotations_csv", root / "annotations" / "static_annotations.csv")
    songs_info_csv = options.existing_file("songs_info_csv", root / "annotations" / "songs_info.csv")
    audio_dir = options.existing_dir("audio_dir", root / "clips_45seconds")
    label_columns = _label_columns(options)
    extra_metrics = options.extra_metrics()
    _check_dimensions(label_columns, extra_metrics, options)
    id_column = str(options.value("id_column", "song_id"))
    genre_column = str(options.value("genre_column", "Genre"))
    split_column = options.value("split_column", None)

    header, annotations = read_csv_table(annotations_csv)
    _require_columns(annotations_csv, header, [id_column, *label_columns], options, "annotations_csv")
    info_header, info_rows = read_csv_table(songs_info_csv)
    _require_columns(songs_info_csv, info_header, [id_column, genre_column], options, "songs_info_csv")
    if split_column is not None and split_column not in info_header:
        log.warning("target %s: %s has no column %r; using a genre-stratified random split instead",
                    options.name, songs_info_csv, split_column)
        split_column = None
    info = {normalise_id(row.get(id_column, "")): row for row in info_rows}
    audio = {normalise_id(p.stem): p for p in audio_files(audio_dir, recursive=False)}

    tracks: list[TargetTrack] = []
    problems: dict[str, list[str]] = {"no songs_info row": [], "no numeric label": [], f"no audio in {audio_dir}": [],
                                      "no genre": []}
    for row in annotations:
        song_id = normalise_id(row.get(id_column, ""))
        try:
            values = tuple(float(row.get(column, "")) for column in label_columns)
        except ValueError:
            problems["no numeric label"].append(song_id)
            continue
        if song_id not in info:
            problems["no songs_info row"].append(song_id)
            continue
        if song_id not in audio:
            problems[f"no audio in {audio_dir}"].append(song_id)
            continue
        genre = info[song_id].get(genre_column, "")
        if not genre:
            problems["no genre"].append(song_id)
        split = None
        if split_column is not None:
            value = info[song_id].get(split_column, "")
            split = SPLIT_VALUES.get(value.lower())
            if split is None:
                raise DataError(f"target {options.name}: {songs_info_csv}, song {song_id}: {split_column} is {value!r}; "
                                f"expected one of {', '.join(SPLIT_VALUES)} (or pass {options.key('split_column')}=null "
                                "for a genre-stratified random split)")
        label = values if isinstance(options.value("label_column"), list) else values[0]
        tracks.append(TargetTrack(track_id=song_id, path=audio[song_id], label=label, split=split,
                                  stratum=genre or NO_GENRE))
    for problem, ids in problems.items():
        if ids:
            kept = " (kept, stratum '" + NO_GENRE + "')" if problem == "no genre" else " and are left out"
            log.warning("target %s: %d song(s) have %s%s (e.g. %s)", options.name, len(ids), problem, kept,
                        ", ".join(ids[:5]))
    if not tracks:
        raise options.layout_error(f"no song of {annotations_csv} has a numeric {' and '.join(label_columns)}, a "
                                   f"songs_info row and audio in {audio_dir}")
    tracks.sort(key=lambda t: (not t.track_id.isdigit(), int(t.track_id) if t.track_id.isdigit() else 0, t.track_id))
    log.info("target %s: %d songs, %s split", options.name, len(tracks),
             f"pre-defined ({split_column})" if split_column else "genre-stratified random")
    return TargetIndex(name=options.name, loader="mediaeval", task="regression", metric="r2", tracks=tracks,
                       test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION),
                       extra_metrics=extra_metrics)


def _label_columns(options: TargetOptions) -> tuple[str, ...]:
    """``label_column`` as a tuple of column names: one name (a scalar label) or a list (a
    label with one value per column)."""
    value = options.value("label_column")
    if isinstance(value, list):
        if not value or not all(isinstance(v, str) and v.strip() for v in value) or len(set(value)) < len(value):
            raise ConfigError(f"{options.key('label_column')}={value!r} must be a column name or a list of distinct "
                              "column names (e.g. [mean_arousal, mean_valence])")
        return tuple(v.strip() for v in value)
    return (str(value),)


def _check_dimensions(label_columns: tuple[str, ...], extra_metrics: tuple[str, ...], options: TargetOptions) -> None:
    """A per-dimension R² (``r2_arousal``: column 0) needs that dimension's column in its place."""
    for name in extra_metrics:
        column = EMOTION_DIMENSIONS.get(name)
        if column is None:
            continue
        dimension = name.removeprefix("r2_")
        if len(label_columns) <= column or dimension not in label_columns[column]:
            raise ConfigError(f"{options.key('extra_metrics')} lists {name}, which scores label column {column}, but "
                              f"{options.key('label_column')}={list(label_columns)} has no {dimension} column there; "
                              "use label_column=[mean_arousal, mean_valence]")


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """The release's split when every track has one (``n_repetitions`` times, ``seed`` unused),
    else a genre-stratified random split per repetition seeded by ``(seed, repetition)``."""
    if all(t.split is not None for t in index.tracks):
        return predefined_splits(index, n_repetitions=n_repetitions)
    return stratified_splits(index, n_repetitions=n_repetitions, seed=seed)
