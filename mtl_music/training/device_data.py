"""Training batches cut on the training device (``data.placement=device|shard|host|auto``).

The float16 mel cache and its index (offsets, lengths, floors) are held by :class:`DeviceCrops`:
in device memory, loaded once (``device``), a 1/world share of it on each DDP rank (``shard``),
or as the memory-mapped file that every process on the machine shares through the page cache
(``host``: each batch gathered into pinned memory and copied asynchronously). A batch is **one
gather**: track offsets + crop starts → ``(B, 2, T, M)``, padded with each track's floor and
standardised on the device.

The crop starts are drawn exactly as :class:`~mtl_music.data.RandomCrops` draws them (same numpy
generator, same order): :class:`CropRequests` records what :class:`~mtl_music.training.data.TrainSteps`
asks for, so :class:`DeviceBatches` yields tensor-equal batches for the same (seed, epoch, step,
rank) with no DataLoader worker, cutting a whole fold of steps (``trainer.fold_steps``) in one
gather. Under ``shard`` every rank also records the other ranks' requests (a pure function of the
seed), cuts the crops its shard holds for each of them and swaps them in one ``all_to_all``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Callable, Sequence

import numpy as np
import torch

from mtl_music.errors import ConfigError
from mtl_music.training.data import TrainSteps, ValidationBatches

log = logging.getLogger(__name__)

PLACEMENTS = ("host", "device", "shard", "auto")
#: Rows copied per chunk when the cache is loaded: the whole cache never sits in pageable host memory.
_LOAD_ROWS = 1 << 18


def cache_bytes(cache) -> int:
    """Bytes of a cache's float16 rows (what ``placement=device`` puts on the device)."""
    return int(cache.data.shape[0]) * int(cache.frame_bytes)


def free_device_memory(device: torch.device) -> int | None:
    """Free bytes on ``device`` (``None`` on the CPU), the smallest over the DDP ranks when a
    process group runs, so that every rank resolves ``auto`` to the same placement."""
    if device.type != "cuda":
        return None
    free = torch.tensor(torch.cuda.mem_get_info(device)[0], dtype=torch.int64, device=device)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(free, op=torch.distributed.ReduceOp.MIN)
    return int(free)


