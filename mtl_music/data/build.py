"""Dataset → mel cache: the engine behind ``python -m mtl_music.prepare``.

:func:`build_cache` computes every track that is not yet in the cache (or whose audio file
changed since), in worker processes, while this process alone appends the results through a
:class:`~mtl_music.data.writer.CacheWriter`. A killed run resumes where it stopped; skipped
files are tried again on the next run (they may have been fixed), computed entries never are.
At the end it writes the dataset view (``tracks.tsv``), the training-split band statistics
(``stats.npz``, recomputed only when the training set changed) and the report (``report.tsv``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from mtl_music.atomic import write_text_atomic
from mtl_music.audio.io import SILENCE_DBFS
from mtl_music.audio.mel import MelSettings, mel_filter_bank
from mtl_music.data.cache import (
    DATA_FILE,
    DTYPE,
    N_CHANNELS,
    REPORT_FILE,
    STATS_FILE,
    TRACKS_COLUMNS,
    TRACKS_FILE,
    clean_field,
    train_key,
)
from mtl_music.data.entry import PADDED_NOTE, SHORT_POLICIES, EntryOutcome, EntryTask, compute_entry, init_worker
from mtl_music.data.manifest import SPLITS, TrackEntry
from mtl_music.data.stats import band_moments, save_stats, stored_train_key
from mtl_music.data.writer import CacheWriter, IndexEntry
from mtl_music.errors import ConfigError, DataError
from mtl_music.workers import WorkerPool, one_torch_thread, refuse_during_spawn_bootstrap

log = logging.getLogger(__name__)

REPORT_COLUMNS = ("track_id", "path", "status", "reason", "detail")
#: Fewer tracks to compute than this run in this process: starting worker processes (spawn,
#: imports) costs ~2–3 s, the time to compute ~30 tracks (``benchmarks/bench_prepare.py``).
MIN_TRACKS_FOR_WORKERS = 16


@dataclass(frozen=True)
class ReportRow:
    """A line of ``report.tsv``: ``status`` is ``skipped`` or ``note``."""

    track_id: str
    path: str
    status: str
    reason: str
    detail: str


@dataclass
class PrepareResult:
    """What a prepare run did. ``cache_dir`` is the folder :class:`MelCache` opens."""

    cache_dir: Path
    n_listed: int
    n_usable: int
    n_computed: int
    n_reused: int
    splits: dict[str, int]
    skipped: list[ReportRow]
    notes: list[ReportRow]
    report_path: Path
    stats_path: Path
    stats_recomputed: bool
    seconds: float
    n_orphans: int = 0
    recovered: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """A few human-readable lines (printed by ``python -m mtl_music.prepare``)."""
        lines = [
            f"mel cache: {self.cache_dir}",
            f"tracks: {self.n_usable} usable of {self.n_listed} listed "
            f"({', '.join(f'{k} {v}' for k, v in self.splits.items())}); "
            f"{self.n_computed} computed now, {self.n_reused} already cached; {self.seconds:.1f} s",
        ]
        if any(self.recovered.values()):
            lines.append(f"resumed an interrupted prepare (dropped {self.recovered.get('data_rows', 0)} "
                         f"half-written row(s), {self.recovered.get('index_bytes', 0)} index byte(s))")
        if self.skipped:
            reasons: dict[str, int] = {}
            for row in self.skipped:
                reasons[row.reason] = reasons.get(row.reason, 0) + 1
            lines.append(f"skipped {len(self.skipped)}: " + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())))
        if self.notes:
            kinds: dict[str, int] = {}
            for row in self.notes:
                for kind in row.reason.split(","):
                    kinds[kind] = kinds.get(kind, 0) + 1
            lines.append("notes: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
        if self.n_orphans:
            lines.append(f"{self.n_orphans} cached entr{'y' if self.n_orphans == 1 else 'ies'} no longer in the dataset "
                         "(unused; delete the cache folder to reclaim the space)")
        lines.append(f"band statistics: {self.stats_path} ({'recomputed' if self.stats_recomputed else 'unchanged'})")
        if self.skipped or self.notes:
            lines.append(f"report: {self.report_path}")
        return "\n".join(lines)


def build_cache(
    tracks: Sequence[TrackEntry],
    *,
    cache_dir: str | os.PathLike,
    settings: MelSettings,
    num_workers: int = 2,
    short_policy: str = "pad",
    min_frames: int = 216,
    silence_dbfs: float = SILENCE_DBFS,
    dataset_name: str = "",
    progress: bool | None = None,
    commit_every: int = 32,
) -> PrepareResult:
    """Brings the cache in ``cache_dir`` (a ``<key>`` folder) up to date with ``tracks``.

    ``num_workers=0`` computes in this process (so does any run with fewer than
    :data:`MIN_TRACKS_FOR_WORKERS` tracks to compute). ``progress=None`` shows a bar on a terminal only.
    Raises :class:`~mtl_music.errors.DataError` when no track is usable (the report is written
    first) and :class:`~mtl_music.errors.ConfigError` for an unknown ``short_policy``.
    """
    if short_policy not in SHORT_POLICIES:
        raise ConfigError(f"data.prepare.short_policy={short_policy!r}; use one of {', '.join(SHORT_POLICIES)}")
    if num_workers < 0:
        raise ConfigError(f"data.prepare.num_workers={num_workers} must be >= 0 (0 = in this process)")
    refuse_during_spawn_bootstrap("prepare")
    started = time.perf_counter()
    cache_dir = Path(cache_dir)
    label = dataset_name or cache_dir.parent.name

    with CacheWriter(cache_dir, settings) as writer:
        failures: dict[str, ReportRow] = {}
        todo: list[tuple[EntryTask, os.stat_result]] = []
        n_reused = 0
        for track in tracks:
            try:
                stat = os.stat(track.path)
            except OSError:
                failures[track.track_id] = ReportRow(track.track_id, str(track.path), "skipped", "missing",
                                                     "file not found; fix the path or restore the file")
                continue
            cached = writer.entries.get(track.track_id)
            if cached is not None and (cached.size, cached.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                if short_policy == "skip" and any(n.startswith(PADDED_NOTE) for n in cached.notes.split("; ")):
                    # cached under short_policy=pad; the current policy skips it (no recompute needed)
                    failures[track.track_id] = ReportRow(track.track_id, str(track.path), "skipped", "too_short",
                                                         "shorter than one crop; data.prepare.short_policy=skip")
                    continue
                n_reused += 1
                continue
            if cached is not None:
                log.info("%s changed on disk since it was cached; recomputing it", track.path)
            todo.append((EntryTask(track.track_id, str(track.path), settings, min_frames, short_policy, silence_dbfs), stat))

        if todo:
            log.info("prepare %s: %d track(s) to compute, %d already cached, %d worker(s)",
                     label, len(todo), n_reused, num_workers)
        outcomes = _Outcomes(todo, num_workers=num_workers)
        bar = _progress(len(todo), label, progress)
        pending: list[tuple[str, np.ndarray, float, int, int, str]] = []
        try:
            for outcome, stat, path in outcomes:
                if outcome.problem is not None:
                    failures[outcome.track_id] = ReportRow(outcome.track_id, path, "skipped", outcome.problem, outcome.detail)
                else:
                    pending.append((outcome.track_id, outcome.mel, outcome.floor, stat.st_size, stat.st_mtime_ns,
                                    "; ".join(outcome.notes)))
                    if len(pending) >= commit_every or outcomes.idle():
                        writer.append(pending)
                        pending = []
                bar.update(1)
            writer.append(pending)
        except BaseException:
            if pending and not writer.broken:  # interrupted: keep what is already computed
                writer.append(pending)
            raise
        finally:
            bar.close()
            outcomes.close()
        n_computed = len(todo) - sum(1 for task, _ in todo if task.track_id in failures)
        # Still under the writer's lock: the view, statistics and report belong to this run.
        entries = dict(writer.entries)
        usable = [t for t in tracks if t.track_id in entries and t.track_id not in failures]
        skipped = [failures[t.track_id] for t in tracks if t.track_id in failures]
        notes = [ReportRow(t.track_id, str(t.path), "note", _note_kinds(entries[t.track_id].notes), entries[t.track_id].notes)
                 for t in usable if entries[t.track_id].notes]
        report_path = cache_dir / REPORT_FILE
        _write_report(report_path, skipped + notes)
        if not usable:
            raise DataError(
                f"no usable track in dataset '{label}': all {len(tracks)} listed file(s) were skipped "
                f"({_count_reasons(skipped)}); see the report {report_path} and fix the files or the manifest"
            )
        stats_path = cache_dir / STATS_FILE
        stats_recomputed = _update_stats(stats_path, writer, [t for t in usable if t.split == "train"], label)
        write_tracks_file(cache_dir / TRACKS_FILE, usable, entries)

    listed = {t.track_id for t in tracks}
    return PrepareResult(
        cache_dir=cache_dir, n_listed=len(tracks), n_usable=len(usable), n_computed=n_computed, n_reused=n_reused,
        splits={s: sum(1 for t in usable if t.split == s) for s in SPLITS}, skipped=skipped, notes=notes,
        report_path=report_path, stats_path=stats_path, stats_recomputed=stats_recomputed,
        seconds=time.perf_counter() - started, n_orphans=sum(1 for tid in entries if tid not in listed),
        recovered=writer.recovered,
    )


def _update_stats(path: Path, writer: CacheWriter, train: Sequence[TrackEntry], label: str) -> bool:
    """Recomputes ``stats.npz`` when the training entries changed; returns whether it did."""
    rows = [(t.track_id, writer.entries[t.track_id].offset, writer.entries[t.track_id].n_frames) for t in train]
    key = train_key(rows)
    if stored_train_key(path) == key:
        return False
    n_mels = writer.settings.n_mels
    data = (np.memmap(writer.path / DATA_FILE, dtype=DTYPE, mode="r", shape=(writer.end_rows, N_CHANNELS, n_mels))
            if writer.end_rows else np.zeros((0, N_CHANNELS, n_mels), DTYPE))
    moments = band_moments(data, [(offset, n) for _, offset, n in rows])
    del data
    save_stats(path, moments=moments, train_key=key, n_tracks=len(rows))
    if not rows:
        log.warning("dataset '%s' has no training track: no band statistics (standardise with another dataset's)", label)
    return True


# ------------------------------------------------------------------------ computing
class _Outcomes:
    """Iterates ``(outcome, stat, path)`` as tracks finish; ``idle()`` says whether no further
    result is ready right now (the moment to commit a group to disk)."""

    def __init__(self, todo: Sequence[tuple[EntryTask, os.stat_result]], *, num_workers: int) -> None:
        self._todo = list(todo)
        self._num_workers = num_workers
        self._pool: WorkerPool | None = None
        self._bank_dir: Path | None = None
        self._running: dict[Future, tuple[EntryTask, os.stat_result]] = {}
        self._ready: list[tuple[EntryOutcome, os.stat_result, str]] = []

    def __iter__(self) -> Iterator[tuple[EntryOutcome, os.stat_result, str]]:
        if self._num_workers == 0 or len(self._todo) < MIN_TRACKS_FOR_WORKERS:
            for task, stat in self._todo:
                with one_torch_thread():
                    outcome = compute_entry(task)
                yield outcome, stat, task.path
            return
        yield from self._parallel()

    def _parallel(self) -> Iterator[tuple[EntryOutcome, os.stat_result, str]]:
        queue = iter(self._todo)
        window = 2 * self._num_workers + 2  # bounded, so results never pile up in memory
        # The filter bank goes to the workers as a file, not as an argument: CPython writes a
        # spawned child's start-up data into a pipe it also holds open, so a payload larger than
        # the pipe buffer (the bank is 256 KiB) blocks the parent forever when the child dies
        # while starting (e.g. when an unguarded script re-runs prepare at import time).
        settings = self._todo[0][0].settings
        self._bank_dir = Path(tempfile.mkdtemp(prefix="mtl_music_melbank_"))
        bank_path = self._bank_dir / f"{settings.key()}.npy"
        np.save(bank_path, mel_filter_bank(settings))
        self._pool = WorkerPool(
            self._num_workers, task="prepare (mel cache)", initializer=init_worker,
            initargs=({settings.key(): str(bank_path)},),
            hint="Everything computed so far is saved. Otherwise run prepare again with data.prepare.num_workers=0 "
                 "to find the file that crashes the decoder, then remove or convert it.",
        )
        self._fill(queue, window)
        while self._running or self._ready:
            if not self._ready:
                done, _ = wait(list(self._running), return_when=FIRST_COMPLETED)
                for future in done:
                    task, stat = self._running.pop(future)
                    in_flight = ", ".join(t.path for t, _ in [(task, stat), *self._running.values()])
                    outcome = self._pool.result(future, in_flight=f"decoding one of: {in_flight}")
                    self._ready.append((outcome, stat, task.path))
                self._fill(queue, window)
            yield self._ready.pop(0)

    def _fill(self, queue: Iterator, window: int) -> None:
        while len(self._running) < window:
            item = next(queue, None)
            if item is None:
                return
            self._running[self._pool.submit(compute_entry, item[0])] = item

    def idle(self) -> bool:
        if self._ready:
            return False
        return not any(future.done() for future in self._running)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._bank_dir is not None:
            shutil.rmtree(self._bank_dir, ignore_errors=True)
            self._bank_dir = None


# ------------------------------------------------------------------------ outputs
def _progress(total: int, label: str, enabled: bool | None):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"prepare {label}", unit="track", disable=(None if enabled is None else not enabled) or total == 0)


def _note_kinds(notes: str) -> str:
    kinds = []
    for note in notes.split("; "):
        word = note.split(" ", 1)[0].rstrip(":")
        kinds.append({"mono": "mono", "resampled": "resampled", "padded": "padded"}.get(word, "downmixed" if "down-mixed" in note else word))
    return ",".join(kinds)


def _count_reasons(rows: Iterable[ReportRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.reason] = counts.get(row.reason, 0) + 1
    return ", ".join(f"{n} {r}" for r, n in sorted(counts.items())) or "none"


def _write_report(path: Path, rows: Sequence[ReportRow]) -> None:
    lines = ["\t".join(REPORT_COLUMNS)]
    lines += ["\t".join(clean_field(v) for v in (r.track_id, r.path, r.status, r.reason, r.detail)) for r in rows]
    write_text_atomic(path, "\n".join(lines) + "\n", fsync=True)


def write_tracks_file(path: Path, usable: Sequence[TrackEntry], entries: dict[str, IndexEntry]) -> None:
    """Writes ``tracks.tsv`` (the dataset view :class:`MelCache` reads) atomically."""
    lines = ["\t".join(TRACKS_COLUMNS)]
    for track in usable:
        entry = entries[track.track_id]
        lines.append("\t".join([track.track_id, track.split, str(entry.offset), str(entry.n_frames), repr(entry.floor),
                                clean_field(str(track.path)), clean_field(entry.notes)]))
    write_text_atomic(path, "\n".join(lines) + "\n", fsync=True)
