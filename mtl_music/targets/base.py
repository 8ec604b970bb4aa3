"""What every target dataset loader returns, and the train/test splits of the transfer protocol.

A loader (one module per dataset in :mod:`mtl_music.targets`) turns a dataset on disk into a
:class:`TargetIndex`: its tracks (:class:`TargetTrack`, one audio file each, with a label and
the dataset's own split where it has one), the task and its metrics. Tasks and metrics:

* ``classification`` (one class per track): accuracy;
* ``multilabel`` (a set of tags per track, e.g. a user's tagging data): ROC-AUC, then PR-AUC
  (average precision), both macro-averaged over tags, one-vs-rest probes;
* ``regression`` (one number per track, or several: a 2-D label gets the uniform-average R²): R²;
* ``recommendation`` (play counts, no label): nDCG@500 on cold-start tracks.

The paper's tasks have one metric each (:data:`TASK_METRICS`, the primary one); a task with
more lists the others in :data:`TASK_EXTRA_METRICS`; a target may add metrics of its own
(:attr:`TargetIndex.extra_metrics`, from :data:`mtl_music.evaluation.metrics.EXTRA_METRICS`), and
:attr:`TargetIndex.metrics` gives all.

``splits()`` then gives the (train, test) positions of the R6.2 protocol, 5 repetitions by default:

* a pre-defined split (GTZAN fault-filtered, FMA, MediaEval, a label file's ``split`` column):
  train = train + valid, test = test (the paper folds the validation part into training). All
  repetitions reuse the same split; they differ only by the probe's seed, which the evaluation
  sets per repetition.
* otherwise a random split (``index.test_fraction`` held out, 20 % by default), re-drawn per
  repetition from :func:`repetition_seed` ``(seed, r)``: stratified by label (or by
  ``TargetTrack.stratum`` when it is set, e.g. MediaEval's genre), keeping each
  ``TargetTrack.group`` on one side (IRMAS songs, a label file's ``group`` column), plain for
  recommendation (Last.fm tracks), and for multi-label targets a group-aware draw retried until
  every tag has tracks on both sides (:func:`multilabel_splits`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedGroupKFold, StratifiedShuffleSplit

from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Task → its primary metric: the one the paper reports (R6.2, R6.3), and for multi-label
#: tagging ROC-AUC (macro over tags), the usual headline metric of auto-tagging.
TASK_METRICS = {"classification": "accuracy", "regression": "r2", "recommendation": "ndcg@500",
                "multilabel": "roc_auc"}

#: Task → the metrics it reports besides the primary one (PR-AUC: macro average precision).
TASK_EXTRA_METRICS: dict[str, tuple[str, ...]] = {"multilabel": ("pr_auc",)}

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
        label: class name (classification), sorted tuple of tags (multilabel), float or tuple of
            floats (regression; a tuple for a label with several values, e.g. arousal and
            valence), ``None`` (recommendation).
        split: ``"train" | "valid" | "test"`` where the dataset has a pre-defined split, else ``None``.
        group: tracks sharing a group must stay on one side of a split (IRMAS: one song's excerpts).
        stratum: what random splits stratify on when it is not the label (MediaEval: the genre).
    """

    track_id: str
    path: Path
    label: str | float | tuple[str, ...] | tuple[float, ...] | None
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
        task: ``"classification" | "multilabel" | "regression" | "recommendation"``.
        metric: the task's primary metric, :data:`TASK_METRICS` (``"accuracy" | "roc_auc" |
            "r2" | "ndcg@500"``); :attr:`metrics` lists every metric the task reports.
        tracks: the tracks, in a stable order (positions in ``splits()`` index this list).
        classes: sorted class names (classification), sorted tag vocabulary (multilabel).
        interactions: users × tracks play counts (recommendation only).
        test_fraction: share of tracks a random split holds out (unused by pre-defined splits).
        cache_name: the folder under ``<data_root>/targets/`` holding this target's mel and
            feature caches; ``None``: ``name``. The generic ``folder`` loader names it after the
            audio folder, so two folders evaluated under one target name never share caches.
        extra_metrics: metrics of :data:`mtl_music.evaluation.metrics.EXTRA_METRICS` the target
            reports after its task's (GiantSteps: ``mirex_weighted``; EMOMusic: ``r2_arousal``,
            ``r2_valence``), from the target's ``extra_metrics`` key.
    """

    name: str
    loader: str
    task: str
    metric: str
    tracks: list[TargetTrack]
    classes: tuple[str, ...] = ()
    interactions: Interactions | None = None
    test_fraction: float = DEFAULT_TEST_FRACTION
    cache_name: str | None = None
    extra_metrics: tuple[str, ...] = ()

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
        if self.task == "multilabel" and (
                list(self.classes) != sorted(set(self.classes))
                or not all(isinstance(t.label, tuple) and t.label and set(t.label) <= set(self.classes)
                           for t in self.tracks)):
            raise ValueError(f"target {self.name}: multi-label tracks need a non-empty tuple of tags, "
                             "classes the sorted tag vocabulary")
        if self.task == "regression" and len({len(t.label) if isinstance(t.label, tuple) else 0
                                              for t in self.tracks}) > 1:
            raise ValueError(f"target {self.name}: regression labels must all be numbers or all tuples of one length")
        if self.extra_metrics:
            self.extra_metrics = tuple(self.extra_metrics)
            check_extra_metrics(self.extra_metrics, task=self.task, key=f"target.{self.name}.extra_metrics")
        if self.task == "recommendation":
            if self.interactions is None or self.interactions.matrix.shape != (len(self.interactions.user_ids), len(self.tracks)):
                raise ValueError(f"target {self.name}: interactions must be (n_users, n_tracks)")

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric the task reports, the primary one (:attr:`metric`) first."""
        return (self.metric, *TASK_EXTRA_METRICS.get(self.task, ()), *self.extra_metrics)

    @property
    def labels(self) -> np.ndarray:
        """Labels in track order: (n_tracks,) str objects for classification; (n_tracks,) float64
        for regression, (n_tracks, k) for a k-valued label; (n_tracks, n_classes) uint8 tag
        indicators in ``classes`` order for multilabel."""
        if self.task == "regression":
            if self.tracks and isinstance(self.tracks[0].label, tuple):
                return np.array([[float(v) for v in t.label] for t in self.tracks], dtype=np.float64)
            return np.array([float(t.label) for t in self.tracks], dtype=np.float64)
        if self.task == "multilabel":
            column = {tag: j for j, tag in enumerate(self.classes)}
            indicators = np.zeros((len(self.tracks), len(self.classes)), dtype=np.uint8)
            for i, track in enumerate(self.tracks):
                indicators[i, [column[tag] for tag in track.label]] = 1
            return indicators
        return np.array([t.label for t in self.tracks], dtype=object)


