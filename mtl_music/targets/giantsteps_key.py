"""GiantSteps key detection (Knees et al. 2015), 24-key classification, key-stratified split.

Layouts under ``root`` (one key file per audio file, same stem):

* GiantSteps+ (the Zenodo release mirdata reads): ``audio/<stem>.mp3`` with stems like
  ``10089 Jason Sparks - Close My Eyes feat. J. Little (Original Mix)``, keys in
  ``keys_gs+/<stem>.txt`` (one line, ``D major``), metadata in ``meta/`` (not read);
* the original GiantSteps key dataset: ``audio/<id>.LOFI.mp3`` with
  ``annotations/key/<id>.LOFI.key`` (or ``keys/``).

``keys_dirs`` lists the key folders tried in order (the first that exists is read); a key file
is ``<stem>.txt`` or ``<stem>.key``. Track id: the stem's leading number (``10089``), else the
stem. Keys are normalised to one spelling of the 24 (:func:`mtl_music.evaluation.metrics.canonical_key`:
enharmonics ``Db``/``C#`` → ``C#``, ``minor``/``min``/``m`` → ``minor``); tracks whose key is
unusable (``-``, empty, two keys, a mode other than major/minor) or missing are logged and left out.

No split exists: ``splits()`` draws a key-stratified random 80/20 split per repetition (as for
Ballroom). Metrics: accuracy, plus the MIREX weighted key score ``mirex_weighted``
(``extra_metrics``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from mtl_music.audio.files import audio_files
from mtl_music.evaluation.metrics import canonical_key
from mtl_music.targets.base import (
    DEFAULT_TEST_FRACTION,
    Split,
    TargetIndex,
    TargetTrack,
    sorted_classes,
    stratified_splits,
)
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("audio/<stem>.mp3 with a key file per track: keys_gs+/<stem>.txt (GiantSteps+, e.g. 'D major') or "
          "annotations/key/<stem>.key (the original <id>.LOFI.mp3 release)")

DEFAULT_KEYS_DIRS = ("keys_gs+", "keys", "annotations/key")

#: Key file extensions, in the order tried.
KEY_EXTENSIONS = (".txt", ".key")

_LEADING_ID = re.compile(r"^(\d+)")


def track_id(stem: str) -> str:
    """The stem's leading number (``"10089 Artist - Title"``, ``"10089.LOFI"`` → ``"10089"``), else the stem."""
    match = _LEADING_ID.match(stem)
    return match.group(1) if match else stem


def read_key(path: Path) -> str | None:
    """The canonical key of a key file (its first non-empty line), ``None`` when it is unusable."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return canonical_key(lines[0]) if len(lines) == 1 else None


def load_index(cfg: Any) -> TargetIndex:
    """Reads GiantSteps key (keys: ``name``, ``root``, ``audio_dir``, ``keys_dirs``,
    ``extra_metrics``, ``test_fraction``).

    Returns a classification :class:`TargetIndex` of the tracks with audio and a usable key,
    sorted by id, labels the canonical key names, without split.
    """
    options = TargetOptions(cfg, dataset="GiantSteps key", layout=LAYOUT)
    root = options.root()
    audio_dir = options.existing_dir("audio_dir", root / "audio")
    candidates = options.names("keys_dirs") or DEFAULT_KEYS_DIRS
    keys_dir = next((root / d for d in candidates if (root / d).is_dir()), None)
    if keys_dir is None:
        raise options.layout_error(f"none of the key folders {', '.join(candidates)} exists under {root}",
                                   fix_key="keys_dirs")
    tracks: list[TargetTrack] = []
    problems: dict[str, list[str]] = {f"have no key file in {keys_dir}": [], "have an unusable key": []}
    for path in audio_files(audio_dir, recursive=False):
        key_file = next((keys_dir / f"{path.stem}{ext}" for ext in KEY_EXTENSIONS
                         if (keys_dir / f"{path.stem}{ext}").is_file()), None)
        if key_file is None:
            problems[f"have no key file in {keys_dir}"].append(path.name)
            continue
        key = read_key(key_file)
        if key is None:
            first = key_file.read_text(encoding="utf-8-sig", errors="replace").strip()[:40]
            problems["have an unusable key"].append(f"{path.stem} ({first!r})")
            continue
        tracks.append(TargetTrack(track_id=track_id(path.stem), path=path, label=key, split=None))
    for problem, items in problems.items():
        if items:
            log.warning("target %s: %d track(s) %s and are left out (e.g. %s)", options.name, len(items), problem,
                        ", ".join(items[:5]))
    if not tracks:
        raise options.layout_error(f"no audio file in {audio_dir} has a usable key file in {keys_dir}")
    duplicated = sorted(i for i, n in Counter(t.track_id for t in tracks).items() if n > 1)
    if duplicated:
        raise options.layout_error(f"track id(s) {', '.join(duplicated[:5])} name two audio files in {audio_dir}; "
                                   "keep one copy of each")
    tracks.sort(key=lambda t: (not t.track_id.isdigit(), int(t.track_id) if t.track_id.isdigit() else 0, t.track_id))
    return TargetIndex(name=options.name, loader="giantsteps_key", task="classification", metric="accuracy",
                       tracks=tracks, classes=sorted_classes([t.label for t in tracks]),
                       test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION),
                       extra_metrics=options.extra_metrics())


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """A key-stratified random split per repetition (``index.test_fraction`` held out), seeded
    by ``(seed, repetition)``."""
    return stratified_splits(index, n_repetitions=n_repetitions, seed=seed)
