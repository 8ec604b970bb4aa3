"""Transfer evaluation of one representation on target datasets (paper Sect. 4, SPEC R6).

A :class:`Representation` turns a target's tracks into one feature vector per track: a trained
network (:func:`network_representation`, or any of its layers: :func:`network_representations`),
the same network untrained (``rand``), its conv layers pooled (``choi``), MFCC statistics
(``mfcc``), a user's own embeddings (``external``) or any HEAR-API module (``hear``).
:func:`evaluate` runs every target's protocol on it (probe accuracy / R² / ROC-AUC and PR-AUC,
or cold-start nDCG@500) and returns a tidy :class:`~mtl_music.evaluation.results.ResultsTable`,
one row per repetition and
metric (a multi-label target reports two metrics, the others one). The callback and the ``evaluate`` CLI are
thin layers over it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mtl_music.errors import ConfigError, DataError, MtlMusicError
from mtl_music.evaluation.results import CLEAN, ResultsTable
from mtl_music.evaluation.settings import EvaluationSettings

log = logging.getLogger(__name__)

#: (name of the target, its tracks' (id, path, split), cache folder of the target) -> (ids, (n, D) features)
FeatureFn = Callable[[str, Sequence[tuple[str, Path, Any]], Path], tuple[list[str], np.ndarray]]
#: The same, for the tracks' audio under one deformation (``mtl_music.audio.deform``): (name,
#: tracks, cache folder, deformation) -> (ids, (n, D) features).
DeformedFeatureFn = Callable[[str, Sequence[tuple[str, Path, Any]], Path, Any], tuple[list[str], np.ndarray]]
#: Slice-level features (``evaluation.aggregate=slices``): (name, tracks, cache folder) ->
#: (ids, (S, D) features of every slice, (n + 1,) int64 offsets: track i's slices are rows offsets[i]:offsets[i+1]).
SliceFeatureFn = Callable[[str, Sequence[tuple[str, Path, Any]], Path], tuple[list[str], np.ndarray, np.ndarray]]


@dataclass
class Representation:
    """What is evaluated, named as the results table names it.

    ``features`` gives one vector per track. ``deformed`` (robustness, ``evaluation.deform``)
    and ``slices`` (``evaluation.aggregate=slices``) are ``None`` where a representation
    cannot give them (a user's stored embeddings have no audio path to deform).
    """

    run: str                 # run id (the run directory's name, or "rand" / "mfcc" / "external:<dir>" / "hear:<mod>")
    strategy: str            # arch name, or the baseline's name
    sources: Sequence[str]   # learning sources ("" for baselines)
    features: FeatureFn
    layer: str = ""          # the results' layer column ("": the representation itself)
    deformed: DeformedFeatureFn | None = None
    slices: SliceFeatureFn | None = None


def _mel_settings(frontend: Mapping[str, Any]):
    from mtl_music.audio.mel import mel_settings_from_cfg

    return mel_settings_from_cfg(frontend)


def network_representation(module, *, run: str, digest: str, num_workers: int = 2, batch_slices: int = 128,
                           device: str = "cpu") -> Representation:
    """A :class:`~mtl_music.training.MultiSourceModule` (trained or not) as a representation.

    ``digest`` names its features in the feature cache (a checkpoint's content hash, or
    ``rand-<...>`` for an untrained network). The target is mel-cached with the module's own
    front-end settings and standardised with its training band statistics (R6.1). It also gives
    slice-level and deformed-audio features.
    """
    from mtl_music.evaluation.layers import REPRESENTATION, NetworkFeatures

    store = NetworkFeatures(module, digest=digest, layers=(REPRESENTATION,), num_workers=num_workers,
                            batch_slices=batch_slices, device=device)
    return _layers_representation(store, (REPRESENTATION,), run=run, strategy=str(module.hparams["arch"]["name"]),
                                  sources=list(module.hparams["sources"]), layer="")


def network_representations(module, *, run: str, digest: str, settings: EvaluationSettings,
                            device: str = "cpu") -> list[Representation]:
    """The module as the representations ``settings.layers`` selects: ``None`` -> the one of
    :func:`network_representation`; with ``layer_mode=concat`` one representation of the listed
    layers' track vectors side by side (``layer`` ``all`` or ``conv3+conv5``); with
    ``per_layer`` one per layer (``layer=<name>``, a results row each). See
    :mod:`mtl_music.evaluation.layers` for the vectors; one extraction pass serves every layer."""
    from mtl_music.evaluation.layers import NetworkFeatures, select_layers

    if settings.layers is None:
        return [network_representation(module, run=run, digest=digest, num_workers=settings.num_workers,
                                       batch_slices=settings.batch_slices, device=device)]
    names = select_layers(module, settings.layers)
    store = NetworkFeatures(module, digest=digest, layers=names, num_workers=settings.num_workers,
                            batch_slices=settings.batch_slices, device=device)
    hp = module.hparams
    common = dict(run=run, strategy=str(hp["arch"]["name"]), sources=list(hp["sources"]))
    if settings.layer_mode == "concat":
        label = "all" if settings.layers == "all" else "+".join(names)
        return [_layers_representation(store, names, layer=label, **common)]
    return [_layers_representation(store, (name,), layer=name, **common) for name in names]


def _layers_representation(store, layers: Sequence[str], *, run: str, strategy: str, sources: Sequence[str],
                           layer: str) -> Representation:
    """The representation of ``layers`` of a :class:`~mtl_music.evaluation.layers.NetworkFeatures`
    (their vectors side by side, in ``layers`` order)."""
    def joined(ids, by_layer):
        return ids, np.hstack([by_layer[name] for name in layers]) if len(layers) > 1 else by_layer[layers[0]]

    def features(name: str, tracks, target_root: Path):
        ids, by_layer, _ = store.track(name, tracks, target_root)
        return joined(ids, by_layer)

    def slices(name: str, tracks, target_root: Path):
        ids, by_layer, offsets = store.slices(name, tracks, target_root)
        return (*joined(ids, by_layer), offsets)

    def deformed(name: str, tracks, target_root: Path, deformation):
        ids, by_layer, _ = store.deformed(name, tracks, target_root, deformation)
        return joined(ids, by_layer)

    return Representation(run=run, strategy=strategy, sources=sources, features=features, layer=layer,
                          deformed=deformed, slices=slices)


def rand_module(module, *, seed: int = 0):
    """The same architecture as ``module`` with fresh (seeded) weights and the same band statistics."""
    import torch

    from mtl_music.training import MultiSourceModule

    hp = dict(module.hparams)
    torch.manual_seed(seed)
    rand = MultiSourceModule(**hp)
    rand.set_band_statistics(module.band_mean.cpu().numpy(), module.band_std.cpu().numpy())
    return rand


def mfcc_representation(*, num_workers: int = 2) -> Representation:
    """The MFCC baseline (R6.5): 20 MFCC + Δ + ΔΔ, mean and std over time (120-d). Its deformed
    features are those of each track's decoded audio under the deformation (the track's seed:
    :func:`~mtl_music.audio.deform.deformation_seed`), cached as ``mfcc-v1-<deformation key>``."""
    from mtl_music.audio.deform import deformation_seed
    from mtl_music.evaluation.baselines import mfcc_for_paths
    from mtl_music.evaluation.features import cached_features

    def features(name: str, tracks, target_root: Path):
        ids = [t[0] for t in tracks]
        return cached_features(cache_root=target_root, digest="mfcc-v1", requested=ids,
                               compute=lambda: (ids, mfcc_for_paths([t[1] for t in tracks], num_workers=num_workers)))

    def deformed(name: str, tracks, target_root: Path, deformation):
        ids = [t[0] for t in tracks]
        seeds = [deformation_seed(t, deformation) for t in ids]
        return cached_features(cache_root=target_root, digest=f"mfcc-v1-{deformation.key}", requested=ids,
                               compute=lambda: (ids, mfcc_for_paths([t[1] for t in tracks], num_workers=num_workers,
                                                                    deformation=deformation, seeds=seeds)))

    return Representation(run="mfcc", strategy="mfcc", sources=(), features=features, deformed=deformed)


def external_representation(folder: str | Path) -> Representation:
    """A user's embeddings: ``<folder>/<track_id>.npy`` per track (R6.5)."""
    from mtl_music.evaluation.baselines import external_features

    folder = Path(folder).expanduser()

    def features(name: str, tracks, target_root: Path):
        ids = [t[0] for t in tracks]
        return ids, external_features(folder=folder, track_ids=ids)

    return Representation(run=f"external:{folder.name}", strategy="external", sources=(), features=features)


