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
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
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


@torch.no_grad()
def extract_features(*, represent: RepresentationFn, cache: MelCache, band_mean: np.ndarray, band_std: np.ndarray,
                     track_ids: Sequence[str] | None = None, slice_frames: int = 216, batch_slices: int = 128,
                     device: str | torch.device = "cpu") -> tuple[list[str], np.ndarray]:
    """Features of every cached track (or of ``track_ids`` found in the cache).

    Returns ``(ids, features)``: the ids in order and a float32 array ``(len(ids), 2·D)``. Slices
    of several tracks are batched together (``batch_slices`` per forward pass).
    """
    mean = torch.as_tensor(np.asarray(band_mean, dtype=np.float32), device=device)
    std = torch.as_tensor(np.asarray(band_std, dtype=np.float32), device=device)
    slicer = Slicer(cache, slice_frames=slice_frames, standardize=False)
    cached = set(cache.track_ids)
    wanted = list(cache.track_ids) if track_ids is None else [t for t in track_ids if t in cached]
    if not wanted:
        return [], np.zeros((0, 0), np.float32)
    positions = [cache.index_of(t) for t in wanted]
    out: list[torch.Tensor | None] = [None] * len(positions)
    pending: list[tuple[int, torch.Tensor]] = []  # (output row, its slices)

    def flush() -> None:
        if not pending:
            return
        x = torch.cat([s for _, s in pending]).to(device)
        rep = represent((x - mean) / std).float().cpu()
        start = 0
        for row, slices in pending:
            out[row] = summarize_slices(rep[start:start + len(slices)])
            start += len(slices)
        pending.clear()

    n_pending = 0
    for row, i in enumerate(positions):
        slices = slicer.slices(i)  # raw dB: the checkpoint's statistics standardise, not the target's
        if n_pending and n_pending + len(slices) > batch_slices:
            flush()
            n_pending = 0
        pending.append((row, slices))
        n_pending += len(slices)
    flush()
    return wanted, torch.stack(out).numpy()


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
    path = Path(cache_root) / FEATURES_DIR / f"{digest}.npz"
    stored = _stored_features(path, requested)
    if stored is not None:
        return stored
    # Evaluations sharing the data root: one extracts, the others wait and read its file.
    with exclusive(path, what=f"the feature cache {path}"):
        stored = _stored_features(path, requested, quiet=True)  # written by the process this one waited for
        if stored is not None:
            return stored
        ids, features = compute()
        if not np.all(np.isfinite(features)):
            raise DataError(f"features for {path.stem} contain NaN or inf; check the checkpoint and the target audio")
        with atomic_path(path, suffix=".part.npz") as temp:
            np.savez(temp, track_ids=np.asarray(ids, dtype=str), features=features,
                     requested=np.asarray(sorted(set(requested) | set(ids)), dtype=str))
    return ids, features


def _stored_features(path: Path, requested: Sequence[str], *, quiet: bool = False) -> tuple[list[str], np.ndarray] | None:
    """The features stored at ``path`` when they cover ``requested``, else ``None``."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            asked = set(data["requested"].tolist()) if "requested" in data else set(data["track_ids"].tolist())
            if set(requested) <= asked:
                return [str(t) for t in data["track_ids"]], data["features"]
            if not quiet:
                log.info("feature cache %s predates %d track(s) of this target; extracting again", path,
                         len(set(requested) - asked))
    except (OSError, ValueError, KeyError) as err:  # a torn file: recompute rather than fail
        if not quiet:
            log.warning("feature cache %s unreadable (%s); extracting again", path, err)
    return None
