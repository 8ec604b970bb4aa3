"""MTG-Jamendo auto-tagging (Bogdanov et al. 2019), multi-label, the repository's split-0.

Layout: a clone of ``github.com/MTG/mtg-jamendo-dataset`` under ``root``, whose
``data/splits/split-0/<subset>-{train,validation,test}.tsv`` list the tracks of a subset
(``autotagging_top50tags``, ``autotagging_genre``, ``autotagging_instrument``,
``autotagging_moodtheme``: four targets, one per subset). Each file has a header ``TRACK_ID
ARTIST_ID ALBUM_ID PATH DURATION TAGS`` and one tab-separated row per track, its tags the
remaining fields (``genre---rock``, ``instrument---piano``, ``mood/theme---happy``); the
release writes CRLF line ends. The audio (downloaded separately) is ``<audio_dir>/<PATH>``,
e.g. ``14/214.mp3``; the low-quality download's ``14/214.low.mp3`` is accepted too.

Tags: as written (``genre---rock``); ``classes`` the tags of the tracks kept. Split: the files'
(``train``, ``validation`` → valid, ``test``); ``splits()`` folds valid into train. Tracks
without audio are logged and left out.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mtl_music.targets.base import Split, TargetIndex, TargetTrack, predefined_splits
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("data/splits/split-0/<subset>-{train,validation,test}.tsv of the mtg-jamendo-dataset repository "
          "(TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION TAGS..., tab-separated) and the audio under audio_dir "
          "as <PATH> (e.g. 14/214.mp3, or 14/214.low.mp3)")

SUBSETS = ("autotagging_top50tags", "autotagging_genre", "autotagging_instrument", "autotagging_moodtheme")

#: Split file suffix → split name.
SPLIT_FILES = {"train": "train", "validation": "valid", "test": "test"}

COLUMNS = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION")


def read_split_file(path: Path, *, options: TargetOptions) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(track id, PATH, sorted tags)`` per row of one split file. Raises
    :class:`~mtl_music.errors.DataError` for a missing file, a header other than the release's
    or a row without tags."""
    if not path.is_file():
        raise options.layout_error(f"split file {path} does not exist", fix_key="splits_dir")
    rows = []
    lines = path.read_text(encoding="utf-8-sig").splitlines()  # splitlines drops the release's CR too
    header = lines[0].split("\t") if lines else []
    if tuple(h.strip() for h in header[: len(COLUMNS)]) != COLUMNS:
        first = repr(lines[0][:80]) if lines else "nothing"
        raise options.layout_error(f"{path} starts with {first}; expected the header "
                                   f"{' '.join(COLUMNS)} TAGS (tab-separated)", fix_key="splits_dir")
    for line_no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        tags = tuple(sorted({f for f in fields[len(COLUMNS):] if f}))
        if len(fields) <= len(COLUMNS) or not tags or not fields[0] or not fields[3]:
            raise options.layout_error(f"{path} line {line_no}: {line[:80]!r} lacks a track id, a path or tags",
                                       fix_key="splits_dir")
        rows.append((fields[0], fields[3], tags))
    return rows


def find_audio(audio_dir: Path, relative: str) -> Path | None:
    """``audio_dir/<relative>``, else its low-quality ``.low.mp3`` twin, else ``None``."""
    path = audio_dir / relative
    if path.is_file():
        return path
    low = path.with_name(f"{path.stem}.low{path.suffix}")
    return low if low.is_file() else None


def load_index(cfg: Any) -> TargetIndex:
    """Reads one MTG-Jamendo subset (keys: ``name``, ``root``, ``subset``, ``splits_dir``,
    ``audio_dir``).

    Returns a multilabel :class:`TargetIndex` of the listed tracks with audio, sorted by
    track id, each with its split. A track listed in two split files is a DataError.
    """
    options = TargetOptions(cfg, dataset="mtg-jamendo-dataset", layout=LAYOUT)
    root = options.root()
    subset = str(options.value("subset"))
    if subset not in SUBSETS:
        raise options.layout_error(f"{options.key('subset')}={subset!r} is not one of {', '.join(SUBSETS)}",
                                   fix_key="subset")
    splits_dir = options.existing_dir("splits_dir", root / "data" / "splits" / "split-0")
    audio_dir = options.existing_dir("audio_dir", root / "audio")
    tracks: list[TargetTrack] = []
    seen: dict[str, str] = {}
    missing = []
    for suffix, split in SPLIT_FILES.items():
        split_file = splits_dir / f"{subset}-{suffix}.tsv"
        for track_id, relative, tags in read_split_file(split_file, options=options):
            if track_id in seen:
                raise options.layout_error(f"{track_id} is listed in both {subset}-{seen[track_id]}.tsv and "
                                           f"{split_file.name}", fix_key="splits_dir")
            seen[track_id] = suffix
            path = find_audio(audio_dir, relative)
            if path is None:
                missing.append(relative)
                continue
            tracks.append(TargetTrack(track_id=track_id, path=path, label=tags, split=split))
    if missing:
        log.warning("target %s: %d listed track(s) have no audio under %s and are left out (e.g. %s)", options.name,
                    len(missing), audio_dir, ", ".join(missing[:5]))
    if not tracks:
        raise options.layout_error(f"no track listed in {splits_dir}/{subset}-*.tsv has its audio under {audio_dir}",
                                   fix_key="audio_dir")
    tracks.sort(key=lambda t: t.track_id)
    classes = tuple(sorted({tag for t in tracks for tag in t.label}))
    log.info("target %s: %d tracks, %d tags", options.name, len(tracks), len(classes))
    return TargetIndex(name=options.name, loader="mtg_jamendo", task="multilabel", metric="roc_auc",
                       tracks=tracks, classes=classes, extra_metrics=options.extra_metrics())


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """The repository's split-0, ``n_repetitions`` times: train = train + validation, test = test.
    ``seed`` is unused (the split is fixed; repetitions differ by the probe's seed)."""
    return predefined_splits(index, n_repetitions=n_repetitions)
