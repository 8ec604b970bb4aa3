"""Atomic, resumable on-disk state of a corpus build: audio files, per-track records, markers.

Every file is written under a temporary name in its destination folder and renamed into
place (``os.replace``), so an interrupted build never leaves a half-written file under a
final name. A track is done when its audio file *and* its record (JSON, written after the
audio) exist and the record carries the current render fingerprint.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mtl_music.errors import DataError

#: soundfile format and subtype per audio extension written by the corpus.
AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "ogg": ("OGG", "VORBIS"),
    "flac": ("FLAC", "PCM_16"),
    "wav": ("WAV", "PCM_16"),
}


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; finished files get the usual permissions (0666 minus the umask).
_FILE_MODE = 0o666 & ~_current_umask()


def _temp_path(path: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    os.chmod(name, _FILE_MODE)
    return Path(name)


def temp_path_for(path: Path) -> Path:
    """An empty temporary file beside ``path`` (same folder, so a rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _temp_path(path)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path)
    try:
        with temp.open("wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Writes UTF-8 ``text`` to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


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
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path(path)
    try:
        sf.write(temp, np.clip(audio, -1.0, 1.0), sample_rate, format=file_format, subtype=subtype)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


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
