"""Layer-wise features of a network (``evaluation.layers``, the Choi baseline, MARBLE-style layer
selection): any block's output, not only the fc-feature representation.

A block's output is read with a forward hook during one ordinary pass of the network, so every
requested layer of a batch costs one forward pass. A conv block's map ``(B, C, T', M')`` is pooled
to mean ‖ std over time and frequency, ``(B, 2C)``; ``fc_feature`` is the fc-feature itself
(``(B, d)``, what :meth:`~mtl_music.models.MultiSourceNetwork.representation` returns). A block
after the branch point exists once per learning source: its vectors are concatenated over the
sources in ``network.source_names`` order, as the representation concatenates fc-features.

:class:`NetworkFeatures` turns that into the per-track (mean ‖ std over 2.5 s slices), per-slice
and deformed-audio features of a target, one cached file per layer
(``<model digest>-<mel settings key>-<layer>[-slices | -<deformation key>].npz`` under the target's
``features/``; the representation itself keeps ``<model digest>-<mel settings key>``). One
extraction pass fills every layer of the selection whose file is missing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mtl_music.errors import AudioError, ConfigError
from mtl_music.models.blocks import FC_FEATURE

log = logging.getLogger(__name__)

#: The key of the representation itself (every branch's fc-feature) among a selection's layers.
REPRESENTATION = ""

#: Suffix of slice-level feature files (``evaluation.aggregate=slices``).
SLICES_SUFFIX = "slices"


def _network(module):
    """The :class:`~mtl_music.models.MultiSourceNetwork` of a module (or the network itself)."""
    return getattr(module, "network", module)


def layer_names(network) -> tuple[str, ...]:
    """Every block of ``network`` (a MultiSourceNetwork or a module holding one) in network order:
    the shared blocks, then the blocks every branch repeats (``conv1`` … ``conv62``, ``fc_feature``)."""
    network = _network(network)
    branch = network.branches[network.source_names[0]] if network.source_names else ()
    return tuple(name for name, _ in network.shared.named_children()) + tuple(
        name for name, _ in branch.named_children())


def conv_layer_names(network) -> tuple[str, ...]:
    """Every block but ``fc_feature``: the layers the Choi et al. (2017) convnet feature concatenates."""
    return tuple(name for name in layer_names(network) if name != FC_FEATURE)


def select_layers(network, layers: str | Sequence[str]) -> tuple[str, ...]:
    """``evaluation.layers`` (``all`` or block names) as block names of ``network``; a
    :class:`ConfigError` listing the network's layers for an unknown name."""
    names = layer_names(network)
    if isinstance(layers, str):
        layers = names if layers == "all" else (layers,)
    unknown = [name for name in layers if name not in names]
    if unknown:
        net = _network(network)
        raise ConfigError(f"evaluation.layers names {', '.join(map(repr, unknown))}, which the network "
                          f"(trunk={net.trunk_name}, arch={net.arch_name}) does not have; its layers are "
                          f"{', '.join(names)} (or evaluation.layers=all)")
    return tuple(dict.fromkeys(layers))  # a name given twice is one layer


def pool_map(x: torch.Tensor) -> torch.Tensor:
    """A block's output as a vector per example: ``(B, C, T, M)`` -> ``(B, 2C)`` mean ‖ population
    std over time and frequency; ``(B, D)`` (fc-feature) is returned as it is."""
    if x.dim() == 2:
        return x
    flat = x.float().flatten(2)
    return torch.cat([flat.mean(2), flat.std(2, unbiased=False)], dim=1)


