"""Rendering works to audio files in worker processes, resumably, with replacements for failures.

A :class:`RenderJob` names one track: its work, where its audio and record go, and the render
settings. :class:`RenderPool` renders jobs in ``spawn`` worker processes (``OMP_NUM_THREADS=1``,
one :class:`~mtl_music.corpus.render.Renderer` each) with a progress bar; each worker writes
its track's audio and then its JSON record atomically, so an interrupted build resumes where it
stopped (:class:`RenderPool`). :func:`render_selection` draws tracks in a fixed candidate order and, when a work
fails (music21 cannot parse it, no notes in the window), renders the next candidate instead:
the result is the first ``wanted`` successes of each group, whatever the worker timing.
"""

from __future__ import annotations

import hashlib
import logging
import time
import traceback
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from mtl_music.corpus.catalog import Work
from mtl_music.corpus.store import read_json, record_is_current, write_audio_atomic, write_json_atomic
from mtl_music.errors import MtlMusicError
from mtl_music.workers import WorkerPool

log = logging.getLogger(__name__)

#: Bump when a change to parsing, performance choices or rendering changes the audio.
RENDER_VERSION = 2


@dataclass(frozen=True)
class RenderJob:
    """One track to render. Paths are absolute; ``channels`` 2 (stereo) or 1 (mono mixdown)."""

    track_id: str
    work: Work
    audio_path: str
    record_path: str
    channels: int
    duration: float
    sample_rate: int
    seed: int
    fingerprint: str


def render_fingerprint(*, seed: int, duration: float, sample_rate: int, channels: int, audio_format: str) -> str:
    """A short hash of everything that decides a track's audio besides its work."""
    text = f"v{RENDER_VERSION}|seed={seed}|dur={duration}|sr={sample_rate}|ch={channels}|fmt={audio_format}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def track_rng(seed: int, track_id: str) -> np.random.Generator:
    """The generator of one track's random choices: fixed by (seed, track id) only."""
    return np.random.default_rng([int(seed), int(hashlib.sha1(track_id.encode()).hexdigest()[:12], 16)])


# ------------------------------------------------------------------ worker side

_RENDERER = None


def _renderer(sample_rate: int):
    global _RENDERER
    from mtl_music.corpus.render import Renderer

    if _RENDERER is None or _RENDERER.sample_rate != sample_rate:
        _RENDERER = Renderer(sample_rate=sample_rate)
    return _RENDERER


def _init_worker(sample_rate: int) -> None:
    """Initializer of a worker process: its renderer, and music21's warnings silenced."""
    import warnings

    warnings.simplefilter("ignore")  # music21 warns on many historical encodings
    _renderer(sample_rate)


