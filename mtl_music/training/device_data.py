"""Training batches cut on the training device (``data.placement=device|host|auto``).

:class:`DeviceCrops` holds the whole float16 mel cache and its index (offsets, lengths, floors)
once, either in device memory (``device``) or in pinned host memory (``host``, batches copied
asynchronously), and cuts a batch with **one gather**: track offsets + crop starts →
``(B, 2, T, M)``, padded with each track's floor and standardised on the device. It draws the
crop starts exactly as :class:`~mtl_music.data.RandomCrops` does (same numpy generator, same
order), so :class:`DeviceBatches` — :class:`~mtl_music.training.data.TrainSteps` with these
crops — yields tensor-equal batches for the same (seed, epoch, step, rank), with no DataLoader
worker: the step plan, the pairs of ``self`` and joint sampling are TrainSteps' own.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from mtl_music.errors import ConfigError
from mtl_music.training.data import TrainSteps, ValidationBatches

log = logging.getLogger(__name__)

PLACEMENTS = ("host", "device", "auto")
#: Rows copied per chunk when the cache is loaded: the whole cache never sits in pageable host memory.
_LOAD_ROWS = 1 << 18


def cache_bytes(cache) -> int:
    """Bytes of a cache's float16 rows (what ``placement=device`` puts on the device)."""
    return int(cache.data.shape[0]) * int(cache.frame_bytes)


def resolve_placement(placement: str, *, device: torch.device, nbytes: int, memory_share: float = 0.8) -> str:
    """``host`` or ``device``; ``auto`` is ``device`` when ``nbytes`` fit in ``memory_share`` of the
    device's free memory (always on the CPU, whose "device" memory is host memory), else ``host``."""
    if placement not in PLACEMENTS:
        raise ConfigError(f"data.placement={placement!r} is unknown; choose one of {', '.join(PLACEMENTS)} "
                          "(e.g. data.placement=auto)")
    if placement != "auto":
        return placement
    if device.type != "cuda":
        return "device"
    free, _ = torch.cuda.mem_get_info(device)
    fits = nbytes <= float(memory_share) * free
    log.info("data.placement=auto: the cache (%.1f GB) %s %.0f %% of the device's %.1f GB free -> %s",
             nbytes / 1e9, "fits in" if fits else "exceeds", 100 * memory_share, free / 1e9,
             "device" if fits else "host")
    return "device" if fits else "host"