#: The baselines a results table can hold beside a trained network (R6.5): MFCC statistics, the
#: same network untrained, Choi et al.'s (2017) convnet feature (every conv layer of the network
#: pooled and concatenated), a user's own embeddings, any HEAR-API module (``evaluation.hear``).
BASELINES: tuple[str, ...] = ("mfcc", "rand", "choi", "external", "hear")


def check_baselines(names: Sequence[str], *, key: str = "evaluation.baselines", hint: str = "") -> list[str]:
    """``names`` as a list; :class:`ConfigError` naming ``key`` and listing :data:`BASELINES` for an
    unknown one (``hint``: what else the key allows)."""
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ConfigError(f"{key}: unknown baseline(s) {', '.join(map(repr, unknown))}; choose "
                          f"{', '.join(BASELINES[:-1])} or {BASELINES[-1]}{hint}")
    return list(names)


def baseline_representation(name: str, *, settings: EvaluationSettings, module=None,
                            device: str = "cpu") -> Representation:
    """The baseline ``name`` of :data:`BASELINES` as a representation. ``rand`` and ``choi`` need
    the trained ``module`` (its architecture, weights for ``choi``, band statistics), ``external``
    ``settings.external_dir``, ``hear`` ``settings.hear`` (:mod:`mtl_music.evaluation.hear_baseline`)."""
    from mtl_music.models.digest import module_digest

    check_baselines([name])
    if name in ("rand", "choi") and module is None:
        raise ConfigError(f"the {name} baseline takes its {'architecture' if name == 'rand' else 'network'} from a "
                          "checkpoint: pass ckpt=<run dir or .ckpt>")
    if name == "rand":
        rand = rand_module(module, seed=settings.seed).to(device)
        rep = network_representation(rand, run="rand", digest="rand-" + module_digest(rand), device=device,
                                     num_workers=settings.num_workers, batch_slices=settings.batch_slices)
        return dataclasses.replace(rep, strategy="rand", sources=())  # a baseline row, like MFCC's
    if name == "choi":
        return choi_representation(module, settings=settings, device=device)
    if name == "mfcc":
        return mfcc_representation(num_workers=settings.num_workers)
    if name == "hear":
        from mtl_music.evaluation.hear_baseline import hear_representation

        return hear_representation(settings=settings, device=device)
    if not settings.external_dir:
        raise ConfigError("the external baseline needs evaluation.external_dir=<folder of <track_id>.npy files>")
    return external_representation(settings.external_dir)


