"""Batches for multi-source training: the mel cache joined with each source's z_t.

A training step is one item of :class:`TrainSteps` (map-style, indexed by the global step),
so the DataLoader returns whole batches (``batch_size=None``) and the batch content is a
pure function of (seed, epoch, step, rank) — see :mod:`mtl_music.training.schedule`.

Batch layouts (all tensors float32 unless said):

* a labelled source: ``{"source": name, "x": (B, 2, T, M), "z": (B, k)}``
* ``self``: ``{"source": "self", "x": (B, 2, T, M), "x_right": (B, 2, T, M), "same": (B,) int64}``
* joint sampling: ``{"source": JOINT, "x": ..., "z": {name: (B, k)}, ["x_right", "same"]}``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from mtl_music.errors import ConfigError
from mtl_music.training.schedule import SourceSchedule, batch_positions, step_rng

#: The ``source`` value of a joint-sampling batch (every head on the same tracks).
JOINT = "__joint__"


@dataclass
class SourceTracks:
    """One learning source aligned to a mel cache.

    ``train``/``valid`` are cache indices of the tracks that have labels for this source;
    ``train_z``/``valid_z`` their z_t rows, ``(n, k)`` float32 (``None`` for self, whose
    pool is every track of the split).
    """

    name: str
    k: int
    train: np.ndarray
    valid: np.ndarray
    train_z: np.ndarray | None = None
    valid_z: np.ndarray | None = None

    @property
    def is_self(self) -> bool:
        return self.train_z is None


def align_source(labels, cache) -> SourceTracks:
    """Join a source's :class:`~mtl_music.sources.SourceLabels` with a mel cache's tracks.

    Tracks of the cache's ``test`` split are never used for training or validation.
    """
    splits = np.asarray(cache.splits)
    if labels.z is None:  # self: every track of the dataset
        train = np.flatnonzero(splits == "train")
        valid = np.flatnonzero(splits == "valid")
        return SourceTracks(name=labels.name, k=2, train=train, valid=valid)
    position = {tid: i for i, tid in enumerate(cache.track_ids)}
    rows, idx = [], []
    for row, tid in enumerate(labels.track_ids):
        i = position.get(str(tid))
        if i is not None:
            rows.append(row)
            idx.append(i)
    rows_a = np.asarray(rows, dtype=np.int64)
    idx_a = np.asarray(idx, dtype=np.int64)
    z = np.asarray(labels.z, dtype=np.float32)
    in_train = splits[idx_a] == "train" if len(idx_a) else np.zeros(0, bool)
    in_valid = splits[idx_a] == "valid" if len(idx_a) else np.zeros(0, bool)
    return SourceTracks(
        name=labels.name,
        k=int(z.shape[1]),
        train=idx_a[in_train],
        valid=idx_a[in_valid],
        train_z=z[rows_a[in_train]],
        valid_z=z[rows_a[in_valid]],
    )


def align_sources(labels: dict, cache, *, data_name: str, labels_dir: str) -> dict[str, SourceTracks]:
    """Every source aligned with the cache (:func:`align_source`); fails before training, naming
    the sources that have no labelled training track in this dataset and those that have."""
    aligned = {name: align_source(source_labels, cache) for name, source_labels in labels.items()}
    empty = [n for n, s in aligned.items() if len(s.train) == 0]
    if empty:
        usable = [n for n in aligned if n not in empty]
        raise ConfigError(
            f"source(s) {', '.join(empty)} have no labelled training track in dataset '{data_name}' "
            f"(cache {getattr(cache, 'path', '')}). Sources of this run with labels: "
            f"{', '.join(usable) or 'none'}; check the label files in {labels_dir} and the track ids "
            "of the manifest."
        )
    return aligned


def _pairs(pool: np.ndarray, batch_size: int, rng: np.random.Generator):
    from mtl_music.sources.self_pairs import SelfPairSampler

    left, right, same = SelfPairSampler(pool).sample(batch_size, generator=rng)
    return np.asarray(left), np.asarray(right), np.asarray(same)


def cut_crops(crops, groups: Sequence[np.ndarray], rng: np.random.Generator) -> list[torch.Tensor]:
    """One crop per track of each index group, the starts drawn group after group: in one gather
    where the crops can (:meth:`~mtl_music.training.device_data.DeviceCrops.many`)."""
    many = getattr(crops, "many", None)
    if many is not None:
        return many(groups, generator=rng)
    return [crops(group, generator=rng) for group in groups]


class TrainSteps(Dataset):
    """Map-style dataset whose item ``g`` is the whole batch of global step ``g``.

    ``g = epoch · steps_per_epoch + step``. With ``sampling="alternating"`` (the paper's
    Algorithm 1) each step uses one source drawn by :class:`SourceSchedule`; with
    ``sampling="joint"`` every step trains every head on tracks that carry all labels.
    """

    def __init__(
        self,
        *,
        crops,
        sources: Sequence[SourceTracks],
        batch_size: int,
        seed: int,
        sampling: str = "alternating",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if sampling not in ("alternating", "joint"):
            raise ConfigError(f"training.sampling={sampling!r} is unknown; choose 'alternating' (the paper) or 'joint'")
        if batch_size % 2 and any(s.is_self for s in sources):
            raise ConfigError(f"data.batch_size={batch_size} must be even with the self source (balanced pairs)")
        self.crops = crops
        self.sources = list(sources)
        self.batch_size = batch_size
        self.seed = seed
        self.sampling = sampling
        self.rank = rank
        self.world_size = world_size
        n_tracks = max(len(s.train) for s in self.sources)
        global_batch = batch_size * world_size
        if sampling == "joint":
            self.joint_pool, self.joint_z = self._joint_pool()
            steps = max(1, -(-n_tracks // global_batch))
            self.schedule = None
        else:
            steps = SourceSchedule.epoch_length(n_tracks=n_tracks, global_batch=global_batch, n_sources=len(self.sources))
            self.schedule = SourceSchedule(n_sources=len(self.sources), steps_per_epoch=steps, seed=seed)
        self.steps_per_epoch = steps

    def _joint_pool(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        labelled = [s for s in self.sources if not s.is_self]
        if not labelled:
            pool = self.sources[0].train
            return pool, {}
        pool = labelled[0].train
        for s in labelled[1:]:
            pool = np.intersect1d(pool, s.train)
        if len(pool) == 0:
            names = ", ".join(s.name for s in labelled)
            raise ConfigError(
                f"training.sampling=joint needs tracks labelled by every source ({names}), and none are; "
                "use training.sampling=alternating (the paper's protocol) for sources that cover different tracks"
            )
        z = {}
        for s in labelled:
            where = {int(t): i for i, t in enumerate(s.train)}
            z[s.name] = s.train_z[[where[int(t)] for t in pool]]
        return pool, z

    def __len__(self) -> int:  # one epoch; the sampler supplies global step numbers
        return self.steps_per_epoch

    def __getitem__(self, index: int | range) -> dict | list[dict]:
        """Global step ``index``'s batch; for a ``range`` of consecutive global steps (a fold,
        ``trainer.fold_steps``), the list of their batches."""
        if isinstance(index, range):
            return [self.batch(g) for g in index]
        return self.batch(int(index))

    def batch(self, global_step: int, *, rank: int | None = None, crops=None) -> dict:
        """The batch of ``global_step`` on ``rank`` (default: this dataset's own), its crops cut by
        ``crops`` (default: this dataset's own; :class:`~mtl_music.training.device_data.CropRequests`
        records them instead, so that a whole fold, or every rank's batch, is cut in one gather)."""
        rank = self.rank if rank is None else int(rank)
        crops = self.crops if crops is None else crops
        epoch, step = divmod(int(global_step), self.steps_per_epoch)
        rng = step_rng(seed=self.seed, epoch=epoch, step=step, rank=rank)
        if self.sampling == "joint":
            return self._joint_batch(epoch, step, rng, rank=rank, crops=crops)
        plan = self.schedule.plan(epoch)
        source = self.sources[int(plan.sources[step])]
        if source.is_self:
            left, right, same = _pairs(source.train, self.batch_size, rng)
            x, x_right = cut_crops(crops, [left, right], rng)
            return {
                "source": source.name,
                "x": x,
                "x_right": x_right,
                "same": torch.as_tensor(same, dtype=torch.int64),
            }
        pos = batch_positions(
            n_items=len(source.train), batch_size=self.batch_size, occurrence=int(plan.occurrence[step]),
            rank=rank, world_size=self.world_size, seed=self.seed, epoch=epoch, key=int(plan.sources[step]),
        )
        return {
            "source": source.name,
            "x": crops(source.train[pos], generator=rng),
            "z": torch.from_numpy(source.train_z[pos]),
        }

    def _joint_batch(self, epoch: int, step: int, rng: np.random.Generator, *, rank: int, crops) -> dict:
        pos = batch_positions(
            n_items=len(self.joint_pool), batch_size=self.batch_size, occurrence=step,
            rank=rank, world_size=self.world_size, seed=self.seed, epoch=epoch, key=1_000_000,
        )
        tracks = self.joint_pool[pos]
        batch = {
            "source": JOINT,
            "x": crops(tracks, generator=rng),
            "z": {name: torch.from_numpy(z[pos]) for name, z in self.joint_z.items()},
        }
        if any(s.is_self for s in self.sources):
            # The batch's own tracks are the left crops; half the right crops come from the same
            # track (a second crop), half from another track of the batch.
            half = self.batch_size // 2
            other = (np.arange(self.batch_size) + 1 + rng.integers(0, self.batch_size - 1, self.batch_size)) % self.batch_size
            right = np.where(np.arange(self.batch_size) < half, tracks, tracks[other])
            same = (np.arange(self.batch_size) < half) | (right == tracks)
            batch["x_right"] = crops(right, generator=rng)
            batch["same"] = torch.as_tensor(same, dtype=torch.int64)
        return batch


class EpochSteps(Sampler):
    """Yields the global step numbers of the current epoch, in order, on every rank; with
    ``fold > 1``, ranges of up to ``fold`` consecutive steps (the last one of an epoch may be
    shorter), each one item of the loader and one ``training_step`` (``trainer.fold_steps``).

    Lightning calls :meth:`set_epoch` before each epoch (also under DDP, where this
    sampler deliberately replaces the DistributedSampler: ranks split each batch, not
    the steps).
    """

    def __init__(self, steps_per_epoch: int, *, limit: int | None = None, fold: int = 1) -> None:
        if int(fold) < 1:
            raise ConfigError(f"trainer.fold_steps={fold} must be a positive number of steps per training_step")
        self.steps_per_epoch = steps_per_epoch
        self.limit = limit
        self.fold = int(fold)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def steps(self) -> int:
        """Steps of one epoch (``limit_train_steps`` applied)."""
        return self.steps_per_epoch if self.limit is None else min(self.limit, self.steps_per_epoch)

    def __len__(self) -> int:
        return -(-self.steps // self.fold)

    def __iter__(self):
        # A generator, so the epoch is read when iteration really starts: on resume Lightning
        # creates the iterator before it calls set_epoch.
        first = self.epoch * self.steps_per_epoch
        end = first + self.steps
        if self.fold == 1:
            yield from range(first, end)
        else:
            for start in range(first, end, self.fold):
                yield range(start, min(start + self.fold, end))


class ValidationBatches(Dataset):
    """Fixed validation batches: per source, up to ``batches_per_source`` batches of its
    validation tracks, with crops from a fixed seed so the loss is comparable across epochs."""

    def __init__(self, *, crops, sources: Sequence[SourceTracks], batch_size: int, batches_per_source: int, seed: int):
        self.crops = crops
        self.items: list[tuple[SourceTracks, np.ndarray]] = []
        for s in sources:
            pool = s.valid
            if len(pool) < (2 if s.is_self else 1):
                continue
            n_batches = min(batches_per_source, max(1, -(-len(pool) // batch_size)))
            for b in range(n_batches):
                self.items.append((s, np.arange(b * batch_size, min((b + 1) * batch_size, len(pool))) % len(pool)))
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.batch(i)

    def batch(self, i: int, *, crops=None) -> dict:
        """Validation batch ``i``, its crops cut by ``crops`` (default: this dataset's own)."""
        crops = self.crops if crops is None else crops
        source, pos = self.items[i]
        rng = step_rng(seed=self.seed, epoch=0, step=i, stream=7)
        if source.is_self:
            n = len(pos) - len(pos) % 2
            left, right, same = _pairs(source.valid, n, rng)
            x, x_right = cut_crops(crops, [left, right], rng)
            return {"source": source.name, "x": x, "x_right": x_right, "same": torch.as_tensor(same, dtype=torch.int64)}
        return {
            "source": source.name,
            "x": crops(source.valid[pos], generator=rng),
            "z": torch.from_numpy(source.valid_z[pos]),
        }


def source_sizes(sources: Mapping[str, SourceTracks]) -> dict[str, dict[str, int]]:
    """Tracks per source and split, for the run summary."""
    return {name: {"train": int(len(s.train)), "valid": int(len(s.valid)), "k": s.k} for name, s in sources.items()}