def check_extra_metrics(names: Sequence[str], *, task: str, key: str) -> None:
    """Raises :class:`ConfigError` (naming ``key``, the config key they came from) unless every
    name is an extra metric of :data:`mtl_music.evaluation.metrics.EXTRA_METRICS` for ``task``,
    listed once and not one of the task's own metrics."""
    # Imported here: loading a target needs the registry only when it names extra metrics.
    from mtl_music.evaluation.metrics import EXTRA_METRICS

    own = (TASK_METRICS.get(task), *TASK_EXTRA_METRICS.get(task, ()))
    for name in names:
        metric = EXTRA_METRICS.get(name)
        if metric is None:
            raise ConfigError(f"{key}: unknown extra metric {name!r}; known: {', '.join(sorted(EXTRA_METRICS))} "
                              f"(or pass {key}=[] for none)")
        if metric.task != task:
            raise ConfigError(f"{key}: {name!r} scores {metric.task} targets, this one is {task}; "
                              f"remove it ({key}=[])")
    duplicated = sorted({n for n in names if list(names).count(n) > 1} | (set(names) & set(own)))
    if duplicated:
        raise ConfigError(f"{key}: {', '.join(duplicated)} listed twice (or already one of the task's metrics "
                          f"{', '.join(m for m in own if m)}); list each extra metric once")


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


def _draws(n_repetitions: int, seed: int, draw) -> list[Split]:
    """One split per repetition: the first (train, test) that ``draw(random_state)`` yields,
    with :func:`repetition_seed` ``(seed, r)`` for repetition ``r``."""
    return [_sorted_split(*next(draw(repetition_seed(seed, r)))) for r in range(n_repetitions)]


def _group_shuffle(index: "TargetIndex", groups: np.ndarray, state: int):
    """``GroupShuffleSplit`` holding out ``index.test_fraction`` of the groups, as a generator."""
    return GroupShuffleSplit(n_splits=1, test_size=index.test_fraction, random_state=state).split(
        np.zeros(len(groups)), groups=groups)


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
    return _draws(n_repetitions, seed, lambda state: StratifiedShuffleSplit(
        n_splits=1, test_size=index.test_fraction, random_state=state).split(np.zeros(len(strata)), strata))


def group_stratified_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Random splits stratified by label that keep every ``TargetTrack.group`` on one side.

    Repetition ``r`` takes the first fold of a shuffled ``StratifiedGroupKFold`` with
    ``round(1 / test_fraction)`` folds (5 folds: a 80/20 split by groups) drawn with
    :func:`repetition_seed` ``(seed, r)``; the held-out share is that of whole groups, so it is
    close to but not exactly ``test_fraction``. A track without a group is a group of its own.
    """
    _check_repetitions(n_repetitions)
    strata = _strata(index)
    groups = _groups(index)
    n_folds = max(2, round(1.0 / index.test_fraction))
    n_groups = len(set(groups))
    if n_groups < n_folds:
        raise DataError(f"target {index.name}: {n_groups} song group(s) cannot be split {n_folds} ways "
                        f"(test_fraction={index.test_fraction}); add tracks or raise test_fraction")
    return _draws(n_repetitions, seed, lambda state: StratifiedGroupKFold(
        n_splits=n_folds, shuffle=True, random_state=state).split(np.zeros(len(strata)), strata, groups))


def random_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Plain random splits holding out ``index.test_fraction`` of the tracks (recommendation:
    the held-out tracks are the cold-start items). Repetition ``r`` draws with
    :func:`repetition_seed` ``(seed, r)``."""
    _check_repetitions(n_repetitions)
    if len(index.tracks) < 2:
        raise DataError(f"target {index.name}: {len(index.tracks)} track(s) cannot be split into train and test")
    return _draws(n_repetitions, seed, lambda state: ShuffleSplit(
        n_splits=1, test_size=index.test_fraction, random_state=state).split(np.zeros(len(index.tracks))))


