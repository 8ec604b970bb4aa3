"""One process builds an artefact, the others wait for it: an advisory lock per artefact.

Jobs that start together on one data root (sweep jobs on a cluster, DDP ranks under
``torchrun``) each find the corpus, the mel caches and the source stores missing. Every builder
follows the same pattern::

    if is_complete(path):                 # fast path: nothing to build, nothing locked
        return load(path)
    with exclusive(path, what="the tag source store"):
        if is_complete(path):             # built by the process we waited for: reuse it
            return load(path)
        build, then write through mtl_music.atomic (never a torn file)

:func:`exclusive` holds ``fcntl.flock`` on ``<path>.lock`` (a path whose name already ends in
``.lock`` is the lock file itself). A process that has to wait logs ``waiting for another
process building <what>``. The lock file stays behind (deleting it would let a third process
lock a new file while a second still waits on the old one); it is empty.

Where no lock can be taken (no ``fcntl`` on the platform, a file system without ``flock``, a
read-only data root) a warning says so once per lock file and the block runs unlocked: every
write is still atomic, so concurrent jobs can at worst compute the same artefact twice.

The lock is per thread and re-entrant within one thread (a nested ``exclusive`` of the same
path does not deadlock); another thread of the same process waits like another process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

#: Suffix of lock files.
LOCK_SUFFIX = ".lock"

_held: dict[tuple[int, str], int] = {}  # (thread, lock file) -> depth
_held_guard = threading.Lock()
_warned: set[str] = set()


def lock_file(path: str | os.PathLike) -> Path:
    """The lock file of ``path``: ``<path>.lock``, or ``path`` itself when it ends in ``.lock``."""
    path = Path(path)
    return path if path.name.endswith(LOCK_SUFFIX) else path.with_name(path.name + LOCK_SUFFIX)


def _warn_unlocked(lock: Path, what: str, reason: str) -> None:
    key = str(lock)
    if key in _warned:
        return
    _warned.add(key)
    log.warning("cannot lock %s (%s): building %s without a lock; two jobs sharing this data root may "
                "compute it twice (the files are still written atomically)", lock, reason, what)


@contextmanager
def exclusive(path: str | os.PathLike, *, what: str) -> Iterator[None]:
    """Holds the exclusive lock of ``path`` (see the module docstring) for the ``with`` block.

    ``what``: the artefact in words, for the log (``"the demo corpus in /data/demo"``).
    Creates the lock file's folder. Refuses (:class:`~mtl_music.errors.DataError`) inside a spawned
    worker that is still importing an unguarded main script: its parent holds the lock, and the
    worker would wait for it forever.
    """
    from mtl_music.workers import refuse_during_spawn_bootstrap

    refuse_during_spawn_bootstrap(f"building {what}")
    lock = lock_file(path)
    key = (threading.get_ident(), str(lock.absolute()))
    with _held_guard:
        depth = _held.get(key, 0)
        if depth:
            _held[key] = depth + 1
    if depth:  # this thread holds it already
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    handle = _open_and_lock(lock, what)
    with _held_guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _held_guard:
            del _held[key]
        if handle is not None:
            _unlock(handle)


def _open_and_lock(lock: Path, what: str):
    """The open, locked lock file, or ``None`` when no lock can be had (warned)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - e.g. Windows
        _warn_unlocked(lock, what, "this platform has no fcntl.flock")
        return None
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a+b")
    except OSError as err:  # read-only data root, ...
        _warn_unlocked(lock, what, str(err))
        return None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process building %s (lock %s)", what, lock)
            started = time.monotonic()
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            log.info("done waiting for %s (%.1f s)", what, time.monotonic() - started)
    except OSError as err:  # e.g. a network file system without flock
        handle.close()
        _warn_unlocked(lock, what, str(err))
        return None
    except BaseException:
        handle.close()
        raise
    return handle


def _unlock(handle) -> None:
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass  # closing the file releases the lock anyway
    finally:
        handle.close()
