"""Which tracks a dataset holds: a manifest file or a plain folder of audio.

A manifest is a CSV or TSV with a header row naming the columns ``track_id``, ``path`` and
optionally ``split`` and ``duration`` (other columns are ignored). The delimiter is the one of
tab and comma the header line contains; when it holds both or neither, a tab for ``.tsv``/``.tab``
files and a comma for ``.csv`` (:func:`mtl_music.tables.sniff_delimiter`). Paths are absolute or relative to the manifest's folder. ``split`` is one of
``train``, ``valid``, ``test``; where it is empty (or the column is absent) the track's split
comes from :func:`hash_split`, the same rule a plain audio folder uses.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from mtl_music.audio.files import audio_files
from mtl_music.audio.io import AUDIO_EXTENSIONS
from mtl_music.errors import ConfigError, DataError
from mtl_music.tables import sniff_delimiter

SPLITS = ("train", "valid", "test")
REQUIRED_COLUMNS = ("track_id", "path")


@dataclass(frozen=True)
class TrackEntry:
    """One track of a dataset. ``duration`` (seconds) is what the manifest says, or ``None``."""

    track_id: str
    path: Path
    split: str
    duration: float | None = None


def hash_split(track_id: str, *, val_fraction: float = 0.1) -> str:
    """``"valid"`` for a stable ``val_fraction`` of track ids, else ``"train"``.

    The id's SHA-1 read as a number in [0, 1): the same id gets the same split on every
    machine and run, and adding tracks never moves existing ones.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction={val_fraction} must be in [0, 1)")
    position = int.from_bytes(hashlib.sha1(track_id.encode("utf-8")).digest()[:8], "big") / 2.0**64
    return "valid" if position < val_fraction else "train"


def read_manifest(path: str | os.PathLike, *, val_fraction: float = 0.1) -> list[TrackEntry]:
    """Parses a manifest file (see the module docstring) into tracks, in file order.

    Raises :class:`~mtl_music.errors.DataError` naming the file and line for a missing file,
    missing columns, an empty id or path, a duplicate id, an unknown split or a bad duration.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"manifest {path} does not exist; set data.manifest to a CSV/TSV file or use data.audio_dir")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read manifest {path}: {err}; save it as UTF-8 text") from err
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataError(f"manifest {path} is empty; its first line must be a header with columns track_id, path[, split, duration]")
    delimiter = sniff_delimiter(first_line=lines[0], path=path)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in next(rows)]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise DataError(
            f"manifest {path} line 1: missing column(s) {', '.join(missing)} (header is {header!r}, "
            f"delimiter {delimiter!r}); the header must name track_id, path[, split, duration]"
        )
    column = {name: header.index(name) for name in ("track_id", "path", "split", "duration") if name in header}
    base = path.parent
    tracks: list[TrackEntry] = []
    first_line: dict[str, int] = {}
    for line_no, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        where = f"manifest {path} line {line_no}"
        if len(row) > len(header):
            raise DataError(f"{where}: has {len(row)} fields, the header has {len(header)}; quote a path that "
                            f"contains the delimiter ({delimiter!r}) or fix the row")
        row = row + [""] * (len(header) - len(row))  # trailing optional fields may be left off
        track_id = row[column["track_id"]].strip()
        audio = row[column["path"]].strip()
        if not track_id:
            raise DataError(f"{where}: empty track_id; give every row an id")
        if any(ch in track_id for ch in "\t\r\n"):
            raise DataError(f"{where}: track_id {track_id!r} contains a tab or line break; remove it")
        if not audio:
            raise DataError(f"{where}: empty path for track {track_id!r}; give the audio file's path")
        if track_id in first_line:
            raise DataError(f"{where}: duplicate track_id {track_id!r} (first on line {first_line[track_id]}); ids must be unique")
        first_line[track_id] = line_no
        split = row[column["split"]].strip().lower() if "split" in column else ""
        if not split:
            split = hash_split(track_id, val_fraction=val_fraction)
        elif split not in SPLITS:
            raise DataError(f"{where}: unknown split {split!r} for track {track_id!r}; use one of {', '.join(SPLITS)} "
                            "(or leave it empty for the hash split)")
        duration = None
        if "duration" in column and row[column["duration"]].strip():
            raw = row[column["duration"]].strip()
            try:
                duration = float(raw)
            except ValueError:
                raise DataError(f"{where}: duration {raw!r} is not a number of seconds; fix or empty it") from None
        audio_path = Path(os.path.expanduser(audio))
        tracks.append(TrackEntry(track_id, audio_path if audio_path.is_absolute() else base / audio_path, split, duration))
    if not tracks:
        raise DataError(f"manifest {path} has a header but no track rows; add one row per track")
    return tracks


def scan_audio_dir(path: str | os.PathLike, *, val_fraction: float = 0.1) -> list[TrackEntry]:
    """Every audio file under ``path`` (recursively, by extension, hidden files skipped), sorted.

    The id is the path relative to ``path`` without its extension (``/``-separated); the split
    comes from :func:`hash_split`. Two files that differ only by extension are a
    :class:`~mtl_music.errors.DataError`.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"audio folder {root} does not exist or is not a folder; set data.audio_dir to the folder holding the audio")
    seen: dict[str, Path] = {}
    tracks: list[TrackEntry] = []
    for file in audio_files(root, recursive=True):
        track_id = file.relative_to(root).with_suffix("").as_posix()
        if any(ch in track_id for ch in "\t\r\n"):
            raise DataError(f"audio file {file}: its name contains a tab or line break; rename it")
        if track_id in seen:
            raise DataError(f"audio files {seen[track_id]} and {file} both give track id {track_id!r}; keep one of them")
        seen[track_id] = file
        tracks.append(TrackEntry(track_id, file, hash_split(track_id, val_fraction=val_fraction)))
    if not tracks:
        raise DataError(f"audio folder {root} holds no audio file ({', '.join(sorted(AUDIO_EXTENSIONS))}); point data.audio_dir at your audio")
    return tracks


def dataset_tracks(data: Mapping[str, Any]) -> list[TrackEntry]:
    """The tracks of the ``data`` config group: its ``manifest`` if set, else its ``audio_dir``."""
    val_fraction = float(data.get("val_fraction", 0.1) or 0.0)
    manifest, audio_dir = data.get("manifest"), data.get("audio_dir")
    if manifest:
        return read_manifest(manifest, val_fraction=val_fraction)
    if audio_dir:
        return scan_audio_dir(audio_dir, val_fraction=val_fraction)
    raise ConfigError(
        f"dataset '{data.get('name')}' has neither data.manifest nor data.audio_dir; set one, e.g. "
        "`python -m mtl_music.prepare data=folder data.name=mine data.audio_dir=/path/to/audio`"
    )
