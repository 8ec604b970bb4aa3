"""The contract every target module keeps: load_index gives a consistent TargetIndex and
splits() gives disjoint, covering, deterministic, stratified, group-respecting splits."""

from __future__ import annotations

import inspect
from collections import Counter

import numpy as np
import pytest
import scipy.sparse as sp
from omegaconf import OmegaConf

from mtl_music.config import CONF_DIR
from mtl_music.errors import DataError
from mtl_music.evaluation.metrics import EXTRA_METRICS
from mtl_music.targets import (
    LOADERS,
    TASK_EXTRA_METRICS,
    TASK_METRICS,
    TargetIndex,
    available_targets,
    load_target,
    loader_module,
    target_splits,
)

from tests.helpers.target_files import FOLDER_CASES, case_node, target_node

TARGETS = available_targets()
#: Every target of conf/target/, and the folder loader on each kind of label file.
CASES = TARGETS + [case for case in FOLDER_CASES if case not in TARGETS]
N_REPETITIONS = 5


def test_every_yaml_has_a_loader_and_every_loader_a_yaml():
    assert set(TARGETS) == {"ballroom", "demo_dance", "demo_region", "emomusic", "fma_medium", "folder",
                            "giantsteps_key", "gtzan", "irmas", "lastfm1k", "magnatagatune", "mediaeval_arousal",
                            "mediaeval_valence", "mtg_jamendo_genre", "mtg_jamendo_instrument",
                            "mtg_jamendo_moodtheme", "mtg_jamendo_top50tags", "nsynth_instrument", "nsynth_pitch",
                            "vocalset_singer", "vocalset_technique"}
    used = set()
    for name in TARGETS:
        path = CONF_DIR / "target" / f"{name}.yaml"
        assert path.read_text().startswith(f"# @package target.{name}\n")
        raw = OmegaConf.load(path)
        assert raw.name == name and raw.loader in LOADERS
        if raw.task == "auto":  # the task (and so the metric) comes from the data
            assert "metric" not in raw
        else:
            assert TASK_METRICS[raw.task] == raw.metric
        used.add(raw.loader)
    assert used == set(LOADERS)


def _expected_task(case: str, cfg) -> str:
    return FOLDER_CASES[case][1] if case in FOLDER_CASES else cfg.task


@pytest.mark.parametrize("loader", LOADERS)
def test_every_module_has_the_same_surface(loader):
    module = loader_module(loader)
    assert list(inspect.signature(module.load_index).parameters) == ["cfg"]
    params = inspect.signature(module.splits).parameters
    assert list(params) == ["index", "n_repetitions", "seed"]
    assert params["n_repetitions"].kind is inspect.Parameter.KEYWORD_ONLY and params["n_repetitions"].default == 5
    assert params["seed"].kind is inspect.Parameter.KEYWORD_ONLY and params["seed"].default == 0
    assert module.__doc__ and module.load_index.__doc__ and module.splits.__doc__


@pytest.fixture(scope="module")
def indexes(targets_root) -> dict[str, TargetIndex]:
    return {case: load_target(case_node(case, targets_root)) for case in CASES}