class DeviceCrops:
    """``crops(indices, generator=rng)`` → ``(B, 2, crop_frames, n_mels)`` float32 on ``device``;
    ``crops.many([left, right], generator=rng)`` cuts several index groups in one gather.

    Args:
        data: ``(total_rows, 2, n_mels)`` float16 tensor, every track a contiguous range of rows
            (a :class:`~mtl_music.data.MelCache`'s layout); kept where it is (device or pinned host).
        offsets, n_frames: ``(n_tracks,)`` int64, each track's first row and length.
        floors: ``(n_tracks,)`` float32, each track's padding value (dB).
        mean, std: ``(n_mels,)`` float32 band statistics, or ``None`` for raw dB.
        device: where batches are returned (and standardised).
    """

    def __init__(self, *, data: torch.Tensor, offsets, n_frames, floors, mean=None, std=None,
                 crop_frames: int = 216, device: torch.device | str = "cpu") -> None:
        if crop_frames <= 0:
            raise ValueError(f"crop_frames must be positive, got {crop_frames}")
        self.device = torch.device(device)
        self.data = data
        self.crop_frames = int(crop_frames)
        # The starts are drawn on the host from these numpy lengths (RandomCrops' draw, bit for bit).
        self.n_frames = np.asarray(n_frames, dtype=np.int64)
        # The index where the gather runs (the data's memory) and, for padding, on the device.
        self._offsets = torch.as_tensor(np.asarray(offsets, dtype=np.int64), device=data.device)
        self._data_lengths = torch.as_tensor(self.n_frames, device=data.device)
        self._lengths = self._data_lengths.to(self.device)
        # RandomCrops pads a float16 batch, so the floor is rounded to float16 first.
        self._floors = torch.as_tensor(np.asarray(floors, dtype=np.float32).astype(np.float16), device=self.device)
        self._frame = torch.arange(self.crop_frames, device=self.device)
        self.standardize = mean is not None
        if self.standardize:
            std64 = np.asarray(std, dtype=np.float64)
            self._scale = torch.from_numpy((1.0 / std64).astype(np.float32)).to(self.device)
            self._shift = torch.from_numpy((-np.asarray(mean) / std64).astype(np.float32)).to(self.device)

    @classmethod
    def from_cache(cls, cache, *, crop_frames: int = 216, device: torch.device | str = "cpu",
                   placement: str = "device", standardize: bool = True) -> "DeviceCrops":
        """Loads ``cache`` (a :class:`~mtl_music.data.MelCache`) once: onto ``device``
        (``placement=device``) or into pinned host memory (``host``; plain memory without CUDA)."""
        device = torch.device(device)
        source = cache.data  # (rows, 2, n_mels) float16 memmap
        if placement == "device":
            data = torch.empty(source.shape, dtype=torch.float16, device=device)
        elif placement == "host":
            data = torch.empty(source.shape, dtype=torch.float16, pin_memory=torch.cuda.is_available())
        else:
            raise ConfigError(f"DeviceCrops placement={placement!r}: resolve 'auto' first (resolve_placement)")
        for first in range(0, source.shape[0], _LOAD_ROWS):
            chunk = torch.from_numpy(np.array(source[first:first + _LOAD_ROWS]))  # a writable copy
            data[first:first + len(chunk)].copy_(chunk)
        return cls(data=data, offsets=cache.offsets, n_frames=cache.n_frames, floors=cache.floors,
                   mean=cache.mean if standardize else None, std=cache.std if standardize else None,
                   crop_frames=crop_frames, device=device)

    def starts(self, indices: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """The crop start of each track (int64), drawn as :meth:`RandomCrops.starts` draws them."""
        n_valid = np.maximum(self.n_frames[indices] - self.crop_frames + 1, 1)
        return generator.integers(0, n_valid, dtype=np.int64) if len(indices) else np.zeros(0, np.int64)

    def _rows(self, plan: torch.Tensor) -> torch.Tensor:
        """(n, T) cache rows of the crops of ``plan`` = (tracks, starts), on the data's memory;
        rows past a short track's end repeat its last row (they become its floor)."""
        tracks, first = plan[0], plan[1]
        offset = self._offsets[tracks]
        frame = torch.arange(self.crop_frames, device=plan.device)
        last = offset + self._data_lengths[tracks] - 1
        return torch.minimum(offset[:, None] + first[:, None] + frame, last[:, None])

    def __call__(self, indices, *, generator: np.random.Generator) -> torch.Tensor:
        return self.many([indices], generator=generator)[0]

    def many(self, groups, *, generator: np.random.Generator) -> list[torch.Tensor]:
        """One crop per track of each group, the starts drawn group after group (as successive
        :meth:`__call__` would): a list of ``(len(group), 2, T, M)`` float32 tensors."""
        groups = [np.asarray(g, dtype=np.int64).reshape(-1) for g in groups]
        starts = [self.starts(g, generator=generator) for g in groups]
        # The step's whole index, (2, n) = tracks, starts: one host->device copy.
        plan_host = torch.from_numpy(np.stack([np.concatenate(groups), np.concatenate(starts)]))
        plan = plan_host.to(self.device, non_blocking=True)
        if self.data.device == self.device:
            crops = self.data[self._rows(plan)]  # the gather: (n, T, 2, M) float16
        else:  # host placement: gather into pinned memory, copy asynchronously
            rows = self._rows(plan_host).reshape(-1)
            crops = torch.empty((len(rows), *self.data.shape[1:]), dtype=self.data.dtype,
                                pin_memory=self.device.type == "cuda")
            torch.index_select(self.data, 0, rows, out=crops)
            crops = crops.view(plan.shape[1], self.crop_frames, *self.data.shape[1:]).to(self.device, non_blocking=True)
        tracks = plan[0]
        inside = self._frame < self._lengths[tracks, None]  # (n, T): False only in a short track's padding
        crops = torch.where(inside[:, :, None, None], crops, self._floors[tracks, None, None, None])
        crops = crops.transpose(1, 2).contiguous()  # (n, 2, T, M), the network's layout
        out = torch.addcmul(self._shift, crops, self._scale) if self.standardize else crops.to(torch.float32)
        return list(out.split([len(g) for g in groups]))


def _to(batch: dict, device: torch.device) -> dict:
    out = {}
    for key, value in batch.items():
        if isinstance(value, dict):
            value = _to(value, device)
        elif isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
        out[key] = value
    return out


class DeviceBatches(TrainSteps):
    """:class:`TrainSteps` over :class:`DeviceCrops`: item ``g`` is step ``g``'s whole batch, already
    on the crops' device (targets ``z`` and ``same`` too)."""

    def __getitem__(self, global_step: int) -> dict:
        return _to(super().__getitem__(global_step), self.crops.device)


class DeviceValidationBatches(ValidationBatches):
    """:class:`ValidationBatches` over :class:`DeviceCrops`, every tensor on the crops' device."""

    def __getitem__(self, i: int) -> dict:
        return _to(super().__getitem__(i), self.crops.device)


__all__ = ["PLACEMENTS", "DeviceBatches", "DeviceCrops", "DeviceValidationBatches", "cache_bytes",
           "resolve_placement"]
