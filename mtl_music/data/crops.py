"""Batch-time network inputs from a :class:`~mtl_music.data.cache.MelCache` (R2.4, R6.1).

* :class:`RandomCrops` — training: one random 2.5 s crop (216 frames) per track, a new one
  every time a track is drawn.
* :class:`Slicer` — transfer evaluation: a track cut into non-overlapping 2.5 s slices.

Both return float32 tensors ``(..., 2, frames, n_mels)`` standardised per band with the cache's
training statistics (``standardize=True``) or raw dB (``standardize=False``).

Padding rule: where a track has fewer frames than a crop (a short track, or the last slice),
the missing frames at the end are filled with the track's floor — its minimum dB value, which
under the front end's ``top_db`` clipping is exactly what digital silence becomes — and then
standardised like the rest. Such tracks always start their crop at frame 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from mtl_music.data.cache import MelCache


class _Standardizer:
    """``(x - mean) / std`` per band as one fused ``x * (1/std) + (-mean/std)``."""

    def __init__(self, cache: MelCache, enabled: bool) -> None:
        self.enabled = enabled
        if enabled:
            std = cache.std.astype(np.float64)
            self.scale = torch.from_numpy((1.0 / std).astype(np.float32))
            self.shift = torch.from_numpy((-cache.mean / std).astype(np.float32))

    def __call__(self, half: np.ndarray) -> torch.Tensor:
        """float16 ``(..., n_mels)`` → float32 tensor, standardised when enabled."""
        values = torch.from_numpy(half)
        if not self.enabled:
            return values.to(torch.float32)
        out = torch.empty(values.shape, dtype=torch.float32)
        return torch.addcmul(self.shift, values, self.scale, out=out)


class RandomCrops:
    """``crops(indices, generator=rng)`` → ``(B, 2, crop_frames, n_mels)`` float32.

    Each track's crop start is drawn uniformly from its valid starts ``0 … n_frames − crop_frames``
    with the given ``numpy.random.Generator`` (same generator state, same batch). Picklable, so it
    can live in a ``DataLoader`` worker.
    """

    def __init__(self, cache: MelCache, *, crop_frames: int = 216, standardize: bool = True) -> None:
        if crop_frames <= 0:
            raise ValueError(f"crop_frames must be positive, got {crop_frames}")
        self.cache = cache
        self.crop_frames = int(crop_frames)
        self.standardize = standardize
        self._standardizer = _Standardizer(cache, standardize)

    def starts(self, indices: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """The crop start frame of each track of ``indices`` (int64), as :meth:`__call__` draws them."""
        n_valid = np.maximum(self.cache.n_frames[indices] - self.crop_frames + 1, 1)
        return generator.integers(0, n_valid, dtype=np.int64) if len(indices) else np.zeros(0, np.int64)

    def __call__(self, indices: Sequence[int] | np.ndarray, *, generator: np.random.Generator) -> torch.Tensor:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        starts = self.starts(indices, generator=generator)
        cache, crop = self.cache, self.crop_frames
        batch = np.empty((len(indices), 2, crop, cache.settings.n_mels), dtype=np.float16)
        data = cache.data
        firsts = (cache.offsets[indices] + starts).tolist()
        lengths = np.minimum(cache.n_frames[indices], crop).tolist()
        for b, (first, length) in enumerate(zip(firsts, lengths)):
            # Rows are (frames, 2, n_mels); the network wants (2, frames, n_mels).
            batch[b, :, :length] = data[first : first + length].transpose(1, 0, 2)
            if length < crop:
                batch[b, :, length:] = cache.floors[indices[b]]
        return self._standardizer(batch)


class Slicer:
    """Non-overlapping slices of whole tracks: ``slices(i)`` → ``(n_slices(i), 2, slice_frames, n_mels)``.

    ``n_slices(i) = ceil(n_frames / slice_frames)``; the last slice is padded (padding rule
    above) when the track does not divide evenly.
    """

    def __init__(self, cache: MelCache, *, slice_frames: int = 216, standardize: bool = True) -> None:
        if slice_frames <= 0:
            raise ValueError(f"slice_frames must be positive, got {slice_frames}")
        self.cache = cache
        self.slice_frames = int(slice_frames)
        self.standardize = standardize
        self._standardizer = _Standardizer(cache, standardize)

    def n_slices(self, i: int) -> int:
        return max(1, -(-int(self.cache.n_frames[i]) // self.slice_frames))

    def slices(self, i: int) -> torch.Tensor:
        n_slices, size = self.n_slices(i), self.slice_frames
        rows = self.cache.rows(i)  # (n_frames, 2, n_mels)
        padded = np.full((n_slices * size, *rows.shape[1:]), self.cache.floors[i], dtype=np.float16)
        padded[: len(rows)] = rows
        # (n_slices, size, 2, M) -> (n_slices, 2, size, M)
        return self._standardizer(np.ascontiguousarray(padded.reshape(n_slices, size, *rows.shape[1:]).transpose(0, 2, 1, 3)))