def _groups(index: TargetIndex) -> np.ndarray:
    """Each track's group, a track without one being a group of its own."""
    return np.array([t.group if t.group is not None else f"track:{t.track_id}" for t in index.tracks], dtype=object)


def group_shuffle_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """Random splits that keep every ``TargetTrack.group`` on one side (regression with groups).

    Repetition ``r`` holds out ``index.test_fraction`` of the *groups* (``GroupShuffleSplit``,
    :func:`repetition_seed` ``(seed, r)``), so the share of tracks is close to but not exactly
    ``test_fraction``. A track without a group is a group of its own.
    """
    _check_repetitions(n_repetitions)
    groups = _groups(index)
    if len(set(groups)) < 2:
        raise DataError(f"target {index.name}: {len(set(groups))} group(s) cannot be split into train and test; "
                        "a group stays on one side, so add tracks of other groups")
    return _draws(n_repetitions, seed, lambda state: _group_shuffle(index, groups, state))


#: How many group-shuffled draws :func:`multilabel_splits` tries per repetition.
MULTILABEL_ATTEMPTS = 25


def multilabel_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0,
                      attempts: int = MULTILABEL_ATTEMPTS) -> list[Split]:
    """Group-aware random splits of a multi-label target that put every tag on both sides.

    Repetition ``r`` draws like :func:`group_shuffle_splits` (the first attempt is exactly its
    draw) and, while some tag lacks a positive or a negative track on one side (it could not
    be learned, or not be scored), draws again with the attempt number mixed into the seed, up
    to ``attempts`` times. When no draw covers every tag, the one that covers most is kept and
    logged; the probe's metrics then leave out the tags that lack a positive or a negative in
    the test part (and count them).
    """
    _check_repetitions(n_repetitions)
    if index.task != "multilabel":
        raise ValueError(f"target {index.name}: multilabel_splits on a {index.task} target")
    groups = _groups(index)
    if len(set(groups)) < 2:
        raise DataError(f"target {index.name}: {len(set(groups))} group(s) cannot be split into train and test; "
                        "a group stays on one side, so add tracks of other groups")
    indicators = index.labels.astype(bool)  # (n_tracks, n_tags)
    result = []
    for repetition in range(n_repetitions):
        best: tuple[int, Split] | None = None
        for attempt in range(attempts):
            state = (repetition_seed(seed, repetition) if attempt == 0
                     else int(np.random.SeedSequence([int(seed), int(repetition), attempt]).generate_state(1)[0]))
            split = _sorted_split(*next(_group_shuffle(index, groups, state)))
            covered = int(np.logical_and.reduce([indicators[side].any(axis=0) & ~indicators[side].all(axis=0)
                                                 for side in split]).sum())
            if best is None or covered > best[0]:
                best = (covered, split)
            if covered == indicators.shape[1]:
                break
        if best[0] < indicators.shape[1]:
            log.warning("target %s, repetition %d: none of %d draws gives all %d tags positive and negative tracks "
                        "on both sides; kept one that does for %d (the test metrics leave out tags without both "
                        "there)", index.name, repetition, attempts, indicators.shape[1], best[0])
        result.append(best[1])
    return result


def sorted_classes(labels: Sequence[str]) -> tuple[str, ...]:
    """The sorted distinct class names of ``labels``."""
    return tuple(sorted(set(labels)))


def validation_part(index: TargetIndex, train: np.ndarray, *, fraction: float, seed: int,
                    repetition: int) -> Split:
    """Splits a repetition's training positions ``train`` into (fit, valid) for a probe that stops
    early on a validation part (``evaluation.probe=marble``): the dataset's own ``valid`` tracks
    where ``train`` holds some (and not only those), else about ``fraction`` of ``train`` drawn at
    random with every group on one side, seeded by ``(seed, repetition)``. Both sorted int64."""
    train = np.asarray(train, dtype=np.int64)
    own = np.array([index.tracks[i].split == "valid" for i in train], dtype=bool)
    if own.any() and not own.all():
        return _sorted_split(train[~own], train[own])
    groups = _groups(index)[train]
    if len(set(groups)) < 2:
        raise DataError(f"target {index.name}: the training part holds {len(set(groups))} group(s), too few to hold "
                        "a validation part out; add tracks or use evaluation.probe=paper (no early stopping)")
    state = int(np.random.SeedSequence([int(seed), int(repetition), 0x7A11D]).generate_state(1)[0])
    fit, valid = next(GroupShuffleSplit(n_splits=1, test_size=float(fraction), random_state=state)
                      .split(train, groups=groups))
    return _sorted_split(train[fit], train[valid])
