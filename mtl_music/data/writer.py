"""The one writer of a mel cache: an append-only journal that survives being killed at any point.

Protocol (per group of entries): append the mel rows to ``mels.f16``, flush and fsync; only
then append one line per entry to ``index.tsv``, flush and fsync. An index line therefore only
ever names rows that are already on disk. Each line ends with a CRC-32 of its fields and a line
break, so a torn last line (killed mid-write) is recognised and ignored. On open, the index is
cut after its last valid line and the data file after the last valid entry's rows: whatever a
killed run left half-written is discarded, and everything complete is kept.

A lock file (``fcntl.flock``) makes a second concurrent ``prepare`` of the same cache wait.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from mtl_music.atomic import write_text_atomic
from mtl_music.audio.mel import MelSettings
from mtl_music.data.cache import (
    DATA_FILE,
    DTYPE,
    INDEX_FILE,
    LOCK_FILE,
    N_CHANNELS,
    SETTINGS_FILE,
    clean_field,
    read_settings,
    settings_payload,
)
from mtl_music.errors import DataError

log = logging.getLogger(__name__)
_N_FIELDS = 8  # track_id offset n_frames floor size mtime_ns notes crc


@dataclass(frozen=True)
class IndexEntry:
    """One journal line: track ``track_id`` occupies rows ``[offset, offset + n_frames)``.

    ``floor``: its minimum dB value (the padding value). ``size``/``mtime_ns``: the audio
    file's stat when it was computed (a changed file is recomputed). ``notes``: what prepare
    noted (resampled, padded, ...), ``"; "``-joined.
    """

    track_id: str
    offset: int
    n_frames: int
    floor: float
    size: int
    mtime_ns: int
    notes: str = ""

    def line(self) -> bytes:
        fields = "\t".join(
            [self.track_id, str(self.offset), str(self.n_frames), repr(float(self.floor)), str(self.size),
             str(self.mtime_ns), clean_field(self.notes)]
        )
        return f"{fields}\t{zlib.crc32(fields.encode()):08x}\n".encode()

    @classmethod
    def parse(cls, raw: bytes) -> "IndexEntry | None":
        """The entry of one complete line (without its line break), or ``None`` when it is damaged."""
        try:
            text = raw.decode()
            fields, _, crc = text.rpartition("\t")
            if f"{zlib.crc32(fields.encode()):08x}" != crc:
                return None
            parts = fields.split("\t")
            if len(parts) != _N_FIELDS - 1:
                return None
            return cls(parts[0], int(parts[1]), int(parts[2]), float(parts[3]), int(parts[4]), int(parts[5]), parts[6])
        except (UnicodeDecodeError, ValueError):
            return None


class CacheWriter:
    """Opens (creating or recovering) a cache folder for appending. Use as a context manager.

    ``entries``: the valid entries, latest per track id (a track recomputed after its file
    changed has a newer entry; the old rows stay unused).
    """

    def __init__(self, directory: str | os.PathLike, settings: MelSettings) -> None:
        self.path = Path(directory)
        self.settings = settings
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path / LOCK_FILE, "a+")
        _acquire(self._lock, self.path)
        try:
            self._check_settings()
            self.recovered = self._recover()
        except BaseException:
            self.close()
            raise
        self._broken = False
        self._data = open(self.path / DATA_FILE, "ab")
        self._index = open(self.path / INDEX_FILE, "ab")

    @property
    def broken(self) -> bool:
        """True after an append failed midway (reopen the cache to recover)."""
        return self._broken

    @property
    def frame_bytes(self) -> int:
        return N_CHANNELS * self.settings.n_mels * DTYPE.itemsize

    def _check_settings(self) -> None:
        if (self.path / SETTINGS_FILE).exists():
            found = read_settings(self.path)
            if found != self.settings:
                raise DataError(f"mel cache {self.path} holds {found}, not {self.settings}; delete the folder")
        else:
            write_text_atomic(self.path / SETTINGS_FILE, json.dumps(settings_payload(self.settings), indent=2) + "\n", fsync=True)

    def _recover(self) -> dict[str, int]:
        """Reads the index, drops a torn or damaged tail, and cuts the data file to match.

        Returns counts of what was dropped (``index_bytes``, ``data_rows``)."""
        index_file, data_file = self.path / INDEX_FILE, self.path / DATA_FILE
        raw = index_file.read_bytes() if index_file.exists() else b""
        data_rows = (data_file.stat().st_size if data_file.exists() else 0) // self.frame_bytes
        data_bytes = data_file.stat().st_size if data_file.exists() else 0
        self.entries: dict[str, IndexEntry] = {}
        self.n_lines = 0
        end_rows, valid_bytes, position = 0, 0, 0
        while True:
            newline = raw.find(b"\n", position)
            if newline < 0:
                break  # no line break: a torn last line (or nothing)
            entry = IndexEntry.parse(raw[position:newline])
            # Entries are appended back to back; anything else means damage from here on.
            if entry is None or entry.offset != end_rows or entry.offset + entry.n_frames > data_rows or entry.n_frames <= 0:
                break
            self.entries[entry.track_id] = entry
            self.n_lines += 1
            end_rows = entry.offset + entry.n_frames
            position = valid_bytes = newline + 1
        dropped = {"index_bytes": len(raw) - valid_bytes, "data_rows": data_rows - end_rows}
        if valid_bytes < len(raw):
            log.warning("mel cache %s: dropping %d byte(s) of torn/damaged index after %d valid entries",
                        self.path, len(raw) - valid_bytes, self.n_lines)
            with open(index_file, "r+b") as handle:
                handle.truncate(valid_bytes)
                os.fsync(handle.fileno())
        if data_bytes != end_rows * self.frame_bytes:
            if data_rows > end_rows:
                log.warning("mel cache %s: dropping %d unindexed row(s) left by an interrupted prepare",
                            self.path, data_rows - end_rows)
            with open(data_file, "r+b") as handle:
                handle.truncate(end_rows * self.frame_bytes)
                os.fsync(handle.fileno())
        self.end_rows = end_rows
        return dropped

    def append(self, items: Sequence[tuple[str, np.ndarray, float, int, int, str]]) -> list[IndexEntry]:
        """Appends a group of entries ``(track_id, mel, floor, size, mtime_ns, notes)``, ``mel``
        shaped ``(n_frames, 2, n_mels)`` float16, durably (data fsynced before the index)."""
        if not items:
            return []
        if self._broken:
            raise DataError(f"mel cache {self.path}: an earlier append failed; reopen the cache (prepare again) to recover it")
        try:
            return self._append(items)
        except BaseException:
            # The files may now hold a partial group; the next open cuts it off (see _recover).
            self._broken = True
            raise

    def _append(self, items: Sequence[tuple[str, np.ndarray, float, int, int, str]]) -> list[IndexEntry]:
        entries = []
        offset = self.end_rows
        for track_id, mel, floor, size, mtime_ns, notes in items:
            if mel.ndim != 3 or mel.shape[1:] != (N_CHANNELS, self.settings.n_mels) or mel.shape[0] <= 0:
                raise ValueError(f"mel of {track_id!r} has shape {mel.shape}, expected (n_frames>0, {N_CHANNELS}, {self.settings.n_mels})")
            self._write_data(np.ascontiguousarray(mel, dtype=DTYPE))
            entries.append(IndexEntry(track_id, offset, int(mel.shape[0]), float(floor), int(size), int(mtime_ns), notes))
            offset += int(mel.shape[0])
        _sync(self._data)
        self._write_index(b"".join(entry.line() for entry in entries))
        _sync(self._index)
        for entry in entries:
            self.entries[entry.track_id] = entry
        self.n_lines += len(entries)
        self.end_rows = offset
        return entries

    def _write_data(self, mel: np.ndarray) -> None:
        self._data.write(mel.tobytes())

    def _write_index(self, lines: bytes) -> None:
        self._index.write(lines)

    def close(self) -> None:
        for name in ("_data", "_index"):
            handle = getattr(self, name, None)
            if handle is not None and not handle.closed:
                handle.close()
        if not self._lock.closed:
            _release(self._lock)
            self._lock.close()

    def __enter__(self) -> "CacheWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _sync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


@contextmanager
def exclusive_lock(lock_file: str | os.PathLike, *, what: str) -> Iterator[None]:
    """Holds an exclusive ``flock`` on ``lock_file`` (created) for the body; another process
    waits here until it is released. ``what`` names the locked thing in the waiting message."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        _acquire(handle, lock_file.parent, what=what)
        try:
            yield
        finally:
            _release(handle)


def _acquire(handle, path: Path, *, what: str = "mel cache") -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no advisory locks on this platform
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log.warning("%s %s is being written by another prepare; waiting for it to finish", what, path)
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    except OSError as err:  # e.g. some network file systems have no flock
        log.warning("cannot lock %s %s (%s); do not run two prepares of it at once", what, path, err)


def _release(handle) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass  # never locked (see _acquire); closing the file releases any lock anyway