def render_one(job: RenderJob) -> tuple[dict, dict]:
    """Renders one job and writes its audio and record; returns (record, timings in seconds).

    A failure caused by the work (parse error, no notes, silent window) is recorded as
    ``{"status": "failed", "reason": ...}`` and not retried with the same settings. Errors
    writing the files (disk full, permissions) propagate: the build stops and resumes later.
    """
    from mtl_music.corpus.performance import choose_performance
    from mtl_music.corpus.render import mono_mixdown
    from mtl_music.corpus.scores import parse_work, score_notes

    base = {"track_id": job.track_id, "fingerprint": job.fingerprint, "work": asdict(job.work)}
    timings: dict[str, float] = {}
    audio = None
    try:
        t0 = time.perf_counter()
        notes = score_notes(parse_work(job.work), job.work)
        t1 = time.perf_counter()
        rng = track_rng(job.seed, job.track_id)
        performance = choose_performance(job.work, notes, rng=rng, duration=job.duration)
        audio = _renderer(job.sample_rate).render(notes, performance, duration=job.duration, rng=rng)
        if job.channels == 1:
            audio = mono_mixdown(audio)
        t2 = time.perf_counter()
    except MtlMusicError as exc:
        record = {**base, "status": "failed", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - music21 internals on one odd score must not stop the build
        last = traceback.extract_tb(exc.__traceback__)[-1]
        record = {**base, "status": "failed", "reason": f"{type(exc).__name__}: {exc} ({last.filename}:{last.lineno})"}
    if audio is not None:
        write_audio_atomic(Path(job.audio_path), audio, sample_rate=job.sample_rate)
        timings = {"parse": t1 - t0, "render": t2 - t1, "encode": time.perf_counter() - t2}
        record = {
            **base,
            "status": "ok",
            "audio": {"duration": job.duration, "sample_rate": job.sample_rate, "channels": job.channels},
            "score": {
                "meter": notes.meter, "beat": notes.beat, "mode": notes.mode, "mode_estimated": notes.mode_estimated,
                "n_voices": notes.n_voices, "n_notes": int(len(notes.pitches)), "length_quarters": notes.length,
                "tempo_mark_qpm": notes.tempo_qpm, "lyrics": notes.lyrics,
            },
            "performance": asdict(performance),
        }
    write_json_atomic(Path(job.record_path), record)
    return record, timings


# ------------------------------------------------------------------ parent side


class RenderPool:
    """Worker processes for the stages of one build, started on first use, closed on exit.

    ``num_workers`` 0 or 1 renders in this process. Workers are a
    :class:`~mtl_music.workers.WorkerPool` and hold one :class:`~mtl_music.corpus.render.Renderer` each.
    """

    def __init__(self, *, num_workers: int, sample_rate: int) -> None:
        self.num_workers = int(num_workers)
        self.sample_rate = int(sample_rate)
        self._pool: WorkerPool | None = None

    def __enter__(self) -> "RenderPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _submit_all(self, jobs: Sequence[RenderJob]):
        if self._pool is None:
            self._pool = WorkerPool(self.num_workers, task="the demo-corpus build (rendering)", initializer=_init_worker,
                                    initargs=(self.sample_rate,),
                                    hint="Finished tracks are kept; run the build again to resume.")
        return {self._pool.submit(render_one, job): job for job in jobs}

    def run(self, jobs: Sequence[RenderJob], *, desc: str, progress: bool = True) -> list[tuple[dict, dict]]:
        """Renders ``jobs``; returns (record, timings) per job in completion order."""
        from tqdm import tqdm

        results: list[tuple[dict, dict]] = []
        if not jobs:
            return results
        with tqdm(total=len(jobs), desc=desc, unit="track", disable=not progress, dynamic_ncols=True) as bar:
            if self.num_workers <= 1:
                for job in jobs:
                    results.append(render_one(job))
                    bar.update(1)
                return results
            futures = self._submit_all(jobs)
            try:
                for future in as_completed(futures):
                    results.append(self._pool.result(future, in_flight=f"rendering tracks (in flight: {futures[future].track_id}, ...)"))
                    bar.update(1)
            except BaseException:
                self.close()  # a dead pool cannot be reused; a later run starts a new one
                raise
        return results


def load_current(job: RenderJob) -> dict | None:
    """The stored record of ``job`` when it is complete and current (resume), else ``None``."""
    record = read_json(Path(job.record_path))
    return record if record_is_current(record, fingerprint=job.fingerprint, audio_path=Path(job.audio_path)) else None


@dataclass
class SelectionResult:
    """Records of the rendered tracks per group (candidate order), failures, and counters."""

    records: dict[str, list[dict]]
    failures: list[dict]
    rendered: int
    reused: int
    timings: list[dict]


def render_selection(
    candidates: dict[str, Sequence[RenderJob]],
    wanted: dict[str, int],
    *,
    pool: RenderPool,
    desc: str,
    progress: bool = True,
) -> SelectionResult:
    """Renders the first ``wanted[g]`` successful candidates of each group ``g``.

    Candidates are tried in the given order; finished tracks are reused (resume); failures
    are replaced by the next candidates until the group is full or its candidates run out.
    """
    position = {group: 0 for group in candidates}
    done: dict[str, dict[str, dict]] = {group: {} for group in candidates}
    order: dict[str, dict[str, int]] = {g: {job.track_id: i for i, job in enumerate(jobs)} for g, jobs in candidates.items()}
    failures: list[dict] = []
    rendered = reused = 0
    timings: list[dict] = []
    while True:
        todo: list[tuple[str, RenderJob]] = []
        for group, jobs in candidates.items():
            need = wanted.get(group, 0) - sum(1 for r in done[group].values() if r["status"] == "ok")
            while need > 0 and position[group] < len(jobs):
                job = jobs[position[group]]
                position[group] += 1
                stored = load_current(job)
                if stored is not None:
                    done[group][job.track_id] = stored
                    reused += 1
                    if stored["status"] == "ok":
                        need -= 1
                    else:
                        failures.append(stored)
                    continue
                todo.append((group, job))
                need -= 1
        if not todo:
            break
        group_of = {job.track_id: group for group, job in todo}
        for record, timing in pool.run([job for _, job in todo], desc=desc, progress=progress):
            done[group_of[record["track_id"]]][record["track_id"]] = record
            rendered += 1
            if timing:
                timings.append(timing)
            if record["status"] != "ok":
                failures.append(record)
                log.info("skipped %s (%s): %s", record["track_id"], record["work"]["key"], record["reason"])
    records = {
        group: sorted((r for r in done[group].values() if r["status"] == "ok"), key=lambda r: order[group][r["track_id"]])
        for group in candidates
    }
    for group, count in wanted.items():
        if len(records.get(group, ())) < count:
            log.warning("group %s: only %d of %d tracks could be rendered (candidates exhausted)", group, len(records[group]), count)
    return SelectionResult(records=records, failures=failures, rendered=rendered, reused=reused, timings=timings)
