"""MagnaTagATune top-50 auto-tagging (Law et al. 2009), multi-label, the usual 12/1/3 folder split.

Layout under ``root``: ``annotations_final.csv``, which is *tab*-separated despite its name (its
fields double-quoted): a header ``clip_id``, the 188 tag columns (``no voice``, ``singer`` ...),
``mp3_path``; one row per 29-second clip with 0/1 per tag and the clip's path relative to the
audio folder, e.g. ``f/american_bach_soloists-j_s__bach_solo_cantatas-01-bwv54__i_aria-30-59.mp3``.
The audio lies in the 16 folders ``0``-``9``, ``a``-``f`` (the first character of ``mp3_path``).

Tags: the ``top_k`` (50) most frequent over the whole file, ties broken by column order; clips
carrying none of them are left out (logged), as are clips whose mp3 is missing.

Split: the folder of ``mp3_path``: ``0``-``b`` train, ``c`` valid, ``d``-``f`` test (12/1/3, the
split of Dieleman & Schrauwen 2014 and MARBLE); ``splits()`` folds valid into train.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np

from mtl_music.errors import DataError
from mtl_music.targets.base import Split, TargetIndex, TargetTrack, predefined_splits
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("annotations_final.csv (tab-separated: clip_id, 188 tag columns of 0/1, mp3_path like "
          "'f/<artist>-<album>-<nn>-<title>-30-59.mp3') and the audio folders 0-9, a-f holding the mp3s")

ID_COLUMN = "clip_id"
PATH_COLUMN = "mp3_path"
DEFAULT_TOP_K = 50

#: The usual 12/1/3 split by audio folder.
DEFAULT_FOLDERS = {"train": tuple("0123456789ab"), "valid": ("c",), "test": ("d", "e", "f")}


def read_annotations(path: Path) -> tuple[list[str], list[tuple[str, str, np.ndarray]]]:
    """Tag names and ``(clip_id, mp3_path, (n_tags,) uint8 indicators)`` per row of
    ``annotations_final.csv``.

    Raises :class:`DataError` when the file cannot be read, lacks ``clip_id`` / ``mp3_path``, or
    a row has another number of fields than the header or a tag value other than 0/1.
    """
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t")
            header = [name.strip() for name in next(reader, [])]
            if ID_COLUMN not in header or PATH_COLUMN not in header:
                comma = " (it looks comma-separated; the release's file is tab-separated)" if len(header) == 1 else ""
                raise DataError(f"{path} lacks the column(s) {ID_COLUMN}/{PATH_COLUMN} in its header{comma}; "
                                "expected MagnaTagATune's annotations_final.csv")
            id_at, path_at = header.index(ID_COLUMN), header.index(PATH_COLUMN)
            tag_at = [j for j in range(len(header)) if j not in (id_at, path_at)]
            rows = []
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                if len(row) != len(header):
                    raise DataError(f"{path} line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
                values = [row[j].strip() for j in tag_at]
                if any(v not in ("0", "1") for v in values):
                    bad = next(v for v in values if v not in ("0", "1"))
                    raise DataError(f"{path} line {reader.line_num}: tag value {bad!r} is not 0 or 1")
                rows.append((row[id_at].strip(), row[path_at].strip(),
                             np.array([v == "1" for v in values], dtype=np.uint8)))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read MagnaTagATune's annotations at {path}: {err}") from err
    return [header[j] for j in tag_at], rows


def top_tags(tags: list[str], indicators: np.ndarray, *, k: int) -> list[str]:
    """The ``k`` most frequent of ``tags`` over ``indicators`` (n_clips, n_tags), most frequent
    first, ties in column order."""
    counts = indicators.sum(axis=0, dtype=np.int64)
    order = sorted(range(len(tags)), key=lambda j: (-counts[j], j))
    return [tags[j] for j in order[:k]]


def load_index(cfg: Any) -> TargetIndex:
    """Reads MagnaTagATune (keys: ``name``, ``root``, ``annotations_csv``, ``audio_dir``,
    ``top_k``, ``train_folders``, ``valid_folders``, ``test_folders``).

    Returns a multilabel :class:`TargetIndex` of the clips with audio and at least one top-k
    tag, sorted by clip id (numerically), each with its folder's split; ``classes`` the top-k
    tags (sorted) that keep a clip. Clips without audio, without a top tag, or in a folder of
    no split are logged and left out.
    """
    options = TargetOptions(cfg, dataset="MagnaTagATune", layout=LAYOUT)
    root = options.root()
    annotations_csv = options.existing_file("annotations_csv", root / "annotations_final.csv")
    audio_dir = options.existing_dir("audio_dir", root)
    top_k = options.count("top_k", DEFAULT_TOP_K)
    split_of = {}
    for split, default in DEFAULT_FOLDERS.items():
        for folder in options.names(f"{split}_folders") or default:
            if folder in split_of:
                raise options.layout_error(f"audio folder {folder!r} is in both {split_of[folder]}_folders and "
                                           f"{split}_folders", fix_key=f"{split}_folders")
            split_of[folder] = split

    tags, rows = read_annotations(annotations_csv)
    if top_k > len(tags):
        raise options.layout_error(f"{options.key('top_k')}={top_k} but {annotations_csv} has {len(tags)} tag columns",
                                   fix_key="top_k")
    indicators = np.stack([r[2] for r in rows]) if rows else np.zeros((0, len(tags)), dtype=np.uint8)
    kept_tags = top_tags(tags, indicators, k=top_k)
    column = {tag: j for j, tag in enumerate(tags)}
    tracks: list[TargetTrack] = []
    problems: dict[str, list[str]] = {"carry none of the top tags": [], f"have no audio under {audio_dir}": [],
                                      "lie in a folder of no split": []}
    for clip_id, mp3_path, values in rows:
        folder = mp3_path.replace("\\", "/").split("/")[0]
        labels = tuple(sorted(tag for tag in kept_tags if values[column[tag]]))
        if not labels:
            problems["carry none of the top tags"].append(clip_id)
        elif folder not in split_of:
            problems["lie in a folder of no split"].append(f"{clip_id} ({folder})")
        elif not (audio_dir / mp3_path).is_file():
            problems[f"have no audio under {audio_dir}"].append(mp3_path)
        else:
            tracks.append(TargetTrack(track_id=clip_id, path=audio_dir / mp3_path, label=labels,
                                      split=split_of[folder]))
    for problem, items in problems.items():
        if items:
            log.warning("target %s: %d clip(s) %s and are left out (e.g. %s)", options.name, len(items), problem,
                        ", ".join(items[:5]))
    if not tracks:
        raise options.layout_error(f"no clip of {annotations_csv} has a top-{top_k} tag and its mp3 under {audio_dir}")
    if len({t.track_id for t in tracks}) < len(tracks):
        raise options.layout_error(f"{annotations_csv} lists a clip_id twice")
    classes = tuple(sorted({tag for t in tracks for tag in t.label}))
    if len(classes) < top_k:
        log.warning("target %s: %d of the top-%d tags have no kept clip (%s) and are left out", options.name,
                    top_k - len(classes), top_k, ", ".join(sorted(set(kept_tags) - set(classes))))
    tracks.sort(key=lambda t: (not t.track_id.isdigit(), int(t.track_id) if t.track_id.isdigit() else 0, t.track_id))
    log.info("target %s: %d clips, %d tags", options.name, len(tracks), len(classes))
    return TargetIndex(name=options.name, loader="magnatagatune", task="multilabel", metric="roc_auc",
                       tracks=tracks, classes=classes, extra_metrics=options.extra_metrics())


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """The folder split, ``n_repetitions`` times: train = folders 0-b + c, test = d-f.
    ``seed`` is unused (the split is fixed; repetitions differ by the probe's seed)."""
    return predefined_splits(index, n_repetitions=n_repetitions)
