"""Worker processes: the one way mtl_music runs work in other processes.

Every process pool of the package (demo-corpus rendering, the mel cache, the MFCC baseline,
the bootstrap, and any later one) is a :class:`WorkerPool`. It

- starts its workers with ``spawn``: a *forked* child of a parent that has used torch's GNU
  OpenMP pool deadlocks at its first parallel torch op (libgomp is not fork-safe), and the
  parent has always used it by the time a pool starts (training, mel front end);
- gives every worker one torch / OpenMP / BLAS thread (N workers on N cores, not N × cores);
- refuses to start inside a spawned child that is re-importing an unguarded main script
  (which would otherwise start pools recursively or wait forever on its parent's lock);
- turns a worker that dies into a :class:`WorkerDied` error naming the task and what was in
  flight, never a hang;
- also starts inside a process of another library's pool, e.g. a job of Hydra's joblib launcher
  (a loky worker, whose default start method ``loky`` a plain spawned child cannot resolve).

DataLoader workers are the one exception: torch makes its own forked workers safe.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from mtl_music.errors import DataError

#: ``spawn`` everywhere: the one start method that is safe after torch has started threads.
START_METHOD = "spawn"
#: The start methods a freshly spawned interpreter knows without importing anything.
_STDLIB_START_METHODS = ("spawn", "fork", "forkserver")
#: Thread-count variables read by OpenMP, OpenBLAS, MKL and numexpr when a worker loads them.
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")

_GUARD_HINT = ("put the code that starts it under `if __name__ == \"__main__\":` (worker processes are spawned "
               "and re-import the main script)")


class WorkerDied(DataError):
    """A worker process of a pool died (crashed, was killed, or failed while starting)."""


def in_spawn_bootstrap() -> bool:
    """Whether this process is a spawned child still importing its parent's main script."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def refuse_during_spawn_bootstrap(task: str) -> None:
    """Raises :class:`DataError` when ``task`` is started at import time of a spawned child.

    A script without an ``if __name__ == "__main__":`` guard is re-run by every spawned worker;
    such a worker would start pools of its own or wait forever for a lock its parent holds.
    """
    if in_spawn_bootstrap():
        raise DataError(f"{task} was started while a worker process was importing the main script: the script "
                        f"runs it at import time. {_GUARD_HINT[0].upper()}{_GUARD_HINT[1:]}.")


@contextmanager
def single_threaded_children() -> Iterator[None]:
    """Processes started inside inherit one OpenMP/BLAS thread; this process's environment is
    restored on exit (its own thread pools were sized when they started and are unaffected)."""
    saved = {name: os.environ.get(name) for name in THREAD_ENV}
    os.environ.update({name: "1" for name in THREAD_ENV})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def stdlib_start_method() -> Iterator[None]:
    """Processes spawned inside are told a start method of the standard library.

    A spawned child re-applies its parent's *default* start method before anything else; inside a
    loky worker (a job of Hydra's joblib launcher) that is ``loky``, which the child has not
    imported, so it dies with ``cannot find context for 'loky'``. The parent's default is
    restored on exit.
    """
    saved = multiprocessing.get_start_method(allow_none=True)
    if saved is None or saved in _STDLIB_START_METHODS:
        yield
        return
    multiprocessing.set_start_method(START_METHOD, force=True)
    try:
        yield
    finally:
        multiprocessing.set_start_method(saved, force=True)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Runs the body with one torch intra-op thread, as a worker does; restores the setting.

    Per-track tensors are too small for intra-op threads to pay, and on a busy machine they
    cost several times more (``benchmarks/bench_frontend.py``).
    """
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


_LIMITS: Any = None  # the worker's threadpoolctl limit, kept alive for the worker's lifetime


def _start_worker(initializer: Callable | None, initargs: tuple) -> None:
    """First thing a worker runs: one thread everywhere, then the pool's own initializer."""
    global _LIMITS
    import sys

    if "torch" in sys.modules:  # imported by the parent's main module; otherwise the env var holds
        sys.modules["torch"].set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        _LIMITS = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    if initializer is not None:
        initializer(*initargs)


class WorkerPool:
    """``num_workers`` spawned single-threaded worker processes for one named ``task``.

    Use it as a context manager; :meth:`map` and :meth:`submit` + :meth:`result` raise
    :class:`WorkerDied` (naming ``task``, what was in flight and ``hint``) when a worker dies.
    Workers start on first submit; the pool is closed (and its workers joined) on exit.
    """

    def __init__(self, num_workers: int, *, task: str, initializer: Callable | None = None,
                 initargs: tuple = (), hint: str = "") -> None:
        if int(num_workers) < 1:
            raise ValueError(f"a WorkerPool needs >= 1 worker, got {num_workers}; compute in-process instead")
        refuse_during_spawn_bootstrap(task)
        self.num_workers = int(num_workers)
        self.task = task
        self.hint = hint
        self._executor: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=self.num_workers, mp_context=multiprocessing.get_context(START_METHOD),
            initializer=_start_worker, initargs=(initializer, tuple(initargs)),
        )

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Cancels what has not started, waits for the rest; safe to call twice."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def submit(self, fn: Callable, /, *args: Any) -> Future:
        """Schedules ``fn(*args)``; a worker it starts inherits one thread per library."""
        if self._executor is None:
            raise RuntimeError(f"the worker pool of {self.task} is closed")
        # Workers are started by submit: keep the environment and the start method until then.
        with single_threaded_children(), stdlib_start_method():
            try:
                return self._executor.submit(fn, *args)
            except BrokenProcessPool as err:
                raise self.died(err) from err

    def result(self, future: Future, *, in_flight: str = "") -> Any:
        """``future.result()``, with a dead worker turned into :class:`WorkerDied`."""
        try:
            return future.result()
        except BrokenProcessPool as err:
            raise self.died(err, in_flight=in_flight) from err

    def map(self, fn: Callable, items: Iterable, *, chunksize: int = 1) -> list:
        """``[fn(item) for item in items]`` in order, spread over the workers in chunks."""
        items = list(items)
        chunks = [items[i:i + max(1, chunksize)] for i in range(0, len(items), max(1, chunksize))]
        futures = [self.submit(_apply_chunk, fn, chunk) for chunk in chunks]
        out: list = []
        for index, future in enumerate(futures):
            out.extend(self.result(future, in_flight=f"working on chunk {index + 1} of {len(chunks)}"))
        return out

    def died(self, err: BaseException, *, in_flight: str = "") -> WorkerDied:
        """The error for a worker that died; the pool cannot be used afterwards."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        parts = [f"a worker process of {self.task} died"]
        if in_flight:
            parts.append(f" while {in_flight}")
        parts.append(f" ({err}). ")
        parts.append(self.hint + " " if self.hint else "")
        parts.append(f"If a script of yours starts this at import time, {_GUARD_HINT}.")
        return WorkerDied("".join(parts))


def _apply_chunk(fn: Callable, chunk: list) -> list:
    return [fn(item) for item in chunk]


__all__ = ["START_METHOD", "WorkerDied", "WorkerPool", "in_spawn_bootstrap", "one_torch_thread",
           "refuse_during_spawn_bootstrap", "single_threaded_children", "stdlib_start_method"]
