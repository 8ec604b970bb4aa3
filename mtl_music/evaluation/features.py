"""Track-level features of a representation for a target dataset (SPEC R6.1).

A target's audio goes through the same ``prepare`` code as training data: its dB-mels are
cached once per front-end setting in ``<cache_root>/<settings key>`` (resumable, shared by every
run that evaluates on that target). A network then sees each track as non-overlapping 2.5 s
slices standardised with the **training** data's band statistics (stored in the checkpoint),
and its representation (fc-feature of every branch, concatenated) is summarised by the mean
and the standard deviation over slices: ``2 · representation_dim`` values per track.

Features are cached per (model digest, target) in ``<cache_root>/features/`` so that running a
probe again does not extract again. Jobs evaluating on one data root at the same time share both
caches: the mel cache's writer lock and the feature file's lock (``<digest>.npz.lock``) make one
compute and the others wait and reuse.

Any block's output instead of the representation (``evaluation.layers``), per-slice vectors and
deformed audio: :mod:`mtl_music.evaluation.layers`, on :func:`vectors_of_slices` and
:func:`cached_feature_files` (one extraction pass filling several per-layer files).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from mtl_music.atomic import atomic_path
from mtl_music.audio.mel import MelSettings
from mtl_music.data import MelCache, Slicer, TrackEntry, build_cache
from mtl_music.errors import DataError
from mtl_music.locks import exclusive
from mtl_music.models.embedder import summarize_slices

log = logging.getLogger(__name__)

#: (B, 2, frames, n_mels) standardised slices -> (B, D) representation.
RepresentationFn = Callable[[torch.Tensor], torch.Tensor]


def target_cache(*, name: str, tracks: Sequence[tuple[str, Path, str | None]], settings: MelSettings,
                 cache_root: Path, num_workers: int = 2, progress: bool | None = None) -> MelCache:
    """Brings the mel cache of a target dataset up to date and opens it.

    ``tracks``: ``(track_id, audio path, split or None)``. A track that cannot be decoded or is
    silent is reported in the cache's ``report.tsv`` and left out (callers drop it).
    """
    entries = [TrackEntry(str(tid), Path(path), split if split in ("train", "valid", "test") else "train")
               for tid, path, split in tracks]
    cache_dir = Path(cache_root) / settings.key()
    build_cache(entries, cache_dir=cache_dir, settings=settings, num_workers=num_workers, dataset_name=name,
                progress=progress)
    return MelCache.open(cache_dir, settings=settings)


#: (B, 2, frames, n_mels) standardised slices -> ``{key: (B, D_key)}`` (one network pass, several
#: layers: :func:`mtl_music.evaluation.layers.layer_vectors`).
VectorsFn = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


@torch.no_grad()
def extract_features(*, represent: RepresentationFn, cache: MelCache, band_mean: np.ndarray, band_std: np.ndarray,
                     track_ids: Sequence[str] | None = None, slice_frames: int = 216, batch_slices: int = 128,
                     device: str | torch.device = "cpu") -> tuple[list[str], np.ndarray]:
    """Features of every cached track (or of ``track_ids`` found in the cache).

    Returns ``(ids, features)``: the ids in order and a float32 array ``(len(ids), 2·D)``. Slices
    of several tracks are batched together (``batch_slices`` per forward pass).
    """
    ids, features, _ = extract_layer_features(
        vectors=lambda x: {"": represent(x)}, cache=cache, band_mean=band_mean, band_std=band_std,
        track_ids=track_ids, slice_frames=slice_frames, batch_slices=batch_slices, device=device)
    return ids, features.get("", np.zeros((0, 0), np.float32))


def extract_layer_features(*, vectors: VectorsFn, cache: MelCache, band_mean: np.ndarray, band_std: np.ndarray,
                           track_ids: Sequence[str] | None = None, slice_frames: int = 216, batch_slices: int = 128,
                           device: str | torch.device = "cpu", per_slice: bool = False,
                           ) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """Every key of ``vectors`` for the cached tracks (or ``track_ids`` found in the cache), from
    one network pass per batch of slices.

    Returns ``(ids, {key: features}, offsets)``: features are float32 ``(n, 2·D_key)`` track
    vectors (mean ‖ std over the track's slices), or with ``per_slice`` the ``(S, D_key)`` vectors
    of every slice, track ``i``'s rows being ``offsets[i]:offsets[i+1]`` (``(n + 1,)`` int64).
    """
    slicer = Slicer(cache, slice_frames=slice_frames, standardize=False)
    cached = set(cache.track_ids)
    wanted = list(cache.track_ids) if track_ids is None else [t for t in track_ids if t in cached]
    # raw dB: the checkpoint's statistics standardise, not the target's
    items = ((t, slicer.slices(cache.index_of(t))) for t in wanted)
    return vectors_of_slices(vectors=vectors, items=items, band_mean=band_mean, band_std=band_std,
                             batch_slices=batch_slices, device=device, per_slice=per_slice)


@torch.no_grad()
def vectors_of_slices(*, vectors: VectorsFn, items: Iterable[tuple[str, torch.Tensor]], band_mean: np.ndarray,
                      band_std: np.ndarray, batch_slices: int = 128, device: str | torch.device = "cpu",
                      per_slice: bool = False) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """:func:`extract_layer_features` for ``items``: ``(track id, (n_slices, 2, frames, n_mels) raw
    dB slices)`` from any source (the mel cache, or deformed audio). Slices of several tracks share
    a forward pass (``batch_slices`` per pass, or one track's slices when it has more)."""
    mean = torch.as_tensor(np.asarray(band_mean, dtype=np.float32), device=device)
    std = torch.as_tensor(np.asarray(band_std, dtype=np.float32), device=device)
    ids: list[str] = []
    counts: list[int] = []
    out: dict[str, list[torch.Tensor]] = {}
    pending: list[torch.Tensor] = []

    def flush() -> None:
        if not pending:
            return
        x = torch.cat(pending).to(device)
        sizes = [len(s) for s in pending]
        for key, rep in vectors((x - mean) / std).items():
            parts = rep.float().cpu().split(sizes)
            out.setdefault(key, []).extend(parts if per_slice else [summarize_slices(p) for p in parts])
        pending.clear()

    n_pending = 0
    for track_id, slices in items:
        if n_pending and n_pending + len(slices) > batch_slices:
            flush()
            n_pending = 0
        ids.append(str(track_id))
        counts.append(len(slices))
        pending.append(slices)
        n_pending += len(slices)
    flush()
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    join = torch.cat if per_slice else torch.stack
    return ids, {key: join(parts).numpy() for key, parts in out.items()}, offsets


def module_representation(module, *, device: str | torch.device = "cpu") -> RepresentationFn:
    """The representation of a :class:`~mtl_music.training.MultiSourceModule` in eval mode."""
    module = module.to(device).eval()

    def represent(x: torch.Tensor) -> torch.Tensor:
        return module.representation(x)

    return represent


#: ``<data_root>/targets/<target>/``: a target's mel cache (``mel/``) and feature caches (``features/``).
TARGETS_DIR = "targets"
FEATURES_DIR = "features"


def target_root(*, data_root: Path, target: str) -> Path:
    """Where a target's caches live: ``<data_root>/targets/<target>``."""
    return Path(data_root) / TARGETS_DIR / target


def features_dir(*, data_root: Path, target: str) -> Path:
    """A target's feature caches, one ``<digest>.npz`` per representation."""
    return target_root(data_root=data_root, target=target) / FEATURES_DIR


def file_digest(path: Path, *, chunk: int = 1 << 20) -> str:
    """First 16 hex digits of the SHA-256 of a file (a checkpoint's identity for the feature cache)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def cached_features(*, cache_root: Path, digest: str, requested: Sequence[str],
                    compute: Callable[[], tuple[list[str], np.ndarray]]) -> tuple[list[str], np.ndarray]:
    """``compute()`` once per ``digest``: later calls read ``<cache_root>/features/<digest>.npz``.

    The file also records which track ids were asked for; when ``requested`` holds an id that
    the stored extraction was not asked for (tracks added to a target since), it is computed
    again rather than leaving the new tracks out. Ids asked for but absent from the features
    (undecodable or silent audio) do not trigger that: they would be absent again.
    """
    def compute_one(keys: Sequence[str]) -> tuple[list[str], dict[str, np.ndarray], None]:
        ids, features = compute()
        return ids, {"": features}, None

    ids, features, _ = cached_feature_files(cache_root=cache_root, digests={"": digest}, requested=requested,
                                            compute=compute_one)[""]
    return ids, features


#: ``compute(keys)`` of :func:`cached_feature_files`: ``(ids, {key: features}, offsets or None)``.
ComputeFn = Callable[[Sequence[str]], tuple[list[str], Mapping[str, np.ndarray], "np.ndarray | None"]]


def cached_feature_files(*, cache_root: Path, digests: Mapping[str, str], requested: Sequence[str],
                         compute: ComputeFn) -> dict[str, tuple[list[str], np.ndarray, np.ndarray]]:
    """:func:`cached_features` for several feature files filled by one extraction (the layers of
    one network): ``digests`` maps a key (a layer) to its file ``<cache_root>/features/<digest>.npz``.

    ``compute(keys)`` is called once, with the keys whose file is missing or does not cover
    ``requested``, and returns ``(ids, {key: features}, offsets)``; ``offsets`` (``(n + 1,)``
    int64, track ``i``'s rows ``offsets[i]:offsets[i+1]``) are stored with slice-level features,
    ``None`` for one row per track. Returns ``{key: (ids, features, offsets)}`` for every key
    (offsets ``0..n`` for one row per track).
    """
    paths = {key: Path(cache_root) / FEATURES_DIR / f"{digest}.npz" for key, digest in digests.items()}
    found = {key: _stored_features(path, requested) for key, path in paths.items()}
    missing = sorted((key for key, stored in found.items() if stored is None), key=lambda k: str(paths[k]))
    if missing:
        # Evaluations sharing the data root: one extracts, the others wait and read its files.
        # The locks are taken in path order, so two jobs wanting overlapping layers cannot deadlock.
        with contextlib.ExitStack() as locks:
            for key in missing:
                locks.enter_context(exclusive(paths[key], what=f"the feature cache {paths[key]}"))
            for key in missing:  # written by the process this one waited for
                found[key] = _stored_features(paths[key], requested, quiet=True)
            todo = [key for key in missing if found[key] is None]
            if todo:
                ids, features, offsets = compute(todo)
                for key in todo:
                    found[key] = _write_features(paths[key], ids=ids, features=features[key], offsets=offsets,
                                                 requested=requested)
    return found  # type: ignore[return-value]


def _write_features(path: Path, *, ids: list[str], features: np.ndarray, offsets: np.ndarray | None,
                    requested: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    if not np.all(np.isfinite(features)):
        raise DataError(f"features for {path.stem} contain NaN or inf; check the checkpoint and the target audio")
    extra = {} if offsets is None else {"offsets": np.asarray(offsets, dtype=np.int64)}
    with atomic_path(path, suffix=".part.npz") as temp:
        np.savez(temp, track_ids=np.asarray(ids, dtype=str), features=features,
                 requested=np.asarray(sorted(set(requested) | set(ids)), dtype=str), **extra)
    return list(ids), features, _offsets(offsets, len(ids))


def _offsets(offsets: np.ndarray | None, n: int) -> np.ndarray:
    return np.arange(n + 1, dtype=np.int64) if offsets is None else np.asarray(offsets, dtype=np.int64)


def _stored_features(path: Path, requested: Sequence[str], *,
                     quiet: bool = False) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """The features stored at ``path`` (ids, features, offsets) when they cover ``requested``, else ``None``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            asked = set(data["requested"].tolist()) if "requested" in data else set(data["track_ids"].tolist())
            if set(requested) <= asked:
                ids = [str(t) for t in data["track_ids"]]
                return ids, data["features"], _offsets(data["offsets"] if "offsets" in data else None, len(ids))
            if not quiet:
                log.info("feature cache %s predates %d track(s) of this target; extracting again", path,
                         len(set(requested) - asked))
    except (OSError, ValueError, KeyError) as err:  # a torn file: recompute rather than fail
        if not quiet:
            log.warning("feature cache %s unreadable (%s); extracting again", path, err)
    return None