def baseline_representations(name: str, *, settings: EvaluationSettings, module=None,
                             device: str = "cpu") -> list[Representation]:
    """:func:`baseline_representation`, with ``rand`` split into the layers ``settings.layers``
    selects, like the trained network (:func:`network_representations`)."""
    if name != "rand" or settings.layers is None:
        return [baseline_representation(name, settings=settings, module=module, device=device)]
    from mtl_music.models.digest import module_digest

    rand = rand_module(module, seed=settings.seed).to(device)
    return [dataclasses.replace(rep, strategy="rand", sources=())
            for rep in network_representations(rand, run="rand", digest="rand-" + module_digest(rand),
                                               settings=settings, device=device)]


def choi_representation(module, *, settings: EvaluationSettings, device: str = "cpu") -> Representation:
    """The Choi baseline: every conv block of ``module``'s network (all blocks but fc_feature)
    pooled per slice and concatenated (``run=choi``), or of the same network untrained
    (``evaluation.choi.weights=rand``: ``run=choi-rand``, the weights of the rand baseline)."""
    from mtl_music.evaluation.layers import NetworkFeatures, conv_layer_names
    from mtl_music.models.digest import module_digest

    if settings.choi_weights == "rand":
        network, run = rand_module(module, seed=settings.seed), "choi-rand"
        digest = "rand-" + module_digest(network)
    else:
        network, run, digest = module, "choi", module_digest(module)
    names = conv_layer_names(network)
    store = NetworkFeatures(network, digest=digest, layers=names, num_workers=settings.num_workers,
                            batch_slices=settings.batch_slices, device=device)
    return _layers_representation(store, names, run=run, strategy="choi", sources=(), layer="")


def evaluate_all(representations: Sequence[Representation], targets: Mapping[str, Any], *, data_root: Path,
                 settings: EvaluationSettings) -> ResultsTable:
    """Every representation on every target, as one table. A target that fails for one
    representation (missing data, unreadable files) is logged with the error's message and
    skipped: the other rows are kept."""
    table = ResultsTable()
    for name, cfg_target in targets.items():
        for representation in representations:
            try:
                table.merge(evaluate(representation, {name: cfg_target}, data_root=data_root, settings=settings))
            except MtlMusicError as err:
                log.error("transfer evaluation of %s on %s skipped: %s", representation.run, name, err)
    return table


