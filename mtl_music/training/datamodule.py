"""The LightningDataModule: a mel cache plus the aligned learning sources."""

from __future__ import annotations

from typing import Mapping

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from mtl_music.training.data import EpochSteps, SourceTracks, TrainSteps, ValidationBatches


class MultiSourceDataModule(pl.LightningDataModule):
    """Serves :class:`TrainSteps` and :class:`ValidationBatches` for one run.

    ``crops`` is a :class:`mtl_music.data.RandomCrops` over the dataset's mel cache (it
    standardises with the training split's band statistics). The rank and world size are
    read from the trainer in :meth:`setup`, so every rank builds the same step plan and
    takes its own slice of each batch.
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
        self.train_steps: TrainSteps | None = None
        self.validation: ValidationBatches | None = None

    def setup(self, stage: str | None = None) -> None:
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        self.train_steps = TrainSteps(
            crops=self.crops, sources=list(self.sources.values()), batch_size=self.batch_size,
            seed=self.seed, sampling=self.sampling, rank=rank, world_size=world,
        )
        self.validation = ValidationBatches(
            crops=self.crops, sources=list(self.sources.values()), batch_size=self.batch_size,
            batches_per_source=self.val_batches_per_source, seed=self.seed,
        )

    def _loader(self, dataset, sampler) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=None,  # items are whole batches
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=False,
            # Its own generator: creating an iterator must not draw from torch's global RNG
            # (dropout's), or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_steps is not None
        sampler = EpochSteps(self.train_steps.steps_per_epoch, limit=self.limit_train_steps)
        return self._loader(self.train_steps, sampler)

    def val_dataloader(self) -> DataLoader:
        assert self.validation is not None
        return self._loader(self.validation, None)
