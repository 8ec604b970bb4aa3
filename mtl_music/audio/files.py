"""Which files are audio: the one scan of an audio folder, used by dataset folders
(:func:`mtl_music.data.manifest.scan_audio_dir`), ``mtl_music.embed`` inputs and the target loaders
(:mod:`mtl_music.targets.class_folders`, :mod:`mtl_music.targets.folder`)."""

from __future__ import annotations

import os
from pathlib import Path

from mtl_music.audio.io import AUDIO_EXTENSIONS


def is_audio_file(path: Path) -> bool:
    """A visible file (its name does not start with ``.``) with one of
    :data:`~mtl_music.audio.io.AUDIO_EXTENSIONS`."""
    return not path.name.startswith(".") and path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()


def audio_files(folder: str | os.PathLike, *, recursive: bool) -> list[Path]:
    """The audio files in ``folder``, sorted by path: every file below it (``recursive=True``) or only
    those directly inside it. Hidden files and anything under a hidden folder (a part of the path
    relative to ``folder`` starting with ``.``) are skipped."""
    root = Path(folder)
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(
        path for path in candidates
        # the cheap name checks first: is_file costs a stat
        if path.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
        and path.is_file()
    )
