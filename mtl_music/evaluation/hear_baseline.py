"""Any HEAR-API module (Turian et al., HEAR 2021) as a baseline representation (``baseline=hear``).

    python -m mtl_music.evaluate baseline=hear hear.module=hearbaseline hear.model=/w/naive_baseline.pt target=[gtzan]

The module (``evaluation.hear.module``) must have ``load_model`` and ``get_scene_embeddings``;
its model must have ``sample_rate``. Each target track is decoded with
:func:`mtl_music.audio.load_audio` at the model's rate and mixed to mono (what the HEAR kit
passes), and the model embeds ``evaluation.hear.batch_size`` sounds per call under
``torch.no_grad``. HEAR wants the sounds of one batch to have one length; padding would change a
sound's scene embedding, so only sounds of **equal length** share a batch (a target of clips of
different lengths is embedded one clip per call, which is exact, only slower).

Features are cached in the target's feature cache under ``hear-<module>-<model identity>-sr<rate>``
(the model identity: a weights file's content hash, a directory's file names, sizes and mtimes,
or ``none``), deformed audio under ``<that>-<deformation key>`` (each track's seed:
:func:`~mtl_music.audio.deform.deformation_seed`).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mtl_music.errors import AudioError, ConfigError, DataError
from mtl_music.evaluation.settings import EvaluationSettings
from mtl_music.evaluation.transfer import Representation

log = logging.getLogger(__name__)

#: Decoded sounds held while waiting for an equal-length batch to fill, in samples (1 GiB of
#: float32): past it every waiting group is embedded, so a target of all-different lengths (which
#: batch one per call anyway) is not first decoded whole into memory.
PENDING_SAMPLES = 1 << 28

#: (n_sounds, n_samples) float32 mono -> (n_sounds, D) float32.
EmbedFn = Callable[[np.ndarray], np.ndarray]


def _install_hint(module: str) -> str:
    top = module.split(".")[0]
    return f"pip install {top.replace('_', '-')} (or the package that provides {module}), or fix hear.module=..."


def load_hear_module(name: str | None):
    """The HEAR-API module ``name`` (imported); :class:`ConfigError` naming it and the fix when it
    is not set, not importable, or lacks ``load_model`` / ``get_scene_embeddings``."""
    if not name:
        raise ConfigError("baseline=hear needs the HEAR module: pass hear.module=<python module with the HEAR API> "
                          "(e.g. hear.module=hearbaseline; evaluation.hear.module in the long form)")
    try:
        module = importlib.import_module(str(name))
    except ImportError as err:
        raise ConfigError(f"hear.module={name}: cannot import it ({err}); {_install_hint(str(name))}") from err
    missing = [fn for fn in ("load_model", "get_scene_embeddings") if not callable(getattr(module, fn, None))]
    if missing:
        raise ConfigError(f"hear.module={name} ({getattr(module, '__file__', '?')}) does not have the HEAR API: no "
                          f"{' or '.join(missing)}; point hear.module at the module that defines load_model and "
                          "get_scene_embeddings (hear.module=<package>.<module>)")
    return module


def model_identity(model: str | None) -> str:
    """The model file's identity in the feature cache's digest: ``none`` for no file, a file's
    :func:`~mtl_music.evaluation.features.file_digest`, for a directory a digest of its files'
    relative names, sizes and mtimes (reading every byte of a large model folder would cost
    more than embedding a small target)."""
    from mtl_music.evaluation.features import file_digest

    if model is None:
        return "none"
    path = Path(str(model)).expanduser()
    if path.is_file():
        return file_digest(path)
    if path.is_dir():
        h = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            h.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return "dir" + h.hexdigest()[:13]
    raise ConfigError(f"hear.model={model} does not exist; pass the model's weights file or folder, or "
                      "hear.model=null for a module that needs none")


def _embed_fn(module, model, *, name: str, device: str) -> EmbedFn:
    import torch

    def embed(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module.get_scene_embeddings(torch.from_numpy(batch).to(device), model)
        out = out.detach().float().cpu().numpy() if isinstance(out, torch.Tensor) else np.asarray(out, np.float32)
        if out.ndim != 2 or out.shape[0] != len(batch):
            raise DataError(f"{name}.get_scene_embeddings returned shape {out.shape} for {len(batch)} sound(s); "
                            "the HEAR API returns (n_sounds, scene_embedding_size)")
        return out.astype(np.float32, copy=False)

    return embed


def hear_features(*, embed: EmbedFn, tracks: Sequence[tuple[str, Path, Any]], sample_rate: int, batch_size: int,
                  transform: Callable[[str, np.ndarray], np.ndarray] | None = None) -> tuple[list[str], np.ndarray]:
    """Scene embeddings of ``tracks`` (``(track_id, path, split)``): ``(ids, (n, D) float32)``.

    Each track is decoded at ``sample_rate`` and mixed to mono ``(n_samples,)``; ``transform(track_id,
    audio)`` (a deformation) then applies. Sounds of equal length are embedded together, at most
    ``batch_size`` per :data:`EmbedFn` call, shorter groups first; ids come back in ``tracks``
    order. A track that cannot be decoded or is empty is logged and left out.
    """
    from mtl_music.audio import load_audio

    order = {str(t[0]): i for i, t in enumerate(tracks)}
    waiting: dict[int, list[tuple[str, np.ndarray]]] = {}
    done: dict[str, np.ndarray] = {}
    n_waiting = 0

    def flush(length: int) -> None:
        nonlocal n_waiting
        group = waiting.pop(length)
        n_waiting -= length * len(group)
        for start in range(0, len(group), batch_size):
            chunk = group[start:start + batch_size]
            for (tid, _), row in zip(chunk, embed(np.stack([a for _, a in chunk]))):
                done[tid] = row

    for track_id, path, _ in tracks:
        track_id = str(track_id)
        try:
            audio = load_audio(path, sample_rate=int(sample_rate)).mean(axis=0)  # HEAR's input: mono
        except AudioError as err:
            log.warning("HEAR baseline: track %s left out: %s", track_id, err)
            continue
        if transform is not None:
            audio = np.asarray(transform(track_id, audio), dtype=np.float32)
        if audio.size == 0:
            log.warning("HEAR baseline: track %s (%s) holds no samples and is left out", track_id, path)
            continue
        group = waiting.setdefault(audio.size, [])
        group.append((track_id, np.ascontiguousarray(audio, dtype=np.float32)))
        n_waiting += audio.size
        if len(group) == batch_size:
            flush(audio.size)
        elif n_waiting > PENDING_SAMPLES:
            for length in sorted(waiting):
                flush(length)
    for length in sorted(waiting):
        flush(length)
    ids = sorted(done, key=order.__getitem__)
    if not ids:
        return [], np.zeros((0, 0), np.float32)
    return ids, np.stack([done[t] for t in ids])


def hear_representation(*, settings: EvaluationSettings, device: str = "cpu") -> Representation:
    """The HEAR module ``settings.hear.module`` (with ``settings.hear.model``) as a representation:
    scene embeddings of each target track, ``(n, scene_embedding_size)`` float32.

    Run name ``hear:<module>`` (``hear:<module>:<model file stem>`` with a model), strategy
    ``hear``. Raises :class:`ConfigError` when the module cannot be imported, lacks the API, or its
    model has no ``sample_rate``.
    """
    from mtl_music.audio.deform import deformation_seed
    from mtl_music.evaluation.features import cached_features

    hear = settings.hear
    name = str(hear.module) if hear.module else ""
    module = load_hear_module(name)
    identity = model_identity(hear.model)
    model = module.load_model() if hear.model is None else module.load_model(str(Path(str(hear.model)).expanduser()))
    sample_rate = getattr(model, "sample_rate", None)
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise ConfigError(f"hear.module={name}: load_model() returned a {type(model).__name__} without an integer "
                          f"sample_rate (got {sample_rate!r}); the HEAR API's model carries its sample_rate in Hz")
    sample_rate = int(sample_rate)
    import torch

    if isinstance(model, torch.nn.Module):
        model = model.to(device).eval()
    embed = _embed_fn(module, model, name=name, device=device)
    digest = f"hear-{name}-{identity}-sr{sample_rate}"
    batch_size = int(hear.batch_size)

    def features(target: str, tracks, target_root: Path):
        return cached_features(cache_root=target_root, digest=digest, requested=[str(t[0]) for t in tracks],
                               compute=lambda: hear_features(embed=embed, tracks=tracks, sample_rate=sample_rate,
                                                             batch_size=batch_size))

    def deformed(target: str, tracks, target_root: Path, deformation):
        def transform(track_id: str, audio: np.ndarray) -> np.ndarray:
            return deformation.apply(audio, sample_rate=sample_rate, seed=deformation_seed(track_id, deformation))

        return cached_features(cache_root=target_root, digest=f"{digest}-{deformation.key}",
                               requested=[str(t[0]) for t in tracks],
                               compute=lambda: hear_features(embed=embed, tracks=tracks, sample_rate=sample_rate,
                                                             batch_size=batch_size, transform=transform))

    run = f"hear:{name}" + (f":{Path(str(hear.model)).stem}" if hear.model is not None else "")
    log.info("HEAR baseline %s: %d Hz, features cached as %s", run, sample_rate, digest)
    return Representation(run=run, strategy="hear", sources=(), features=features, deformed=deformed)