def _kept_index(index, ids: Sequence[str]):
    """The target index restricted to the tracks that have features (in index order)."""
    have = set(ids)
    kept = [t for t in index.tracks if t.track_id in have]
    dropped = len(index.tracks) - len(kept)
    if dropped:
        log.warning("%s: %d of %d track(s) have no features (unreadable or silent audio, see the target's "
                    "mel/report.tsv) and are left out", index.name, dropped, len(index.tracks))
    if not kept:
        raise DataError(f"target {index.name}: no track has features; check the audio under the target's root")
    changes: dict[str, Any] = {"tracks": kept}
    if index.interactions is not None and dropped:
        columns = [i for i, t in enumerate(index.tracks) if t.track_id in have]
        changes["interactions"] = dataclasses.replace(index.interactions, matrix=index.interactions.matrix[:, columns].tocsr())
    return dataclasses.replace(index, **changes)


def evaluate_target(representation: Representation, cfg_target, *, data_root: Path,
                    settings: EvaluationSettings) -> tuple[str, dict[tuple[str, str], list[float]]]:
    """Runs one target's protocol: ``(target name, {(condition, metric): one value per
    repetition})``, the clean condition first with the target's metrics in ``index.metrics``
    order (the primary one first), then each deformation of ``settings.deform``."""
    from threadpoolctl import threadpool_limits

    from mtl_music.evaluation.features import target_root as target_cache_root
    from mtl_music.targets import load_target

    index = load_target(cfg_target)
    target_root = target_cache_root(data_root=Path(data_root), target=index.cache_name or index.name)
    tracks = [(t.track_id, t.path, t.split) for t in index.tracks]
    if settings.aggregate == "slices":
        if representation.slices is None:
            raise ConfigError(f"evaluation.aggregate=slices: {representation.run} gives one vector per track, no "
                              "slice-level features; evaluate it with evaluation.aggregate=track")
        ids, X, offsets = representation.slices(index.name, tracks, target_root)
    else:
        ids, X = representation.features(index.name, tracks, target_root)
        offsets = np.arange(len(ids) + 1, dtype=np.int64)
    index = _kept_index(index, ids)
    row_of = {t: i for i, t in enumerate(ids)}
    X, offsets = _rows_of_items(X, offsets, [row_of[t.track_id] for t in index.tracks])
    deformed = _deformed_features(representation, index, target_root, settings) if settings.deform else None
    # One BLAS thread: the probes' small matrix products run many times slower with two threads
    # on a shared 2-core machine (measured 0.5 s vs 6 s for one fit), and no faster elsewhere.
    with threadpool_limits(1, "blas"):
        return index.name, _protocol(index, X, settings=settings, offsets=offsets, deformed=deformed)


