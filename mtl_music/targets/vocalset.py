"""VocalSet (Wilkins et al. 2018): singer identification or singing-technique classification.

Layout under ``root`` (the extracted release): ``FULL/<singer>/<context>/<technique>/<file>.wav``,
``<singer>`` one of the 20 ``f1``-``f9``, ``m1``-``m11``, ``<context>`` e.g. ``arpeggios``,
``long_tones``, ``scales``, ``excerpts``, ``<technique>`` e.g. ``belt``, ``vibrato``,
``vocal_fry``, ``fast_forte``, ``messa``; plus the singer lists ``train_singers_technique.txt``
and ``test_singers_technique.txt`` (one singer per line, written ``female2`` / ``male3`` or
``f2`` / ``m3``).

The singer is the ``<singer>`` folder, not the file name: some release files lack the singer
prefix (``lip_trill/lip_trill_arps.wav``, which MARBLE renames). The technique is the folder
name lower-cased with spaces and hyphens as ``_``, then mapped by ``technique_aliases``
(``{folder spelling: technique}``) for folders spelled otherwise. Duplicate downloads named
``<stem>(1).wav`` are left out. Files at another depth are logged and left out.

Two targets share this loader (``label``):

* ``vocalset_singer``: every file, the 20 singers as classes, a stratified random split;
* ``vocalset_technique``: MARBLE's 10 techniques (``techniques``; files of other techniques are
  left out, counted in the log). With the release's singer lists (``test_singers``,
  ``train_singers``) the split is theirs (predefined, singer-disjoint: MARBLE's f2, f8, m3, m5,
  m10 in test); without them, a technique-stratified random split keeping each singer on one
  side (``TargetTrack.group`` = singer).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from mtl_music.audio.files import audio_files
from mtl_music.errors import ConfigError
from mtl_music.targets.base import (
    DEFAULT_TEST_FRACTION,
    Split,
    TargetIndex,
    TargetTrack,
    group_stratified_splits,
    predefined_splits,
    sorted_classes,
    stratified_splits,
)
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("FULL/<singer>/<context>/<technique>/<file>.wav (singers f1-f9, m1-m11) and, for the technique "
          "split, train_singers_technique.txt / test_singers_technique.txt (one singer per line)")

LABELS = ("singer", "technique")

#: The 10 techniques of MARBLE's VocalSet task.
MARBLE_TECHNIQUES = ("belt", "breathy", "inhaled", "lip_trill", "spoken", "straight", "trill", "trillo", "vibrato",
                     "vocal_fry")

_SINGER = re.compile(r"^(?:f|female|m|male)(\d+)$")
_DUPLICATE = re.compile(r"\(\d+\)$")


def singer_name(text: str) -> str | None:
    """``"female2"``, ``"F2"``, ``"f2"`` → ``"f2"``; ``"male10"`` → ``"m10"``; ``None`` for anything else."""
    value = text.strip().lower()
    match = _SINGER.match(value)
    return f"{value[0]}{int(match.group(1))}" if match else None


def technique_name(folder: str) -> str:
    """A technique folder's name lower-cased, spaces and hyphens as ``_`` (``"Vocal Fry"`` → ``"vocal_fry"``)."""
    return re.sub(r"[\s\-]+", "_", folder.strip().lower())


def read_singer_list(path: Path, *, options: TargetOptions, key: str) -> set[str]:
    """The singers of one list file; :class:`~mtl_music.errors.DataError` for a line that is no singer."""
    singers = set()
    for line_no, raw in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not raw.strip():
            continue
        singer = singer_name(raw)
        if singer is None:
            raise options.layout_error(f"{path} line {line_no}: {raw.strip()!r} is not a singer (f1-f9, m1-m11, or "
                                       "female1 / male1)", fix_key=key)
        singers.add(singer)
    return singers


def _singer_split(options: TargetOptions, root: Path) -> dict[str, str] | None:
    """Singer → ``"train"`` / ``"test"`` from the release's lists, ``None`` when the test list is absent."""
    test_path = options.path("test_singers", root / "test_singers_technique.txt")
    if not test_path.is_file():
        return None
    split = {s: "test" for s in read_singer_list(test_path, options=options, key="test_singers")}
    train_path = options.path("train_singers", root / "train_singers_technique.txt")
    if train_path.is_file():
        train = read_singer_list(train_path, options=options, key="train_singers")
        both = sorted(train & set(split))
        if both:
            raise options.layout_error(f"singer(s) {', '.join(both)} are in both {train_path} and {test_path}",
                                       fix_key="test_singers")
        split.update({s: "train" for s in train})
    return split


