"""One track → one cache entry: decode, check, compute the dB-mel. Runs in prepare's workers.

Bad-input rules (each becomes a line of the prepare report):

* missing file, unreadable or corrupt file, undeterminable sample rate → skipped (``missing``,
  ``unreadable``);
* no samples → skipped (``empty``); peak below ``silence_dbfs`` (default −60 dBFS, see
  :func:`mtl_music.audio.is_silent`) → skipped (``silent``);
* fewer frames than one crop (2.5 s = 216 frames): ``short_policy="pad"`` pads the dB-mel at
  the end to one crop with the track's own floor (its minimum dB value, i.e. what digital
  silence becomes under ``top_db`` clipping) and notes ``padded``; ``"skip"`` skips it
  (``too_short``);
* a sample rate other than the front end's is resampled and noted (``resampled``) — a note,
  not an error; mono (``mono``) and more than two channels (``downmixed``) are noted too;
* any other error while computing one file → skipped (``failed``, with the error), the run goes on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from mtl_music.audio.io import SILENCE_DBFS, decode_audio, peak_dbfs
from mtl_music.audio.mel import MelSettings
from mtl_music.errors import AudioError

SHORT_POLICIES = ("pad", "skip")
#: How the note of a padded track starts (prepare recognises cached padded entries by it).
PADDED_NOTE = "padded:"


@dataclass(frozen=True)
class EntryTask:
    """What a worker needs to compute one track (picklable)."""

    track_id: str
    path: str
    settings: MelSettings
    min_frames: int = 216
    short_policy: str = "pad"
    silence_dbfs: float = SILENCE_DBFS


@dataclass(frozen=True)
class EntryOutcome:
    """A computed entry (``mel`` set, ``problem`` ``None``) or a skipped track (``problem`` set).

    ``mel``: ``(n_frames, 2, n_mels)`` float16 — the cache's row layout. ``floor``: its
    minimum. ``notes``: remarks for the report. ``seconds``: compute time.
    """

    track_id: str
    mel: np.ndarray | None = None
    floor: float = 0.0
    notes: tuple[str, ...] = ()
    problem: str | None = None
    detail: str = ""
    seconds: float = 0.0


_FRONTENDS: dict = {}  # settings key -> MelSpectrogram, one per process
_MEL_BASES: dict = {}  # settings key -> filter bank handed over by the parent


def _frontend(settings: MelSettings):
    from mtl_music.audio.mel import MelSpectrogram

    key = settings.key()
    if key not in _FRONTENDS:
        _FRONTENDS[key] = MelSpectrogram(settings, mel_basis=_MEL_BASES.get(key))
    return _FRONTENDS[key]


def init_worker(mel_bases: dict | None = None) -> None:
    """Process-pool initialiser: one thread per worker (the pool is the parallelism), and the
    parent's mel filter banks (``{settings key: array or .npy path}``), so workers need not
    import librosa."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)
    for key, bank in (mel_bases or {}).items():
        _MEL_BASES[key] = np.load(bank) if isinstance(bank, (str, os.PathLike)) else bank


def compute_entry(task: EntryTask) -> EntryOutcome:
    """Decodes ``task.path`` and returns its dB-mel entry, or the reason it is skipped.

    An unexpected error on one file (not an :class:`AudioError`) does not stop the whole
    prepare: the file is skipped as ``failed`` with the error in the report."""
    started = time.perf_counter()
    try:
        return _compute_entry(task, started)
    except Exception as err:  # noqa: BLE001 - reported per file, the run goes on
        return EntryOutcome(task.track_id, problem="failed", detail=f"{type(err).__name__}: {err}",
                            seconds=time.perf_counter() - started)


def _compute_entry(task: EntryTask, started: float) -> EntryOutcome:
    import torch

    settings = task.settings
    try:
        decoded = decode_audio(task.path, sample_rate=settings.sample_rate)
    except AudioError as err:
        return EntryOutcome(task.track_id, problem="unreadable", detail=str(err), seconds=time.perf_counter() - started)
    samples = decoded.samples
    duration = decoded.duration
    if samples.shape[-1] == 0:
        return EntryOutcome(task.track_id, problem="empty", detail="the file holds no audio samples",
                            seconds=time.perf_counter() - started)
    peak = peak_dbfs(samples)
    if peak < task.silence_dbfs:
        level = "all samples are zero" if peak == float("-inf") else f"peak level {peak:.1f} dBFS"
        return EntryOutcome(task.track_id, problem="silent",
                            detail=f"{level}, below the silence threshold {task.silence_dbfs:g} dBFS",
                            seconds=time.perf_counter() - started)
    n_frames = settings.n_frames(samples.shape[-1])
    crop_seconds = settings.samples_for_frames(task.min_frames) / settings.sample_rate
    if n_frames < task.min_frames and task.short_policy == "skip":
        return EntryOutcome(task.track_id, problem="too_short",
                            detail=f"{duration:.2f} s is shorter than one {crop_seconds:.2f} s crop "
                                   f"({task.min_frames} frames); data.prepare.short_policy=skip",
                            seconds=time.perf_counter() - started)

    notes = []
    if decoded.resampled:
        notes.append(f"resampled {decoded.source_rate} Hz -> {decoded.sample_rate} Hz")
    if decoded.source_channels == 1:
        notes.append("mono duplicated to 2 channels")
    elif decoded.source_channels > 2:
        notes.append(f"{decoded.source_channels} channels down-mixed to stereo")

    with torch.no_grad():
        mel = _frontend(settings)(torch.from_numpy(samples))  # (2, T, M) float32
    rows = mel.transpose(0, 1).to(torch.float16).numpy()  # (T, 2, M): the cache's row layout
    floor = float(rows.min())
    if n_frames < task.min_frames:
        padding = np.full((task.min_frames - n_frames, *rows.shape[1:]), floor, dtype=rows.dtype)
        rows = np.concatenate([rows, padding])
        notes.append(f"{PADDED_NOTE} {duration:.2f} s < one {crop_seconds:.2f} s crop, {n_frames} -> {task.min_frames} "
                     f"frames with its floor {floor:.1f} dB")
    return EntryOutcome(task.track_id, mel=np.ascontiguousarray(rows), floor=floor, notes=tuple(notes),
                        seconds=time.perf_counter() - started)
