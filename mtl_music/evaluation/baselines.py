"""Baseline representations (R6.5): MFCC statistics and user-supplied embeddings.

MFCC (the paper's 120-d baseline): 20 MFCCs of the mono mix, their Δ and ΔΔ
(``librosa.feature.delta``, default 9-frame window), then the mean and the standard deviation of
each of the 60 rows over time → ``[mean(MFCC), mean(Δ), mean(ΔΔ), std(MFCC), std(Δ), std(ΔΔ)]``
(mean block first, as for the deep features in R6.1). The STFT/mel settings are our front end's
(22,050 Hz, n_fft 1024, hop 256, 128 mel bands; ``mtl_music.audio.mel``) so that the baseline
sees the same time-frequency resolution as the networks; the paper does not state its own.

The Rand baseline (the untrained network) is a feature extractor like any other run and lives
with the feature code; external embeddings are read by :func:`external_features`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mtl_music.errors import DataError
from mtl_music.workers import WorkerPool

SAMPLE_RATE = 22050
N_MFCC = 20
N_FFT = 1024
HOP_LENGTH = 256
N_MELS = 128
#: librosa.feature.delta's default window; Δ needs at least this many frames.
DELTA_WIDTH = 9
MFCC_DIM = 6 * N_MFCC  # (MFCC, Δ, ΔΔ) × (mean, std)


def mfcc_features(*, audio: np.ndarray) -> np.ndarray:
    """The 120-d MFCC baseline of one track.

    ``audio``: (2, n_samples) or (n_samples,) float PCM at 22,050 Hz (the project's layout, see
    :func:`mtl_music.audio.load_audio`); stereo is averaged to mono. Returns float32 (120,).
    Raises :class:`DataError` for non-finite samples or audio shorter than 9 frames (~0.1 s).
    """
    import librosa

    y = np.asarray(audio, dtype=np.float32)
    if y.ndim == 2:
        if y.shape[0] not in (1, 2):
            raise DataError(f"audio must be (2, n_samples) or (n_samples,), got shape {y.shape}")
        y = y.mean(axis=0)
    elif y.ndim != 1:
        raise DataError(f"audio must be (2, n_samples) or (n_samples,), got shape {y.shape}")
    if not np.isfinite(y).all():
        raise DataError("audio holds NaN or infinite samples; re-decode the file")
    n_frames = 1 + y.size // HOP_LENGTH  # librosa's centred framing
    if n_frames < DELTA_WIDTH:
        raise DataError(
            f"audio of {y.size} samples ({y.size / SAMPLE_RATE:.3f} s) gives {n_frames} frames; the MFCC "
            f"baseline needs >= {DELTA_WIDTH} frames (~{(DELTA_WIDTH - 1) * HOP_LENGTH / SAMPLE_RATE:.2f} s) "
            "for its Δ features; drop or pad this clip"
        )
    mfcc = librosa.feature.mfcc(y=y, sr=SAMPLE_RATE, n_mfcc=N_MFCC, n_fft=N_FFT,
                                hop_length=HOP_LENGTH, n_mels=N_MELS)
    stack = np.concatenate([mfcc, librosa.feature.delta(mfcc, order=1),
                            librosa.feature.delta(mfcc, order=2)], axis=0)  # (60, frames)
    return np.concatenate([stack.mean(axis=1), stack.std(axis=1)]).astype(np.float32)


def _mfcc_of_path(item: tuple[str, Any, int]) -> np.ndarray:
    """``(path, deformation or None, seed)`` -> the file's MFCC vector (of its deformed audio)."""
    from mtl_music.audio import load_audio

    path, deformation, seed = item
    try:
        audio = load_audio(path, sample_rate=SAMPLE_RATE)
        if deformation is not None:
            audio = deformation.apply(audio, sample_rate=SAMPLE_RATE, seed=seed)
        return mfcc_features(audio=audio)
    except DataError as err:
        raise DataError(f"{path}: {err}") from None