@torch.no_grad()
def layer_vectors(module, x: torch.Tensor, *, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{layer: (B, D_layer)}`` of standardised slices ``x`` ``(B, 2, T, M)`` from one pass of
    ``module`` (a MultiSourceModule or MultiSourceNetwork, in eval mode) for the block names
    ``layers`` (see :func:`select_layers`): conv blocks pooled by :func:`pool_map` (``2C``),
    ``fc_feature`` as is (``d``); a branch block concatenated over sources (``·m``).
    ``REPRESENTATION`` (``""``) is the representation itself."""
    network = _network(module)
    wanted = [name for name in layers if name != REPRESENTATION]
    select_layers(network, wanted)
    shared = dict(network.shared.named_children())
    captured: dict[str, list[torch.Tensor]] = {name: [] for name in wanted}
    hooks = []
    try:
        for name in wanted:
            blocks = ([shared[name]] if name in shared
                      else [getattr(network.branches[s], name) for s in network.source_names])
            for block in blocks:  # registered in source order, so they fire in that order too
                hooks.append(block.register_forward_hook(
                    lambda _m, _i, out, name=name: captured[name].append(pool_map(out))))
        representation = module.representation(x)
    finally:
        for hook in hooks:
            hook.remove()
    out = {name: torch.cat(parts, dim=1) if len(parts) > 1 else parts[0] for name, parts in captured.items()}
    if REPRESENTATION in layers:
        out[REPRESENTATION] = representation
    return {name: out[name] for name in layers}


def track_seed(track_id: str) -> int:
    """A deformation's seed for one track: fixed by its id (the same noise in every run)."""
    return int.from_bytes(hashlib.sha256(str(track_id).encode()).digest()[:4], "little")


class NetworkFeatures:
    """A target's features of the layers ``layers`` of a MultiSourceModule (``REPRESENTATION``
    for the representation itself), cached per layer; see the module docstring.

    Every method returns ``(ids, {layer: features}, offsets)`` with the layers aligned on the same
    tracks (ids every layer's file has): ``track`` (n, 2·D) mean ‖ std over slices, ``slices``
    (S, D) per slice, ``deformed`` (n, 2·D) of the tracks' audio under a deformation.
    """

    def __init__(self, module, *, digest: str, layers: Sequence[str], num_workers: int = 2,
                 batch_slices: int = 128, device: str | torch.device = "cpu") -> None:
        from mtl_music.audio.mel import mel_settings_from_cfg

        self.module = module.to(device).eval()
        self.layers = tuple(layers)
        select_layers(module, [name for name in self.layers if name != REPRESENTATION])
        self.mel_settings = mel_settings_from_cfg(module.hparams["frontend"])
        self.base = f"{digest}-{self.mel_settings.key()}"  # the representation's digest since the first version
        self.num_workers = num_workers
        self.batch_slices = batch_slices
        self.device = device
        self.slice_frames = int(module.hparams.get("crop_frames", 216))

    def digest(self, layer: str, *suffix: str) -> str:
        """The feature file's name (without ``.npz``) of ``layer`` (and a kind: slices, a deformation)."""
        return "-".join([self.base, *([layer] if layer else []), *suffix])

    def _vectors(self, layers: Sequence[str]):
        return lambda x: layer_vectors(self.module, x, layers=layers)

    def _band_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        return self.module.band_mean.cpu().numpy(), self.module.band_std.cpu().numpy()

    def _cached(self, target_root: Path, tracks, suffix: tuple[str, ...], compute):
        from mtl_music.evaluation.features import cached_feature_files

        found = cached_feature_files(cache_root=target_root, digests={k: self.digest(k, *suffix) for k in self.layers},
                                     requested=[t[0] for t in tracks], compute=compute)
        return aligned_layers(found, order=self.layers)

    def _from_mel_cache(self, name: str, tracks, target_root: Path, *, per_slice: bool):
        from mtl_music.evaluation.features import extract_layer_features, target_cache

        def compute(layers: Sequence[str]):
            cache = target_cache(name=name, tracks=tracks, settings=self.mel_settings, cache_root=target_root / "mel",
                                 num_workers=self.num_workers)
            mean, std = self._band_statistics()
            ids, features, offsets = extract_layer_features(
                vectors=self._vectors(layers), cache=cache, band_mean=mean, band_std=std,
                slice_frames=self.slice_frames, batch_slices=self.batch_slices, device=self.device,
                per_slice=per_slice)
            return ids, _filled(features, layers), offsets if per_slice else None

        return self._cached(target_root, tracks, (SLICES_SUFFIX,) if per_slice else (), compute)

    def track(self, name: str, tracks, target_root: Path):
        """Track vectors of the target's tracks ``(id, path, split)`` (its mel cache is built as needed)."""
        return self._from_mel_cache(name, tracks, target_root, per_slice=False)

    def slices(self, name: str, tracks, target_root: Path):
        """Per-slice vectors; track ``i``'s slices are rows ``offsets[i]:offsets[i+1]``."""
        return self._from_mel_cache(name, tracks, target_root, per_slice=True)

    def deformed(self, name: str, tracks, target_root: Path, deformation: Any):
        """Track vectors of each track's audio under ``deformation`` (``.key``, ``.apply(audio, *,
        sample_rate, seed)``; see :mod:`mtl_music.audio.deform`), seeded per track
        (:func:`track_seed`). Decoding runs in this process, one track at a time: a target's test
        part is small, and the deformation object need not be picklable. A track that cannot be
        decoded is left out (logged)."""
        def compute(layers: Sequence[str]):
            mean, std = self._band_statistics()
            ids, features, _ = self._vectors_of_items(self._deformed_slices(name, tracks, deformation), layers,
                                                      mean=mean, std=std)
            return ids, _filled(features, layers), None

        return self._cached(target_root, tracks, (str(deformation.key),), compute)

    def _vectors_of_items(self, items, layers, *, mean, std):
        from mtl_music.evaluation.features import vectors_of_slices

        return vectors_of_slices(vectors=self._vectors(layers), items=items, band_mean=mean, band_std=std,
                                 batch_slices=self.batch_slices, device=self.device)

    def _deformed_slices(self, name: str, tracks, deformation) -> Iterator[tuple[str, torch.Tensor]]:
        """``(id, raw dB slices)`` of every decodable track's deformed audio, the mel front end
        and slicing of :class:`~mtl_music.models.embedder.AudioEmbedder` (the module's own settings)."""
        from mtl_music.audio import load_audio
        from mtl_music.audio.io import stereo_tensor
        from mtl_music.audio.mel import MelSpectrogram
        from mtl_music.models.embedder import track_slices

        sr = int(self.mel_settings.sample_rate)
        frontend = MelSpectrogram(self.mel_settings).to(self.device)
        for track_id, path, _ in tracks:
            try:
                audio = load_audio(path, sample_rate=sr)
            except AudioError as err:
                log.warning("%s, %s: track %s left out: %s", name, deformation.name, track_id, err)
                continue
            changed = np.asarray(deformation.apply(audio, sample_rate=sr, seed=track_seed(track_id)), dtype=np.float32)
            pcm = torch.from_numpy(np.ascontiguousarray(changed.reshape(-1, changed.shape[-1])))
            with torch.no_grad():
                mel = frontend(stereo_tensor(pcm.to(self.device)))
            yield str(track_id), track_slices(mel, slice_frames=self.slice_frames)


def _filled(features: Mapping[str, np.ndarray], layers: Sequence[str]) -> dict[str, np.ndarray]:
    """Every layer's array, empty ``(0, 0)`` when no track had features."""
    return {layer: features.get(layer, np.zeros((0, 0), np.float32)) for layer in layers}


def aligned_layers(found: Mapping[str, tuple[list[str], np.ndarray, np.ndarray]], *, order: Sequence[str]):
    """``(ids, {layer: rows}, offsets)`` of the tracks that every layer's file holds (files
    written at different times may differ), in the first layer's order."""
    from mtl_music.evaluation.transfer import _rows_of_items

    first = found[order[0]]
    ids = first[0]
    if all(found[layer][0] == ids for layer in order):
        return list(ids), {layer: found[layer][1] for layer in order}, first[2]
    common = set(ids).intersection(*(found[layer][0] for layer in order))
    ids = [t for t in ids if t in common]
    out: dict[str, np.ndarray] = {}
    offsets = np.zeros(1, np.int64)
    for layer in order:
        row_of = {t: i for i, t in enumerate(found[layer][0])}
        out[layer], offsets = _rows_of_items(found[layer][1], found[layer][2], [row_of[t] for t in ids])
    return ids, out, offsets
