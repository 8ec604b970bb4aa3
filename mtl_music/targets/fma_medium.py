"""FMA-medium top-genre classification (Defferrard et al. 2017), with the dataset's own split (R6.4).

Layout under ``root``: ``fma_metadata/tracks.csv`` and ``fma_medium/<NNN>/<NNNNNN>.mp3``, where
``NNNNNN`` is the track id zero-padded to 6 digits and ``NNN`` its first 3 digits.

``tracks.csv`` has FMA's two-row header: the first row names top-level columns (``album``,
``artist``, ``set``, ``track``), the second their sub-columns (``subset``, ``split``,
``genre_top``...), and a third row holds only ``track_id``. "Medium" includes "small" (the
subsets are nested), so tracks whose ``set.subset`` is in ``subsets`` (default small, medium:
25,000 tracks) are kept; ``set.split`` is ``training``/``validation``/``test`` (artist-filtered
by the authors) and ``track.genre_top`` is the label (16 classes). The file is streamed with the
``csv`` module (it is ~250 MB with multi-line quoted fields; only three columns are needed).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

from mtl_music.errors import DataError
from mtl_music.targets.base import Split, TargetIndex, TargetTrack, predefined_splits, sorted_classes
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("fma_metadata/tracks.csv (FMA's two-row header: set/subset, set/split, track/genre_top) and "
          "fma_medium/<NNN>/<NNNNNN>.mp3 (6-digit zero-padded track id, NNN = its first 3 digits)")

#: (top-level column, sub-column) of the values read from tracks.csv.
SUBSET_COLUMN = ("set", "subset")
SPLIT_COLUMN = ("set", "split")
GENRE_COLUMN = ("track", "genre_top")

#: FMA's split names → ours.
SPLIT_NAMES = {"training": "train", "validation": "valid", "test": "test"}

DEFAULT_SUBSETS = ("small", "medium")


def audio_path(audio_dir: Path, track_id: int) -> Path:
    """``audio_dir/<NNN>/<NNNNNN>.mp3`` for FMA track ``track_id``."""
    padded = f"{track_id:06d}"
    return audio_dir / padded[:3] / f"{padded}.mp3"


def read_tracks_csv(path: Path) -> list[tuple[int, str, str, str]]:
    """``(track_id, subset, split, genre_top)`` per data row of FMA's ``tracks.csv``, in file order.

    Raises :class:`DataError` when the file cannot be read or decoded, lacks one of the three
    columns in its two-row header, or has a row whose id is not an integer.
    """
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            top, sub = next(reader, None), next(reader, None)
            if top is None or sub is None:
                raise DataError(f"{path} is empty or has no two-row header; expected FMA's tracks.csv")
            # The top-level row names a group once per sub-column ("set","set",...): pair them up.
            columns = {(t.strip(), s.strip()): j for j, (t, s) in enumerate(zip(top, sub))}
            missing = [f"{t}.{s}" for t, s in (SUBSET_COLUMN, SPLIT_COLUMN, GENRE_COLUMN) if (t, s) not in columns]
            if missing:
                raise DataError(f"{path} lacks the column(s) {', '.join(missing)} in its two-row header; is it FMA's "
                                "fma_metadata/tracks.csv (not genres.csv or raw_tracks.csv)?")
            positions = [columns[c] for c in (SUBSET_COLUMN, SPLIT_COLUMN, GENRE_COLUMN)]
            rows = []
            for row in reader:
                if not row or row[0].strip() in ("", "track_id"):
                    continue  # the third header row, or a blank line
                try:
                    track_id = int(row[0])
                except ValueError:
                    raise DataError(f"{path} line {reader.line_num}: track id {row[0]!r} is not an integer") from None
                if len(row) <= max(positions):
                    raise DataError(f"{path} line {reader.line_num}: {len(row)} fields, the header has {len(top)}")
                rows.append((track_id, *(row[j].strip() for j in positions)))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read FMA's tracks.csv at {path}: {err}") from err


def load_index(cfg: Any) -> TargetIndex:
    """Reads FMA-medium (keys: ``name``, ``root``, ``tracks_csv``, ``audio_dir``, ``subsets``).

    Returns a classification :class:`TargetIndex` sorted by track id (id = the 6-digit padded
    number), each track with its FMA split. Kept rows without genre, with an unknown split
    name, or without their mp3 are logged and left out.
    """
    options = TargetOptions(cfg, dataset="FMA", layout=LAYOUT)
    root = options.root()
    tracks_csv = options.existing_file("tracks_csv", root / "fma_metadata" / "tracks.csv")
    audio_dir = options.existing_dir("audio_dir", root / "fma_medium")
    subsets = set(options.names("subsets") or DEFAULT_SUBSETS)

    tracks, no_genre, bad_split, missing = [], [], [], []
    for track_id, subset, split, genre in read_tracks_csv(tracks_csv):
        if subset not in subsets:
            continue
        if not genre:
            no_genre.append(track_id)
            continue
        if split not in SPLIT_NAMES:
            bad_split.append(f"{track_id} ({split or 'empty'})")
            continue
        path = audio_path(audio_dir, track_id)
        if not path.is_file():
            missing.append(str(path.relative_to(audio_dir)))
            continue
        tracks.append(TargetTrack(track_id=f"{track_id:06d}", path=path, label=genre, split=SPLIT_NAMES[split]))
    for what, items in (("have no track.genre_top", no_genre), ("have a set.split outside training/validation/test", bad_split),
                        (f"have no audio under {audio_dir}", missing)):
        if items:
            log.warning("target %s: %d track(s) of subsets %s %s and are left out (e.g. %s)", options.name,
                        len(items), "+".join(sorted(subsets)), what, ", ".join(map(str, items[:5])))
    if not tracks:
        raise options.layout_error(f"no track of subset(s) {', '.join(sorted(subsets))} in {tracks_csv} has a genre, "
                                   f"a split and its mp3 under {audio_dir}")
    tracks.sort(key=lambda t: t.track_id)
    return TargetIndex(name=options.name, loader="fma_medium", task="classification", metric="accuracy",
                       tracks=tracks, classes=sorted_classes([t.label for t in tracks]))


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """FMA's split, ``n_repetitions`` times: train = training + validation, test = test.
    ``seed`` is unused (the split is fixed; repetitions differ by the probe's seed)."""
    return predefined_splits(index, n_repetitions=n_repetitions)
