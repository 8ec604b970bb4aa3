"""Extended Ballroom dance-style classification (Marchand & Peeters 2016), R6.4.

Layout under ``root``: one folder per dance type with its audio files, ``<Type>/<id>.mp3``
(13 types in ``extendedballroom_v1.1``: Chacha, Foxtrot, Jive, Pasodoble, Quickstep, Rumba,
Salsa, Samba, Slowwaltz, Tango, Viennesewaltz, Waltz, Wcswing). Track id ``"<Type>/<stem>"``.
``classes: null`` takes every visible subfolder as a class, except those named in
``ignore_folders`` (the demo's ``records/``); files in ``root`` (the demo's ``meta.tsv``) are ignored.

No split exists: ``splits()`` draws a stratified random 80/20 split per repetition (the paper's
"stratified random sampling based on the genre label"). The demo target ``demo_dance`` uses
this loader on its own ``<Type>/<id>.wav`` folders.
"""

from __future__ import annotations

from typing import Any

from mtl_music.targets.base import DEFAULT_TEST_FRACTION, Split, TargetIndex, TargetTrack, stratified_splits
from mtl_music.targets.class_folders import class_folders, require_unique_stems
from mtl_music.targets.options import TargetOptions

LAYOUT = "<Type>/<id>.<ext> (one folder per dance type holding its audio files)"


def load_index(cfg: Any) -> TargetIndex:
    """Reads a class-per-folder target (keys: ``name``, ``root``, ``classes``, ``ignore_folders``,
    ``test_fraction``).

    Returns a classification :class:`TargetIndex` of every audio file in the class folders,
    sorted by id, without split. An empty class folder or a root without class folders is a
    DataError.
    """
    options = TargetOptions(cfg, dataset="ExtendedBallroom", layout=LAYOUT)
    root = options.root()
    folders = class_folders(root, classes=options.names("classes"), options=options,
                            ignored=options.names("ignore_folders") or ())
    require_unique_stems(folders, options=options)
    tracks = [TargetTrack(track_id=f"{cls}/{path.stem}", path=path, label=cls, split=None)
              for cls, paths in folders.items() for path in paths]
    tracks.sort(key=lambda t: t.track_id)
    return TargetIndex(name=options.name, loader="ballroom", task="classification", metric="accuracy",
                       tracks=tracks, classes=tuple(sorted(folders)),
                       test_fraction=options.fraction("test_fraction", DEFAULT_TEST_FRACTION))


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """A stratified random split per repetition (``index.test_fraction`` held out), seeded by
    ``(seed, repetition)``."""
    return stratified_splits(index, n_repetitions=n_repetitions, seed=seed)