def load_index(cfg: Any) -> TargetIndex:
    """Reads VocalSet (keys: ``name``, ``root``, ``audio_dir``, ``label``, ``techniques``,
    ``technique_aliases``, ``test_singers``, ``train_singers``, ``test_fraction``).

    Returns a classification :class:`TargetIndex` sorted by id (the path under ``audio_dir``
    without extension), grouped by singer for the technique task; splits as the module says.
    """
    options = TargetOptions(cfg, dataset="VocalSet", layout=LAYOUT)
    root = options.root()
    audio_dir = options.existing_dir("audio_dir", root / "FULL")
    label = str(options.value("label"))
    if label not in LABELS:
        raise ConfigError(f"{options.key('label')}={label!r} must be one of {', '.join(LABELS)}")
    aliases = options.value("technique_aliases", {})
    if not isinstance(aliases, dict):
        raise ConfigError(f"{options.key('technique_aliases')}={aliases!r} must map folder spellings to techniques")
    aliases = {technique_name(str(k)): technique_name(str(v)) for k, v in aliases.items()}
    techniques = options.names("techniques") if label == "technique" else None
    techniques = set(techniques or MARBLE_TECHNIQUES) if label == "technique" else None
    singer_split = _singer_split(options, root) if label == "technique" else None

    tracks: list[TargetTrack] = []
    misplaced, duplicates, not_listed = [], [], []
    other_techniques: Counter[str] = Counter()
    for path in audio_files(audio_dir, recursive=True):
        parts = path.relative_to(audio_dir).parts
        singer = singer_name(parts[0]) if len(parts) == 4 else None
        if singer is None:
            misplaced.append("/".join(parts))
            continue
        if _DUPLICATE.search(path.stem):
            duplicates.append("/".join(parts))
            continue
        technique = technique_name(parts[2])
        technique = aliases.get(technique, technique)
        track_id = "/".join(parts)[: -len(path.suffix)]
        if label == "singer":
            tracks.append(TargetTrack(track_id=track_id, path=path, label=singer, split=None))
            continue
        if technique not in techniques:
            other_techniques[technique] += 1
            continue
        split = None
        if singer_split is not None:
            split = singer_split.get(singer)
            if split is None:
                not_listed.append(singer)
                continue
        tracks.append(TargetTrack(track_id=track_id, path=path, label=technique, split=split, group=singer))
    if misplaced:
        log.warning("target %s: %d audio file(s) are not at <singer>/<context>/<technique>/<file> under %s and are "
                    "left out (e.g. %s)", options.name, len(misplaced), audio_dir, ", ".join(misplaced[:5]))
    if duplicates:
        log.warning("target %s: %d duplicate download(s) '<stem>(N).wav' are left out (e.g. %s)", options.name,
                    len(duplicates), ", ".join(duplicates[:5]))
    if other_techniques:
        log.info("target %s: %d file(s) of techniques outside %s are left out: %s", options.name,
                 sum(other_techniques.values()), options.key("techniques"),
                 ", ".join(f"{t} ({n})" for t, n in sorted(other_techniques.items())))
    if not_listed:
        log.warning("target %s: %d file(s) of singer(s) %s, in neither singer list, are left out", options.name,
                    len(not_listed), ", ".join(sorted(set(not_listed))))
    if not tracks:
        raise options.layout_error(f"no audio file under {audio_dir} at <singer>/<context>/<technique>/<file>"
                                   + (f" with a technique of {sorted(techniques)}" if techniques else ""))
    tracks.sort(key=lambda t: t.track_id)
    if label == "technique":
        log.info("target %s: %d files, %s split", options.name, len(tracks),
                 "the release's singer" if singer_split is not None else "singer-grouped random")
    return TargetIndex(name=options.name, loader="vocalset", task="classification", metric="accuracy", tracks=tracks,
                       classes=sorted_classes([t.label for t in tracks]),
                       test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION),
                       extra_metrics=options.extra_metrics())


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """The release's singer split when every track has one (``seed`` unused); else, for the
    technique task (tracks grouped by singer), a technique-stratified random split keeping each
    singer on one side, and for the singer task a stratified random split, both seeded by
    ``(seed, repetition)``."""
    if all(t.split is not None for t in index.tracks):
        return predefined_splits(index, n_repetitions=n_repetitions)
    if any(t.group is not None for t in index.tracks):
        return group_stratified_splits(index, n_repetitions=n_repetitions, seed=seed)
    return stratified_splits(index, n_repetitions=n_repetitions, seed=seed)
