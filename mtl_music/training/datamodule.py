"""The LightningDataModule: a mel cache plus the aligned learning sources."""

from __future__ import annotations

from typing import Mapping

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from mtl_music.errors import ConfigError
from mtl_music.training.data import EpochSteps, SourceTracks, TrainSteps, ValidationBatches
from mtl_music.training.device_data import (PLACEMENTS, DeviceBatches, DeviceCrops, DeviceValidationBatches,
                                            cache_bytes, free_device_memory, resolve_placement)


class MultiSourceDataModule(pl.LightningDataModule):
    """Serves :class:`TrainSteps` and :class:`ValidationBatches` for one run.

    ``crops`` is a :class:`mtl_music.data.RandomCrops` over the dataset's mel cache (it
    standardises with the training split's band statistics). The rank and world size are
    read from the trainer in :meth:`setup`, so every rank builds the same step plan and
    takes its own slice of each batch.

    ``placement`` (``data.placement``): ``loader`` reads crops from the memory-mapped cache in
    DataLoader workers; ``device``/``shard``/``host``/``auto`` hold the cache in the training
    process (loaded once onto the trainer's device, a 1/world share of it per DDP rank, or the
    shared memory map, gathered into pinned memory) and cut each batch there with no worker (:mod:`mtl_music.training.device_data`) — the same batches
    for the same seed.

    ``fold_steps`` (``trainer.fold_steps``): each loader item is a list of that many consecutive
    steps' batches, trained in one ``training_step`` (:class:`~mtl_music.training.MultiSourceModule`
    with ``fold_steps``); under ``device`` placement a fold's crops are cut in one gather.
    """

    def __init__(
        self,
        *,
        crops,
        sources: Mapping[str, SourceTracks],
        batch_size: int,
        seed: int,
        sampling: str = "alternating",
        num_workers: int = 0,
        val_batches_per_source: int = 4,
        limit_train_steps: int | None = None,
        placement: str = "loader",
        device_memory_share: float = 0.8,
        fold_steps: int = 1,
    ) -> None:
        super().__init__()
        self.crops = crops
        self.sources = dict(sources)
        self.batch_size = batch_size
        self.seed = seed
        self.sampling = sampling
        self.num_workers = num_workers
        self.val_batches_per_source = val_batches_per_source
        self.limit_train_steps = limit_train_steps
        if placement not in ("loader", *PLACEMENTS):
            raise ConfigError(f"data.placement={placement!r} is unknown; choose loader (DataLoader workers), "
                              f"{', '.join(PLACEMENTS)} (e.g. data.placement=auto)")
        self.placement = placement
        self.device_memory_share = float(device_memory_share)
        self.fold_steps = int(fold_steps)
        # The loaded cache (placement != loader); crops may already be one (benchmarks' synthetic caches).
        self.resident: DeviceCrops | None = crops if isinstance(crops, DeviceCrops) else None
        if self.resident is not None:
            self.placement = "device"
        self.train_steps: TrainSteps | None = None
        self.validation: ValidationBatches | None = None

    def setup(self, stage: str | None = None) -> None:
        rank, world = 0, 1
        device = torch.device("cpu")
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
            device = self.trainer.strategy.root_device
        if self.fold_steps > 1 and world > 1:
            raise ConfigError(f"trainer.fold_steps={self.fold_steps} trains several steps per training_step, which "
                              f"DDP cannot synchronise ({world} ranks): use trainer.fold_steps=1 with DDP, or run "
                              "one device per run (trainer=gpu) and several runs per GPU")
        crops, steps, validation, ranks = self.crops, TrainSteps, ValidationBatches, {}
        if self.placement != "loader":
            if self.resident is None:
                placement = resolve_placement(self.placement, device=device, nbytes=cache_bytes(self.crops.cache),
                                              memory_share=self.device_memory_share, world_size=world,
                                              free=free_device_memory(device))
                self.resident = DeviceCrops.from_cache(self.crops.cache, crop_frames=self.crops.crop_frames,
                                                       device=device, placement=placement,
                                                       standardize=self.crops.standardize, rank=rank,
                                                       world_size=world)
            crops, steps, validation = self.resident, DeviceBatches, DeviceValidationBatches
            ranks = dict(rank=rank, world_size=world)
        self.train_steps = steps(
            crops=crops, sources=list(self.sources.values()), batch_size=self.batch_size,
            seed=self.seed, sampling=self.sampling, rank=rank, world_size=world,
        )
        self.validation = validation(
            crops=crops, sources=list(self.sources.values()), batch_size=self.batch_size,
            batches_per_source=self.val_batches_per_source, seed=self.seed, **ranks,
        )

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        # Resident batches are cut on the device already; Lightning's walk over a fold's tensors
        # to move them would cost ~1 ms a step for nothing.
        if self.resident is not None and self.resident.device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def _loader(self, dataset, sampler) -> DataLoader:
        # Resident crops are cut in the training process itself: no worker, no pinning.
        workers = self.num_workers if self.placement == "loader" else 0
        return DataLoader(
            dataset,
            batch_size=None,  # items are whole batches
            sampler=sampler,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=False,
            # Its own generator: creating an iterator must not draw from torch's global RNG
            # (dropout's), or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_steps is not None
        sampler = EpochSteps(self.train_steps.steps_per_epoch, limit=self.limit_train_steps, fold=self.fold_steps)
        return self._loader(self.train_steps, sampler)

    def val_dataloader(self) -> DataLoader:
        assert self.validation is not None
        return self._loader(self.validation, None)