def mfcc_for_paths(paths: Sequence[str | os.PathLike], *, num_workers: int = 1, deformation: Any = None,
                   seeds: Sequence[int] | None = None) -> np.ndarray:
    """MFCC baseline for audio files: (len(paths), 120) float32, in the order given.

    Files are decoded with :func:`mtl_music.audio.load_audio` (22,050 Hz). ``num_workers > 1``
    spreads files over that many worker processes (:class:`~mtl_music.workers.WorkerPool`). An
    unreadable file raises its
    :class:`~mtl_music.errors.AudioError` (naming the file). ``deformation`` (a
    :class:`~mtl_music.audio.deform.Deformation`) is applied to each decoded file with its seed
    of ``seeds`` (one per path; 0 for every file when ``None``) before the MFCCs.
    """
    paths = [str(p) for p in paths]
    if not paths:
        return np.zeros((0, MFCC_DIM), dtype=np.float32)
    seeds = [0] * len(paths) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != len(paths):
        raise ValueError(f"mfcc_for_paths: {len(seeds)} seeds for {len(paths)} paths; give one seed per path")
    items = [(p, deformation, s) for p, s in zip(paths, seeds)]
    if num_workers <= 1 or len(paths) == 1:
        rows = [_mfcc_of_path(item) for item in items]
    else:
        with WorkerPool(int(num_workers), task="the MFCC baseline") as pool:
            rows = pool.map(_mfcc_of_path, items, chunksize=max(1, len(paths) // (8 * num_workers)))
    return np.stack(rows)


def external_features(*, folder: str | os.PathLike, track_ids: Sequence[str]) -> np.ndarray:
    """User-supplied embeddings, one ``<folder>/<track_id>.npy`` per track: (n, D') float32.

    A 1-D array (D,) is taken as an already pooled track vector and used as is (D' = D). A 2-D
    array (frames, D) is pooled like our features: mean and std over frames, concatenated
    (D' = 2·D). All files must be of the same kind and D. Raises :class:`DataError` listing missing
    files (how many, the first few), and naming the first file whose shape or values do not fit.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"embedding folder {folder} does not exist; point to the folder holding <track_id>.npy files")
    track_ids = [str(t) for t in track_ids]
    if not track_ids:
        raise DataError("no track ids given; pass the ids of the tracks to read embeddings for")
    paths = [folder / f"{tid}.npy" for tid in track_ids]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"{len(missing)} of {len(paths)} embedding files are missing in {folder} "
            f"(first: {', '.join(missing[:5])}); write one <track_id>.npy per track"
        )
    rows = []
    expected: tuple[int, int] | None = None  # (ndim, D) of the first file
    for path in paths:
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read {path} as a .npy array ({err}); re-save it with numpy.save") from None
        if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or not np.issubdtype(arr.dtype, np.number):
            raise DataError(
                f"{path} holds an array of shape {arr.shape} and dtype {arr.dtype}; expected numbers "
                "shaped (D,) for a track vector or (frames, D) for frame-wise embeddings"
            )
        if arr.ndim == 2 and arr.shape[0] == 0:
            raise DataError(f"{path} holds 0 frames; re-extract this track's embedding")
        kind = (arr.ndim, arr.shape[-1])
        if expected is None:
            expected = kind
        elif kind != expected:
            raise DataError(
                f"{path} has shape {arr.shape} but {paths[0].name} has "
                f"{'(D,)' if expected[0] == 1 else '(frames, D)'} with D={expected[1]}; all embeddings "
                "must have the same layout and dimension"
            )
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise DataError(f"{path} holds NaN or infinite values; re-extract this track's embedding")
        rows.append(arr if arr.ndim == 1 else np.concatenate([arr.mean(axis=0), arr.std(axis=0)]))
    return np.stack(rows).astype(np.float32)


__all__ = ["MFCC_DIM", "external_features", "mfcc_features", "mfcc_for_paths"]
