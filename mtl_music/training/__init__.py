"""Multi-source training: step plan, batches, LightningModule, callbacks, loggers."""

from mtl_music.training.data import JOINT, SourceTracks, TrainSteps, ValidationBatches, align_source
from mtl_music.training.datamodule import MultiSourceDataModule
from mtl_music.training.module import MultiSourceModule

__all__ = [
    "JOINT",
    "MultiSourceDataModule",
    "MultiSourceModule",
    "SourceTracks",
    "TrainSteps",
    "ValidationBatches",
    "align_source",
]