def resolve_placement(placement: str, *, device: torch.device, nbytes: int, memory_share: float = 0.8,
                      world_size: int = 1, free: int | None = None) -> str:
    """``host``, ``device`` or ``shard``. ``auto``: ``device`` when the whole cache (``nbytes``) fits
    in ``memory_share`` of the free device memory (always on the CPU, whose "device" memory is host
    memory), else ``shard`` when one rank's 1/``world_size`` share fits, else ``host``. ``shard``
    with one process is ``device``. ``free`` defaults to the device's free memory now."""
    if placement not in PLACEMENTS:
        raise ConfigError(f"data.placement={placement!r} is unknown; choose one of loader, {', '.join(PLACEMENTS)} "
                          "(e.g. data.placement=auto)")
    if placement == "shard" and world_size == 1:
        return "device"
    if placement != "auto":
        return placement
    if device.type != "cuda":
        return "device"
    if free is None:
        free = torch.cuda.mem_get_info(device)[0]
    budget = float(memory_share) * free
    chosen = ("device" if nbytes <= budget else
              "shard" if world_size > 1 and -(-nbytes // world_size) <= budget else "host")
    log.info("data.placement=auto: the cache (%.1f GB, %d rank(s)) and %.0f %% of the device's %.1f GB free -> %s",
             nbytes / 1e9, world_size, 100 * memory_share, free / 1e9, chosen)
    return chosen


def shard_owners(offsets, n_frames, world_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits the cache's rows into ``world_size`` contiguous ranges of whole tracks, about equal in
    rows. Returns ``owner`` ((n_tracks,) int64: the shard holding each track) and ``rows``
    ((world_size, 2) int64: each shard's first and end row)."""
    offsets, n_frames = np.asarray(offsets, np.int64), np.asarray(n_frames, np.int64)
    order = np.argsort(offsets, kind="stable")
    ends = np.cumsum(n_frames[order])
    total = int(ends[-1]) if len(ends) else 0
    # A track goes to the shard in which its middle row falls, by cumulative rows in row order.
    middle = ends - n_frames[order] / 2
    shard_of_sorted = np.minimum((middle * world_size) // max(total, 1), world_size - 1).astype(np.int64)
    owner = np.empty(len(offsets), np.int64)
    owner[order] = shard_of_sorted
    rows = np.zeros((world_size, 2), np.int64)
    for r in range(world_size):
        mine = owner == r
        if mine.any():
            rows[r] = offsets[mine].min(), (offsets[mine] + n_frames[mine]).max()
    return owner, rows


class DeviceCrops:
    """``crops(indices, generator=rng)`` → ``(B, 2, crop_frames, n_mels)`` float32 on ``device``;
    ``crops.many([left, right], generator=rng)`` cuts several index groups in one gather;
    ``crops.cut(tracks, starts)`` cuts given starts.

    Args:
        data: ``(rows, 2, n_mels)`` float16 tensor, every track a contiguous range of rows (a
            :class:`~mtl_music.data.MelCache`'s layout), kept where it is;
            under sharding only this rank's rows ``[row0, row0 + rows)``; a CPU tensor over the
            cache's memory map for ``host``.
        offsets, n_frames: ``(n_tracks,)`` int64, each track's first row (in the whole cache) and length.
        floors: ``(n_tracks,)`` float32, each track's padding value (dB).
        mean, std: ``(n_mels,)`` float32 band statistics, or ``None`` for raw dB.
        device: where batches are returned (and standardised).
        owner, rank: under sharding, ``(n_tracks,)`` the shard of each track (:func:`shard_owners`)
            and the one held here; ``row0`` the first row held.
    """

    def __init__(self, *, data: torch.Tensor, offsets, n_frames, floors, mean=None, std=None,
                 crop_frames: int = 216, device: torch.device | str = "cpu", owner=None, rank: int = 0,
                 row0: int = 0) -> None:
        if crop_frames <= 0:
            raise ValueError(f"crop_frames must be positive, got {crop_frames}")
        self.device = torch.device(device)
        self.data = data
        self.crop_frames = int(crop_frames)
        self.owner = None if owner is None else np.asarray(owner, dtype=np.int64)
        self.rank = int(rank)
        # The starts are drawn on the host from these numpy lengths (RandomCrops' draw, bit for bit).
        self.n_frames = np.asarray(n_frames, dtype=np.int64)
        # The index where the gather runs (the data's memory) and, for padding, on the device.
        self._offsets = torch.as_tensor(np.asarray(offsets, dtype=np.int64) - int(row0), device=data.device)
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

    @property
    def sharded(self) -> bool:
        return self.owner is not None

    @classmethod
    def from_cache(cls, cache, *, crop_frames: int = 216, device: torch.device | str = "cpu",
                   placement: str = "device", standardize: bool = True, rank: int = 0,
                   world_size: int = 1) -> "DeviceCrops":
        """Loads ``cache`` (a :class:`~mtl_music.data.MelCache`) once: onto ``device``
        (``placement=device``) or this rank's shard of it (``shard``); ``host`` gathers from the
        cache's memory map (shared by every process through the page cache) into pinned buffers."""
        device = torch.device(device)
        source = cache.data  # (rows, 2, n_mels) float16 memmap
        owner, first, end = None, 0, source.shape[0]
        if placement == "shard" and world_size > 1:
            owner, rows = shard_owners(cache.offsets, cache.n_frames, world_size)
            first, end = (int(v) for v in rows[rank])
        elif placement not in ("device", "host", "shard"):
            raise ConfigError(f"DeviceCrops placement={placement!r}: resolve 'auto' first (resolve_placement)")
        if placement == "host":
            # The memory map itself: the OS page cache holds one copy of the cache for every process
            # on the machine (k runs per GPU, 8 GPUs), where a pinned copy each would not fit.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # read-only: never written through
                data = torch.from_numpy(source)
        else:
            data = torch.empty((end - first, *source.shape[1:]), dtype=torch.float16, device=device)
            for row in range(first, end, _LOAD_ROWS):
                chunk = torch.from_numpy(np.array(source[row:min(row + _LOAD_ROWS, end)]))  # a writable copy
                data[row - first:row - first + len(chunk)].copy_(chunk)
        if owner is not None:
            log.info("data.placement=shard: rank %d holds rows %d-%d of %d (%.1f GB)", rank, first, end,
                     source.shape[0], data.numel() * 2 / 1e9)
        return cls(data=data, offsets=cache.offsets, n_frames=cache.n_frames, floors=cache.floors,
                   mean=cache.mean if standardize else None, std=cache.std if standardize else None,
                   crop_frames=crop_frames, device=device, owner=owner, rank=rank, row0=first)

    def starts(self, indices: np.ndarray, *, generator: np.random.Generator) -> np.ndarray:
        """The crop start of each track (int64), drawn as :meth:`RandomCrops.starts` draws them."""
        n_valid = np.maximum(self.n_frames[indices] - self.crop_frames + 1, 1)
        return generator.integers(0, n_valid, dtype=np.int64) if len(indices) else np.zeros(0, np.int64)

    def __call__(self, indices, *, generator: np.random.Generator) -> torch.Tensor:
        return self.many([indices], generator=generator)[0]

    def many(self, groups, *, generator: np.random.Generator) -> list[torch.Tensor]:
        """One crop per track of each group, the starts drawn group after group (as successive
        :meth:`__call__` would): a list of ``(len(group), 2, T, M)`` float32 tensors."""
        groups = [np.asarray(g, dtype=np.int64).reshape(-1) for g in groups]
        starts = [self.starts(g, generator=generator) for g in groups]
        crops = self.cut(np.concatenate(groups), np.concatenate(starts))
        return list(crops.split([len(g) for g in groups]))

    def cut(self, tracks: np.ndarray, starts: np.ndarray) -> torch.Tensor:
        """``(n, 2, T, M)`` float32 crops of ``tracks`` at ``starts`` (both ``(n,)`` int64), in one
        gather. Under sharding, only tracks this rank holds (:meth:`exchange` cuts the others)."""
        if self.sharded and len(tracks) and np.any(self.owner[tracks] != self.rank):
            raise RuntimeError("a sharded DeviceCrops cuts only its own tracks; batches go through exchange()")
        raw, on_device = self._raw(tracks, starts)
        return self._finish(raw, on_device)

    def exchange(self, requests: Sequence[tuple[np.ndarray, np.ndarray]]) -> torch.Tensor:
        """Under sharding: ``requests[r]`` = (tracks, starts) of rank ``r``'s crops, the same list on
        every rank. Each rank cuts the crops its shard holds for every rank and one ``all_to_all``
        delivers them; returns this rank's ``(n, 2, T, M)`` crops, as :meth:`cut` would."""
        import torch.distributed as dist

        world = len(requests)
        owners = [self.owner[np.asarray(t, np.int64)] for t, _ in requests]
        held = [o == self.rank for o in owners]
        send_tracks = np.concatenate([t[h] for (t, _), h in zip(requests, held)])
        send_starts = np.concatenate([s[h] for (_, s), h in zip(requests, held)])
        send = self._raw(send_tracks, send_starts)[0].contiguous()
        tracks = np.asarray(requests[self.rank][0], np.int64)
        mine = owners[self.rank]
        received = send.new_empty((len(tracks), *send.shape[1:]))
        dist.all_to_all_single(received, send, output_split_sizes=[int(np.sum(mine == o)) for o in range(world)],
                               input_split_sizes=[int(h.sum()) for h in held])
        # Received in owner order; put each crop back at its place in this rank's request.
        order = torch.from_numpy(np.argsort(mine, kind="stable")).to(received.device)
        raw = torch.empty_like(received)
        raw[order] = received
        return self._finish(raw, torch.from_numpy(tracks).to(self.device, non_blocking=True))

    def _raw(self, tracks: np.ndarray, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, T, 2, M)`` float16 cache rows of the crops on ``device`` (rows past a short track's
        end repeat its last row; :meth:`_finish` pads them with the floor), and the tracks there."""
        plan_host = torch.from_numpy(np.stack([np.asarray(tracks, np.int64), np.asarray(starts, np.int64)]))
        plan = plan_host.to(self.device, non_blocking=True)  # the step's whole index: one copy
        if self.data.device == self.device:
            return self.data[self._rows(plan)], plan[0]
        # Host placement: gather into pinned memory, copy asynchronously.
        rows = self._rows(plan_host).reshape(-1)
        crops = torch.empty((len(rows), *self.data.shape[1:]), dtype=self.data.dtype,
                            pin_memory=self.device.type == "cuda")
        torch.index_select(self.data, 0, rows, out=crops)
        crops = crops.view(len(tracks), self.crop_frames, *self.data.shape[1:])
        return crops.to(self.device, non_blocking=True), plan[0]

    def _rows(self, plan: torch.Tensor) -> torch.Tensor:
        """(n, T) data rows of the crops of ``plan`` = (tracks, starts), on the plan's memory."""
        tracks, first = plan[0], plan[1]
        offset = self._offsets[tracks]
        frame = torch.arange(self.crop_frames, device=plan.device)
        last = offset + self._data_lengths[tracks] - 1
        return torch.minimum(offset[:, None] + first[:, None] + frame, last[:, None])

    def _finish(self, raw: torch.Tensor, tracks: torch.Tensor) -> torch.Tensor:
        """Floor padding, the network's layout and standardisation of :meth:`_raw`'s crops
        (``tracks``: their ``(n,)`` int64 track indices on ``device``)."""
        inside = self._frame < self._lengths[tracks, None]  # (n, T): False only in a short track's padding
        crops = torch.where(inside[:, :, None, None], raw, self._floors[tracks, None, None, None])
        crops = crops.transpose(1, 2).contiguous()  # (n, 2, T, M), the network's layout
        return torch.addcmul(self._shift, crops, self._scale) if self.standardize else crops.to(torch.float32)


class _Slot:
    """Where a recorded crop group sits in the fold's single gather."""

    __slots__ = ("start", "stop")

    def __init__(self, start: int, stop: int) -> None:
        self.start, self.stop = start, stop


class CropRequests:
    """Stands in for :class:`DeviceCrops` while a batch is built: draws the starts exactly as
    :class:`DeviceCrops` would (the same generator calls, in the same order) and records
    (tracks, starts), returning placeholders; :meth:`fill` puts the cut crops in their place."""

    def __init__(self, crops: DeviceCrops) -> None:
        self.crops = crops
        self._tracks: list[np.ndarray] = []
        self._starts: list[np.ndarray] = []
        self.n = 0

    def __call__(self, indices, *, generator: np.random.Generator) -> _Slot:
        tracks = np.asarray(indices, dtype=np.int64).reshape(-1)
        self._tracks.append(tracks)
        self._starts.append(self.crops.starts(tracks, generator=generator))
        slot = _Slot(self.n, self.n + len(tracks))
        self.n += len(tracks)
        return slot

    def many(self, groups, *, generator: np.random.Generator) -> list[_Slot]:
        return [self(group, generator=generator) for group in groups]

    @property
    def tracks(self) -> np.ndarray:
        return np.concatenate(self._tracks) if self._tracks else np.zeros(0, np.int64)

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate(self._starts) if self._starts else np.zeros(0, np.int64)

    def fill(self, batch: dict, crops: torch.Tensor) -> dict:
        """``batch`` with its placeholders replaced by their rows of ``crops`` and every other
        tensor moved to the crops' device."""
        out = {}
        for key, value in batch.items():
            if isinstance(value, dict):
                value = self.fill(value, crops)
            elif isinstance(value, _Slot):
                value = crops[value.start:value.stop]
            elif isinstance(value, torch.Tensor):
                value = value.to(crops.device, non_blocking=True)
            out[key] = value
        return out


def cut_together(crops: DeviceCrops, build: Callable[[CropRequests, int], list[dict]], *, rank: int,
                 world_size: int) -> list[dict]:
    """The batches ``build(requests, rank)`` describes, all their crops cut in one gather (under
    sharding: every rank's requests recorded, one exchange)."""
    own = CropRequests(crops)
    batches = build(own, rank)
    if not crops.sharded:
        cut = crops.cut(own.tracks, own.starts)
    else:
        requests = []
        for r in range(world_size):
            recorded = own
            if r != rank:  # another rank's batches: recorded for their crops, then dropped
                recorded = CropRequests(crops)
                build(recorded, r)
            requests.append((recorded.tracks, recorded.starts))
        cut = crops.exchange(requests)
    return [own.fill(batch, cut) for batch in batches]


class DeviceBatches(TrainSteps):
    """:class:`TrainSteps` over :class:`DeviceCrops`: item ``g`` is step ``g``'s whole batch (a
    ``range`` of steps: the list of their batches, cut in one gather), already on the crops'
    device (targets ``z`` and ``same`` too)."""

    def __getitem__(self, index: int | range) -> dict | list[dict]:
        steps = index if isinstance(index, range) else [int(index)]
        batches = cut_together(self.crops, lambda requests, rank: [self.batch(g, rank=rank, crops=requests)
                                                                   for g in steps],
                               rank=self.rank, world_size=self.world_size)
        return batches if isinstance(index, range) else batches[0]


class DeviceValidationBatches(ValidationBatches):
    """:class:`ValidationBatches` over :class:`DeviceCrops`, every tensor on the crops' device (every
    rank validates on the same batches; under sharding they are exchanged like training batches)."""

    def __init__(self, *, rank: int = 0, world_size: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rank, self.world_size = rank, world_size

    def __getitem__(self, i: int) -> dict:
        return cut_together(self.crops, lambda requests, rank: [self.batch(i, crops=requests)],
                            rank=self.rank, world_size=self.world_size)[0]


__all__ = ["PLACEMENTS", "CropRequests", "DeviceBatches", "DeviceCrops", "DeviceValidationBatches", "cache_bytes",
           "cut_together", "free_device_memory", "resolve_placement", "shard_owners"]
