"""Replacing a file atomically: write a temporary file beside it, then rename it over it.

An error or a crash leaves the old file or the new one under the final name, never a
half-written one. The temporary file is ``.<name>.<random><suffix>`` in the destination folder
(unique per writer, and on the same file system, so the rename is atomic); on success it gets
the permissions of an ordinary new file (0666 minus the umask; ``mkstemp`` makes it private).
Every module that writes a file others read (caches, stores, label files, results, exports)
goes through :func:`atomic_path`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once: os.umask can only be read by setting it, which is not thread-safe to repeat.
_FILE_MODE = 0o666 & ~_current_umask()

#: Default suffix of temporary files ("partial").
TEMP_SUFFIX = ".part"


@contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False, suffix: str = TEMP_SUFFIX) -> Iterator[Path]:
    """Yields an empty temporary file beside ``path`` to write; when the block ends without an
    error it replaces ``path`` (after an ``fsync`` of its content when ``fsync``), otherwise it
    is removed. ``suffix``: end of the temporary name (``".part.npz"`` for ``numpy.savez``,
    which would append ``.npz`` otherwise). Creates ``path``'s folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, _FILE_MODE)
        if fsync:
            with open(temp, "rb") as written:
                os.fsync(written.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Writes ``data`` to ``path`` through :func:`atomic_path`."""
    with atomic_path(path, fsync=fsync) as temp:
        temp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str, *, fsync: bool = False) -> None:
    """Writes UTF-8 ``text`` to ``path`` through :func:`atomic_path` (line endings as given)."""
    write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)
