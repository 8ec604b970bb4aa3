"""IRMAS training set, predominant-instrument classification (Bosch et al. 2012), R6.4.

Layout under ``root`` (the extracted ``IRMAS-TrainingData`` folder): one folder per instrument,
``cel cla flu gac gel org pia sax tru vio voi`` (11 classes), holding 3-second excerpts named
``[<instr>][<genre>]<NNNN>__<K>.wav`` or with drums and a numeric prefix,
``<PPP>__[<instr>][<drums>][<genre>]<NNNN>__<K>.wav``.

Song rule: ``__<K>`` at the end of the stem numbers the excerpts cut from one recording, so the
song is the stem without that last ``__<K>`` (``[cel][cla]0001__2.wav`` → ``[cel][cla]0001``,
``008__[cel][nod][cla]0058__1.wav`` → ``008__[cel][nod][cla]0058``). The song key ignores the
folder, so identical names under two instruments count as one song (the safe side for leakage).
A stem without a ``__<K>`` suffix is a song of its own.

No split exists: ``splits()`` draws a label-stratified split per repetition that keeps each
song's excerpts on one side (the paper splits "so that observations from the same music track
are not split into training and test sets").
"""

from __future__ import annotations

import logging
import re
from typing import Any

from mtl_music.targets.base import DEFAULT_TEST_FRACTION, Split, TargetIndex, TargetTrack, group_stratified_splits
from mtl_music.targets.class_folders import class_folders, require_unique_stems
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("<instr>/[<instr>][<genre>]<NNNN>__<K>.wav with the 11 instrument folders "
          "cel cla flu gac gel org pia sax tru vio voi (the extracted IRMAS-TrainingData folder)")

INSTRUMENTS = ("cel", "cla", "flu", "gac", "gel", "org", "pia", "sax", "tru", "vio", "voi")

# The excerpt number at the end of a stem: "__" then digits.
_EXCERPT_SUFFIX = re.compile(r"__\d+$")


def song_key(stem: str) -> str | None:
    """The recording an excerpt comes from: ``stem`` without its trailing ``__<K>``, or ``None``
    when the stem has no such suffix."""
    match = _EXCERPT_SUFFIX.search(stem)
    return stem[: match.start()] if match and match.start() > 0 else None


def load_index(cfg: Any) -> TargetIndex:
    """Reads the IRMAS training set (keys: ``name``, ``root``, ``classes``, ``test_fraction``).

    Returns a classification :class:`TargetIndex` sorted by id (``"<instr>/<stem>"``), each
    track grouped by :func:`song_key`, without split.
    """
    options = TargetOptions(cfg, dataset="IRMAS-TrainingData", layout=LAYOUT)
    root = options.root()
    folders = class_folders(root, classes=options.names("classes") or INSTRUMENTS, options=options)
    require_unique_stems(folders, options=options)
    tracks, unsuffixed = [], []
    for cls, paths in folders.items():
        for path in paths:
            key = song_key(path.stem)
            if key is None:
                unsuffixed.append(f"{cls}/{path.name}")
            tracks.append(TargetTrack(track_id=f"{cls}/{path.stem}", path=path, label=cls, split=None,
                                      group=key if key is not None else f"{cls}/{path.stem}"))
    if unsuffixed:
        log.warning("target %s: %d file name(s) lack the '__<K>' excerpt suffix, each is taken as a song of its own "
                    "(e.g. %s)", options.name, len(unsuffixed), ", ".join(unsuffixed[:5]))
    tracks.sort(key=lambda t: t.track_id)
    n_songs = len({t.group for t in tracks})
    log.info("target %s: %d excerpts from %d songs", options.name, len(tracks), n_songs)
    return TargetIndex(name=options.name, loader="irmas", task="classification", metric="accuracy",
                       tracks=tracks, classes=tuple(sorted(folders)),
                       test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION))


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """A label-stratified split per repetition that keeps every song on one side (about
    ``index.test_fraction`` held out), seeded by ``(seed, repetition)``."""
    return group_stratified_splits(index, n_repetitions=n_repetitions, seed=seed)
