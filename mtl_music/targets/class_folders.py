"""Class-per-folder layouts (``<root>/<class>/<audio files>``): which class folders there are and
which audio files each holds. Used by the GTZAN, Extended Ballroom and IRMAS loaders."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

from mtl_music.audio.files import audio_files, is_audio_file
from mtl_music.audio.io import AUDIO_EXTENSIONS
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)


def class_folders(audio_dir: Path, *, classes: Sequence[str] | None, options: TargetOptions,
                  ignored: Sequence[str] = ()) -> dict[str, list[Path]]:
    """Maps each class to its audio files under ``audio_dir/<class>/``.

    Args:
        audio_dir: the folder holding one subfolder per class.
        classes: the expected class names; ``None`` takes every visible subfolder as a class.
        options: the target's options (names the config keys in errors).
        ignored: subfolders that are not classes (configured, so skipped without a message).

    Returns:
        ``{class name: sorted audio paths}`` in sorted class order; every list is non-empty.

    Raises:
        DataError: no class folder at all, an expected class folder is missing, or a class
            folder holds no audio file. Subfolders that are not expected classes are logged and
            ignored; audio files lying directly in ``audio_dir`` are logged and ignored.
    """
    found = sorted(p.name for p in audio_dir.iterdir()
                   if p.is_dir() and not p.name.startswith(".") and p.name not in ignored)
    if classes is None:
        if not found:
            loose = sum(1 for p in audio_dir.iterdir() if is_audio_file(p))
            hint = f" ({loose} audio files lie directly in it: they must be sorted into class folders)" if loose else ""
            raise options.layout_error(f"{audio_dir} holds no class folder{hint}")
        selected = found
    else:
        missing = [c for c in classes if c not in found]
        if missing:
            raise options.layout_error(
                f"class folder(s) {', '.join(missing)} missing in {audio_dir} (found: {', '.join(found) or 'none'})")
        extra = [name for name in found if name not in classes]
        if extra:
            log.warning("target %s: ignoring folder(s) %s in %s: not among %s", options.name,
                        ", ".join(extra), audio_dir, options.key("classes"))
        selected = sorted(set(classes))
    loose = [p.name for p in audio_dir.iterdir() if is_audio_file(p)]
    if loose:
        log.warning("target %s: ignoring %d audio file(s) directly in %s (e.g. %s); only class folders are read",
                    options.name, len(loose), audio_dir, loose[0])
    # Subfolders are not searched: none of these datasets nests audio deeper.
    files = {name: audio_files(audio_dir / name, recursive=False) for name in selected}
    empty = [name for name, paths in files.items() if not paths]
    if empty:
        raise options.layout_error(f"class folder(s) {', '.join(str(audio_dir / n) for n in empty)} hold no audio file "
                                   f"({', '.join(sorted(AUDIO_EXTENSIONS))})")
    return files


def require_unique_stems(files: dict[str, list[Path]], *, options: TargetOptions) -> None:
    """Raises :class:`~mtl_music.errors.DataError` when one class folder holds two audio files
    with the same stem (``x.wav`` and ``x.mp3``): track ids are ``<class>/<stem>``."""
    duplicated = [f"{cls}/{stem}" for cls, paths in files.items()
                  for stem, n in Counter(p.stem for p in paths).items() if n > 1]
    if duplicated:
        raise options.layout_error(f"{len(duplicated)} file name(s) exist with two audio extensions "
                                   f"(e.g. {', '.join(duplicated[:5])}); keep one copy of each")
