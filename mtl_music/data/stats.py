"""Per-mel-band mean and standard deviation over the training split (R2.3), streamed.

Each track's rows are read from the memory map (at most ``chunk_frames`` at a time) and
reduced in float64 to a count, a mean and a sum of squared deviations per band; these partial
results are merged with Chan et al.'s pairwise formula, which stays exact where the textbook
``E[x²] − E[x]²`` cancels. Both channels and every frame count as samples of a band.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from mtl_music.atomic import atomic_path


@dataclass
class BandMoments:
    """Running count, mean and sum of squared deviations per band (float64)."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, n_bands: int) -> "BandMoments":
        return cls(0, np.zeros(n_bands, np.float64), np.zeros(n_bands, np.float64))

    @classmethod
    def of(cls, values: np.ndarray) -> "BandMoments":
        """Moments of ``values`` shaped ``(..., n_bands)``; every leading index is a sample."""
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
        mean = flat.mean(axis=0) if len(flat) else np.zeros(flat.shape[1])
        return cls(len(flat), mean, ((flat - mean) ** 2).sum(axis=0))

    def merge(self, other: "BandMoments") -> "BandMoments":
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        total = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / total)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        return BandMoments(total, mean, m2)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (``ddof=0``)."""
        return np.sqrt(self.m2 / max(self.count, 1))


def band_moments(data: np.ndarray, ranges: Iterable[tuple[int, int]], *, chunk_frames: int = 65536) -> BandMoments:
    """Moments over the rows ``[offset, offset + n_frames)`` of ``data`` (``(rows, 2, n_mels)``)."""
    total = BandMoments.empty(data.shape[-1])
    for offset, n_frames in ranges:
        for start in range(offset, offset + n_frames, chunk_frames):
            stop = min(start + chunk_frames, offset + n_frames)
            total = total.merge(BandMoments.of(np.asarray(data[start:stop])))
    return total


def save_stats(path: Path, *, moments: BandMoments, train_key: str, n_tracks: int) -> None:
    """Writes ``stats.npz`` (``mean``/``std`` float32, float64 originals, count, the train key)."""
    has_stats = moments.count > 0
    with atomic_path(path, fsync=True, suffix=".part.npz") as temp:
        np.savez(
            temp,
            mean=moments.mean.astype(np.float32),
            std=moments.std.astype(np.float32),
            mean64=moments.mean,
            std64=moments.std,
            count=np.int64(moments.count),
            n_tracks=np.int64(n_tracks),
            has_stats=np.bool_(has_stats),
            train_key=np.str_(train_key),
        )


def stored_train_key(path: Path) -> str | None:
    """The train key of an existing ``stats.npz``, or ``None``."""
    if not path.exists():
        return None
    try:
        with np.load(path) as stats:
            return str(stats["train_key"])
    except (OSError, KeyError, ValueError):
        return None