def _rows_of_items(X: np.ndarray, offsets: np.ndarray, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``items`` (in that order) of a row matrix whose item ``i`` has rows
    ``offsets[i]:offsets[i+1]``, and their new offsets."""
    offsets = np.asarray(offsets, dtype=np.int64)
    counts = np.diff(offsets)[list(items)]
    rows = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in items]) if len(items) else np.zeros(0, np.int64)
    return X[rows], np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


#: ``deformed(test positions) -> {condition: (track ids, (n, D) features)}``, computed once per target.
DeformedByCondition = Callable[[Sequence[int]], dict[str, tuple[list[str], np.ndarray]]]


def _deformed_features(representation: Representation, index, target_root: Path,
                       settings: EvaluationSettings) -> DeformedByCondition:
    """The deformed-test-audio features of ``settings.deform`` (see :mod:`mtl_music.audio.deform`)
    for the tracks at the positions asked for."""
    if representation.deformed is None:
        raise ConfigError(f"evaluation.deform: {representation.run} has no audio path to deform (stored embeddings); "
                          "leave it out of a robustness evaluation or set evaluation.deform=[]")
    if settings.aggregate == "slices":
        raise ConfigError("evaluation.deform re-scores track vectors; use it with evaluation.aggregate=track")
    if index.task == "recommendation":
        raise ConfigError(f"evaluation.deform: target {index.name} is a recommendation target, whose protocol has "
                          "no probe to re-score; leave it out of a robustness evaluation")
    from mtl_music.audio.deform import deformations_from

    deformations = deformations_from(settings)

    def deformed(positions: Sequence[int]) -> dict[str, tuple[list[str], np.ndarray]]:
        tracks = [(t.track_id, t.path, t.split) for t in (index.tracks[i] for i in positions)]
        return {d.name: representation.deformed(index.name, tracks, target_root, d) for d in deformations}

    return deformed


def _protocol(index, X: np.ndarray, *, settings: EvaluationSettings, offsets: np.ndarray | None = None,
              deformed: DeformedByCondition | None = None) -> dict[tuple[str, str], list[float]]:
    """``{(condition, metric): one value per repetition}`` for every metric of ``index.metrics``
    on clean audio, then on each deformation ``deformed`` gives (the probe trained on clean audio).

    ``X``: (R, D) feature rows; item ``i`` of ``index.tracks`` owns rows ``offsets[i]:offsets[i+1]``
    (one row per track when ``offsets`` is ``None``; several for slice-level features, whose
    per-row outputs are averaged per track)."""
    from mtl_music.evaluation.probes import fit_probe, log_probe_results
    from mtl_music.evaluation.recommend import evaluate_recommendation
    from mtl_music.targets import target_splits
    from mtl_music.targets.base import validation_part

    if index.task == "recommendation":
        return {(CLEAN, index.metric): evaluate_recommendation(
            plays=index.interactions.matrix, features=X, n_repetitions=settings.repetitions,
            test_fraction=index.test_fraction, seed=settings.seed)}
    n = len(index.tracks)
    offsets = np.arange(n + 1, dtype=np.int64) if offsets is None else np.asarray(offsets, dtype=np.int64)
    labels = index.labels
    item_of_row = np.repeat(np.arange(n), np.diff(offsets))
    rows_of = lambda items: np.flatnonzero(np.isin(item_of_row, items))  # noqa: E731
    extra = tuple(getattr(index, "extra_metrics", ()))
    splits = target_splits(index, n_repetitions=settings.repetitions, seed=settings.seed)
    by_condition = deformed(sorted({int(i) for _, test in splits for i in test})) if deformed else {}
    values: dict[tuple[str, str], list[float]] = {}
    results = []
    for rep, (train, test) in enumerate(splits):
        fit, valid = (train, None) if settings.probe == "paper" else validation_part(
            index, train, fraction=settings.validation_fraction, seed=settings.seed, repetition=rep)
        fitted = fit_probe(features=X, labels=labels[item_of_row], train_idx=rows_of(fit), task=index.task,
                           seed=settings.seed + rep, protocol=settings.probe,
                           valid_idx=None if valid is None else rows_of(valid))
        test_X, test_offsets = _rows_of_items(X, offsets, list(test))
        result = fitted.score(features=test_X, labels=labels[test], offsets=test_offsets, extra_metrics=extra,
                              classes=index.classes)
        results.append(result)
        for metric in (*index.metrics,):
            values.setdefault((CLEAN, metric), []).append(result.scores[metric])
        for condition, (ids, X_deformed) in by_condition.items():
            row = {t: i for i, t in enumerate(ids)}
            kept = [i for i in test if index.tracks[i].track_id in row]
            if len(kept) < len(test):
                log.warning("%s, %s: %d of %d test track(s) have no deformed features and are left out", index.name,
                            condition, len(test) - len(kept), len(test))
            scored = fitted.score(features=X_deformed[[row[index.tracks[i].track_id] for i in kept]],
                                  labels=labels[kept], extra_metrics=extra, classes=index.classes)
            for metric in index.metrics:
                values.setdefault((condition, metric), []).append(scored.scores[metric])
    log_probe_results(results)
    return values


def evaluate(representation: Representation, targets: Mapping[str, Any], *, data_root: Path,
             settings: EvaluationSettings | None = None) -> ResultsTable:
    """Every target of ``targets`` (name -> composed target node) for one representation
    (``settings``: the evaluation options, the defaults when ``None``)."""
    settings = settings or EvaluationSettings()
    table = ResultsTable()
    for name, cfg_target in targets.items():
        started = time.perf_counter()
        target, by_key = evaluate_target(representation, cfg_target, data_root=data_root, settings=settings)
        for (condition, metric), values in by_key.items():
            table.extend(run=representation.run, strategy=representation.strategy, sources=representation.sources,
                         target=target, metric=metric, values=values, layer=representation.layer,
                         condition=condition)
            log.info("%s%s on %s%s: %s = %.4f ± %.4f (%d repetitions, %.1f s)", representation.run,
                     f"@{representation.layer}" if representation.layer else "", target,
                     "" if condition == CLEAN else f" ({condition})", metric,
                     float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, len(values),
                     time.perf_counter() - started)
    return table
