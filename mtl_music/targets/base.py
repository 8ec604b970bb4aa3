"""What every target dataset loader returns, and the train/test splits of the transfer protocol.

A loader (one module per dataset in :mod:`mtl_music.targets`) turns a dataset on disk into a
:class:`TargetIndex`: its tracks (:class:`TargetTrack`, one audio file each, with a label and
the dataset's own split where it has one), the task and the metric. ``splits()`` then gives the
(train, test) positions of the R6.2 protocol, 5 repetitions by default:

* a pre-defined split (GTZAN fault-filtered, FMA, MediaEval): train = train + valid, test = test
  (the paper folds the validation part into training). All repetitions reuse the same split;
  they differ only by the probe's seed, which the evaluation sets per repetition.
* otherwise a random split (``index.test_fraction`` held out, 20 % by default), re-drawn per
  repetition from :func:`repetition_seed` ``(seed, r)``: stratified by label (or by
  ``TargetTrack.stratum`` when it is set, e.g. MediaEval's genre), keeping each
  ``TargetTrack.group`` on one side (IRMAS songs), or plain for recommendation (Last.fm tracks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import ShuffleSplit, StratifiedGroupKFold, StratifiedShuffleSplit

from mtl_music.errors import DataError

#: Task → the metric the paper reports for it (R6.2, R6.3).
TASK_METRICS = {"classification": "accuracy", "regression": "r2", "recommendation": "ndcg@500"}

#: Split names a track may carry.
SPLIT_NAMES = ("train", "valid", "test")

#: The paper's random split: 80 % train, 20 % test.
DEFAULT_TEST_FRACTION = 0.2

#: One repetition's split: (train positions, test positions) into ``index.tracks``, both sorted int64.
Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class TargetTrack:
    """One track of a target dataset.

    Attributes:
        track_id: stable id, unique within the dataset (e.g. ``"blues/blues.00012"``).
        path: the audio file.
        label: class name (classification), float (regression), ``None`` (recommendation).
        split: ``"train" | "valid" | "test"`` where the dataset has a pre-defined split, else ``None``.
        group: tracks sharing a group must stay on one side of a split (IRMAS: one song's excerpts).
        stratum: what random splits stratify on when it is not the label (MediaEval: the genre).
    """

    track_id: str
    path: Path
    label: str | float | None
    split: str | None
    group: str | None = None
    stratum: str | None = None


@dataclass(frozen=True)
class Interactions:
    """Listening data of a recommendation target.

    Attributes:
        matrix: ``scipy.sparse.csr_matrix`` of shape (n_users, n_tracks), float32 play counts;
            column ``j`` is ``index.tracks[j]``, row ``i`` is ``user_ids[i]``.
        user_ids: the dataset's user ids, in row order.
    """

    matrix: sp.csr_matrix
    user_ids: tuple[str, ...]


@dataclass
class TargetIndex:
    """A loaded target dataset: which tracks, which labels, how it is evaluated.

    Attributes:
        name: the config name (``conf/target/<name>.yaml``), e.g. ``"gtzan"`` or ``"demo_region"``.
        loader: the module of :mod:`mtl_music.targets` that built it (``"gtzan"`` for ``demo_region``).
        task: ``"classification" | "regression" | "recommendation"``.
        metric: ``"accuracy" | "r2" | "ndcg@500"``.
        tracks: the tracks, in a stable order (positions in ``splits()`` index this list).
        classes: sorted class names (classification only).
        interactions: users × tracks play counts (recommendation only).
        test_fraction: share of tracks a random split holds out (unused by pre-defined splits).
    """

    name: str
    loader: str
    task: str
    metric: str
    tracks: list[TargetTrack]
    classes: tuple[str, ...] = ()
    interactions: Interactions | None = None
    test_fraction: float = DEFAULT_TEST_FRACTION

    def __post_init__(self) -> None:
        # Loaders build indexes; a contradiction here is a loader bug, so it fails loudly.
        if TASK_METRICS.get(self.task) != self.metric:
            raise ValueError(f"target {self.name}: task {self.task!r} with metric {self.metric!r}; expected {TASK_METRICS}")
        ids = [t.track_id for t in self.tracks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"target {self.name}: duplicate track ids")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"target {self.name}: test_fraction {self.test_fraction} is not in (0, 1)")
        if self.task == "classification" and (
                list(self.classes) != sorted(set(self.classes)) or {t.label for t in self.tracks} - set(self.classes)):
            raise ValueError(f"target {self.name}: classes must be sorted, unique and cover every label")
        if self.task == "recommendation":
            if self.interactions is None or self.interactions.matrix.shape != (len(self.interactions.user_ids), len(self.tracks)):
                raise ValueError(f"target {self.name}: interactions must be (n_users, n_tracks)")

    @property
    def labels(self) -> np.ndarray:
        """Labels in track order: (n_tracks,) str for classification, float64 for regression."""
        if self.task == "regression":
            return np.array([float(t.label) for t in self.tracks], dtype=np.float64)
        return np.array([t.label for t in self.tracks], dtype=object)


def repetition_seed(seed: int, repetition: int) -> int:
    """The random state of repetition ``repetition`` under ``seed``: distinct for every pair
    (``seed + repetition`` would make seed 0 / repetition 1 equal seed 1 / repetition 0)."""
    return int(np.random.SeedSequence([int(seed), int(repetition)]).generate_state(1)[0])


def _check_repetitions(n_repetitions: int) -> None:
    if n_repetitions < 1:
        raise ValueError(f"n_repetitions={n_repetitions} must be at least 1")


def predefined_splits(index: TargetIndex, *, n_repetitions: int = 5) -> list[Split]:
    """The dataset's own split, ``n_repetitions`` times: train = ``train`` + ``valid``, test = ``test``."""
    _check_repetitions(n_repetitions)
    names = np.array([t.split for t in index.tracks], dtype=object)
    if any(name not in SPLIT_NAMES for name in names):
        raise DataError(f"target {index.name}: every track needs a split in {SPLIT_NAMES} for its pre-defined split")
    test = np.flatnonzero(names == "test").astype(np.int64)
    train = np.flatnonzero(names != "test").astype(np.int64)
    if len(test) == 0 or len(train) == 0:
        raise DataError(f"target {index.name}: its pre-defined split has {len(train)} train and {len(test)} test "
                        "tracks; both sides need tracks (is part of the audio missing?)")
    return [(train.copy(), test.copy()) for _ in range(n_repetitions)]


def _strata(index: TargetIndex) -> np.ndarray:
    strata = np.array([t.stratum if t.stratum is not None else t.label for t in index.tracks], dtype=object)
    if any(s is None for s in strata):
        raise DataError(f"target {index.name}: a stratified split needs a label or stratum on every track")
    return strata.astype(str)


def _sorted_split(train: np.ndarray, test: np.ndarray) -> Split:
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


def stratified_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Random splits holding out ``index.test_fraction`` of the tracks, stratified by label (or
    stratum): each class keeps its share on both sides, up to rounding. Repetition ``r`` draws
    with :func:`repetition_seed` ``(seed, r)``."""
    _check_repetitions(n_repetitions)
    strata = _strata(index)
    values, counts = np.unique(strata, return_counts=True)
    if len(index.tracks) < 2 or counts.min() < 2:
        rare = ", ".join(f"{v} ({c})" for v, c in zip(values, counts) if c < 2) or "all"
        raise DataError(f"target {index.name}: a stratified split needs at least 2 tracks per class; too few: {rare}")
    n_test = math.ceil(index.test_fraction * len(strata))
    if n_test < len(values) or len(strata) - n_test < len(values):
        raise DataError(f"target {index.name}: {len(strata)} tracks cannot be split {1 - index.test_fraction:.0%}/"
                        f"{index.test_fraction:.0%} with every one of its {len(values)} classes on both sides; "
                        "add tracks or change test_fraction")
    positions = np.zeros(len(strata))
    result = []
    for repetition in range(n_repetitions):
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=index.test_fraction,
                                          random_state=repetition_seed(seed, repetition))
        result.append(_sorted_split(*next(splitter.split(positions, strata))))
    return result


def group_stratified_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Random splits stratified by label that keep every ``TargetTrack.group`` on one side.

    Repetition ``r`` takes the first fold of a shuffled ``StratifiedGroupKFold`` with
    ``round(1 / test_fraction)`` folds (5 folds: a 80/20 split by groups) drawn with
    :func:`repetition_seed` ``(seed, r)``; the held-out share is that of whole groups, so it is
    close to but not exactly ``test_fraction``. A track without a group is a group of its own.
    """
    _check_repetitions(n_repetitions)
    strata = _strata(index)
    groups = np.array([t.group if t.group is not None else f"track:{t.track_id}" for t in index.tracks], dtype=object)
    n_folds = max(2, round(1.0 / index.test_fraction))
    n_groups = len(set(groups))
    if n_groups < n_folds:
        raise DataError(f"target {index.name}: {n_groups} song group(s) cannot be split {n_folds} ways "
                        f"(test_fraction={index.test_fraction}); add tracks or raise test_fraction")
    positions = np.zeros(len(strata))
    result = []
    for repetition in range(n_repetitions):
        folds = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=repetition_seed(seed, repetition))
        result.append(_sorted_split(*next(folds.split(positions, strata, groups))))
    return result


def random_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Plain random splits holding out ``index.test_fraction`` of the tracks (recommendation:
    the held-out tracks are the cold-start items). Repetition ``r`` draws with
    :func:`repetition_seed` ``(seed, r)``."""
    _check_repetitions(n_repetitions)
    if len(index.tracks) < 2:
        raise DataError(f"target {index.name}: {len(index.tracks)} track(s) cannot be split into train and test")
    positions = np.zeros(len(index.tracks))
    result = []
    for repetition in range(n_repetitions):
        splitter = ShuffleSplit(n_splits=1, test_size=index.test_fraction, random_state=repetition_seed(seed, repetition))
        result.append(_sorted_split(*next(splitter.split(positions))))
    return result


def sorted_classes(labels: Sequence[str]) -> tuple[str, ...]:
    """The sorted distinct class names of ``labels``."""
    return tuple(sorted(set(labels)))
