"""Atomic, resumable on-disk state of a corpus build: audio files, per-track records, markers.

Every file is written through :func:`mtl_music.atomic.atomic_path` (a temporary name in its
destination folder, then a rename), so an interrupted build never leaves a half-written file
under a final name. A track is done when its audio file *and* its record (JSON, written after the
audio) exist and the record carries the current render fingerprint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mtl_music.atomic import atomic_path, write_text_atomic
from mtl_music.errors import DataError

#: soundfile format and subtype per audio extension written by the corpus.
AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "ogg": ("OGG", "VORBIS"),
    "flac": ("FLAC", "PCM_16"),
    "wav": ("WAV", "PCM_16"),
}


def write_json_atomic(path: Path, payload: Any) -> None:
    """Writes ``payload`` as JSON (UTF-8, sorted keys) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1) + "\n")


def read_json(path: Path) -> Any | None:
    """The JSON content of ``path``, or ``None`` when it is missing or unreadable (torn)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_audio_atomic(path: Path, audio: np.ndarray, *, sample_rate: int) -> None:
    """Encodes float32 ``audio`` (``(n,)`` mono or ``(n, channels)``) to ``path`` atomically.

    The format follows the extension (:data:`AUDIO_FORMATS`).
    """
    extension = path.suffix.lstrip(".").lower()
    if extension not in AUDIO_FORMATS:
        raise DataError(f"cannot write audio as {path.name}: the corpus writes {', '.join(AUDIO_FORMATS)} files")
    import soundfile as sf

    file_format, subtype = AUDIO_FORMATS[extension]
    with atomic_path(path) as temp:
        sf.write(temp, np.clip(audio, -1.0, 1.0), sample_rate, format=file_format, subtype=subtype)


def record_is_current(record: dict | None, *, fingerprint: str, audio_path: Path | None) -> bool:
    """True when ``record`` was written by a build with ``fingerprint`` and its audio exists.

    Failure records (``status == "failed"``) are current without audio: a work that music21
    cannot parse fails the same way every time, so it is not retried with the same settings.
    """
    if not record or record.get("fingerprint") != fingerprint:
        return False
    if record.get("status") == "failed":
        return True
    return audio_path is not None and audio_path.is_file()