@pytest.mark.parametrize("name", CASES)
def test_index_is_consistent(name, indexes, targets_root):
    cfg = case_node(name, targets_root)
    index = indexes[name]
    task = _expected_task(name, cfg)
    assert isinstance(index, TargetIndex)
    assert (index.name, index.loader, index.task, index.metric) == (cfg.name, cfg.loader, task, TASK_METRICS[task])
    extra = tuple(cfg.get("extra_metrics") or ())
    assert index.extra_metrics == extra and all(EXTRA_METRICS[m].task == task for m in extra)
    assert index.metrics == (TASK_METRICS[task], *TASK_EXTRA_METRICS.get(task, ()), *extra)
    assert index.tracks, "a fixture target loads with tracks"
    ids = [t.track_id for t in index.tracks]
    assert len(set(ids)) == len(ids)
    assert all(t.path.is_file() and t.path.is_relative_to(targets_root) for t in index.tracks)
    assert all(t.split in (None, "train", "valid", "test") for t in index.tracks)
    if index.task == "classification":
        assert index.classes == tuple(sorted({t.label for t in index.tracks}))
        assert all(isinstance(t.label, str) for t in index.tracks)
        assert index.interactions is None
    elif index.task == "multilabel":
        assert index.classes == tuple(sorted({tag for t in index.tracks for tag in t.label}))
        assert all(isinstance(t.label, tuple) and t.label == tuple(sorted(t.label)) for t in index.tracks)
        indicators = index.labels
        assert indicators.shape == (len(index.tracks), len(index.classes)) and indicators.min(axis=None) == 0
        assert (indicators.sum(axis=1) >= 1).all() and (indicators.sum(axis=0) >= 2).all()
        assert index.interactions is None
    elif index.task == "regression":
        assert index.classes == () and index.interactions is None
        assert np.isfinite(index.labels).all() and index.labels.dtype == np.float64
        assert index.labels.shape[0] == len(index.tracks)
    else:
        assert all(t.label is None for t in index.tracks)
        matrix = index.interactions.matrix
        assert sp.issparse(matrix) and matrix.format == "csr" and matrix.dtype == np.float32
        assert matrix.shape == (len(index.interactions.user_ids), len(index.tracks))
        binary = matrix > 0
        assert np.asarray(binary.sum(axis=1)).min() >= cfg.min_tracks_per_user
        assert np.asarray(binary.sum(axis=0)).min() >= cfg.min_users_per_track


@pytest.mark.parametrize("name", CASES)
def test_splits_keep_the_protocol(name, indexes):
    index = indexes[name]
    n = len(index.tracks)
    result = target_splits(index, n_repetitions=N_REPETITIONS, seed=0)
    module_result = loader_module(index.loader).splits(index, n_repetitions=N_REPETITIONS, seed=0)
    assert len(result) == N_REPETITIONS
    for (train, test), (train2, test2) in zip(result, module_result):
        assert np.array_equal(train, train2) and np.array_equal(test, test2)
        assert train.dtype == np.int64 and test.dtype == np.int64
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
        assert len(np.intersect1d(train, test)) == 0
        assert np.array_equal(np.union1d(train, test), np.arange(n))
        assert len(train) > 0 and len(test) > 0

    again = target_splits(index, n_repetitions=N_REPETITIONS, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(result, again)), "same seed, same splits"
    other = target_splits(index, n_repetitions=N_REPETITIONS, seed=1)

    predefined = all(t.split is not None for t in index.tracks)
    if predefined:
        expected_test = np.array([i for i, t in enumerate(index.tracks) if t.split == "test"])
        assert all(np.array_equal(test, expected_test) for _, test in result + other)
    else:
        tests = [tuple(test) for _, test in result]
        assert len(set(tests)) > 1, "repetitions draw different splits"
        assert any(tuple(a[1]) != tuple(b[1]) for a, b in zip(result, other)), "the seed changes the splits"

    if index.task == "classification" and not predefined:
        labels = index.labels
        totals = Counter(labels)
        for train, test in result:
            in_test = Counter(labels[test])
            assert set(in_test) == set(totals) == set(Counter(labels[train])), "every class on both sides"
            if not any(t.group for t in index.tracks):
                for cls, total in totals.items():
                    assert abs(in_test[cls] - index.test_fraction * total) <= 1, "stratified shares"

    if index.task == "multilabel" and not predefined:
        indicators = index.labels.astype(bool)
        for train, test in result:
            for side in (train, test):
                assert indicators[side].any(axis=0).all() and not indicators[side].all(axis=0).any(), "tags both sides"

    groups = np.array([t.group for t in index.tracks], dtype=object)
    if any(g is not None for g in groups):
        for train, test in result:
            assert not set(groups[train]) & set(groups[test]), "a group never straddles the split"


@pytest.mark.parametrize("name", TARGETS)
def test_missing_root_is_a_data_error_naming_path_layout_and_override(name, tmp_path):
    cfg = target_node(name, tmp_path)
    with pytest.raises(DataError) as err:
        load_target(cfg)
    message = str(err.value)
    assert str(cfg.root) in message and f"target.{name}.root=" in message and "Expected" in message
