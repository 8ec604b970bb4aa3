"""Target datasets of the transfer evaluation (paper Sect. 4, R6.4), one module per dataset.

Every module has the same surface, mirdata-style:

* ``load_index(cfg) -> TargetIndex``: the dataset's tracks, labels and pre-defined split, from
  a composed target node (``cfg.target.<name>``, from ``conf/target/<name>.yaml``);
* ``splits(index, *, n_repetitions=5, seed=0) -> [(train_idx, test_idx), ...]``: the R6.2
  protocol's train/test positions into ``index.tracks``.

``conf/target/<name>.yaml`` names its module with ``loader`` (``demo_region`` uses ``gtzan``,
``demo_dance`` uses ``ballroom``, both MediaEval targets and ``emomusic`` use ``mediaeval``, the
four ``mtg_jamendo_*`` targets ``mtg_jamendo``, ``nsynth_{instrument,pitch}`` ``nsynth`` and
``vocalset_{singer,technique}`` ``vocalset``).
:func:`load_target` dispatches on it; :func:`target_splits` on the index's ``loader``.

Besides the paper's datasets, :mod:`~mtl_music.targets.folder` reads *your own* data: an audio
folder plus a CSV/TSV label file (``path, label`` for classification, ``path, tag1;tag2`` for
multi-label tagging, ``path, value[, value2]`` for regression, optional ``split`` and ``group``
columns), the task inferred from the file (``target=folder target.root=DIR target.labels=FILE``).
Tasks and their metrics: :data:`TASK_METRICS` (the primary one) and :data:`TASK_EXTRA_METRICS`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from mtl_music.config import group_options
from mtl_music.errors import ConfigError
from mtl_music.targets.base import (
    TASK_EXTRA_METRICS,
    TASK_METRICS,
    Interactions,
    Split,
    TargetIndex,
    TargetTrack,
    repetition_seed,
)

#: Loader modules of :mod:`mtl_music.targets` (what a target YAML's ``loader`` may name).
LOADERS = ("ballroom", "fma_medium", "folder", "giantsteps_key", "gtzan", "irmas", "lastfm1k", "magnatagatune",
           "mediaeval", "mtg_jamendo", "nsynth", "vocalset")


def available_targets() -> list[str]:
    """Names of the target YAMLs in ``conf/target/`` (what ``target=[...]`` accepts)."""
    return group_options("target")


def loader_module(loader: str) -> ModuleType:
    """The module ``mtl_music.targets.<loader>``; :class:`ConfigError` listing the known
    loaders and targets when ``loader`` is not one of :data:`LOADERS`."""
    if loader not in LOADERS:
        raise ConfigError(f"unknown target loader {loader!r}. Known loaders: {', '.join(LOADERS)}; "
                          f"known targets (conf/target/): {', '.join(available_targets())}")
    return importlib.import_module(f"mtl_music.targets.{loader}")


def load_target(cfg_target: Any) -> TargetIndex:
    """Loads the target a composed target node describes (``cfg.target.<name>``), dispatching
    on its ``loader`` key. Raises :class:`ConfigError` for a node without ``loader`` or an unknown
    one, and the loader's :class:`~mtl_music.errors.DataError` for data problems."""
    loader = cfg_target.get("loader") if hasattr(cfg_target, "get") else None
    if not loader:
        name = cfg_target.get("name", "?") if hasattr(cfg_target, "get") else "?"
        raise ConfigError(f"target {name!r} has no 'loader' key; set it to one of {', '.join(LOADERS)} "
                          f"(known targets: {', '.join(available_targets())})")
    return loader_module(str(loader)).load_index(cfg_target)


def target_splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """``splits()`` of the module that built ``index``: ``n_repetitions`` (train_idx, test_idx)
    pairs of sorted int64 positions into ``index.tracks``."""
    return loader_module(index.loader).splits(index, n_repetitions=n_repetitions, seed=seed)


__all__ = [
    "LOADERS",
    "TASK_EXTRA_METRICS",
    "TASK_METRICS",
    "Interactions",
    "Split",
    "TargetIndex",
    "TargetTrack",
    "available_targets",
    "load_target",
    "loader_module",
    "repetition_seed",
    "target_splits",
]
