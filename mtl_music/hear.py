"""The HEAR common API (Turian et al., HEAR 2021) for a trained mtl_music representation.

    import mtl_music.hear as hear
    model = hear.load_model("outputs/train/<run>")          # a run dir, a .ckpt or an exported .pt
    scene = hear.get_scene_embeddings(audio, model)          # (n_sounds, model.scene_embedding_size)
    frames, ms = hear.get_timestamp_embeddings(audio, model)  # (n_sounds, n_ts, D), (n_sounds, n_ts)

``audio`` is a float32 tensor ``(n_sounds, n_samples)`` of mono audio at ``model.sample_rate``
(22,050 Hz), all sounds padded to the same length, as HEAR passes it. The HEAR evaluation kit
runs the module as is: ``python -m heareval.embeddings.runner mtl_music.hear --model <run dir or .pt>``.

* Scene embeddings (``scene_embedding_size`` = 2·D) are exactly what ``mtl_music.embed``
  writes for the same audio: mean ‖ population std of the representation over non-overlapping
  2.5 s slices (the last padded with the sound's dB floor).
* Timestamp embeddings (``timestamp_embedding_size`` = D) are the representation of a 2.5 s
  window (216 frames) around each timestamp, padded with the sound's floor at the edges.
  Timestamps are in milliseconds, from 0 every ``model.timestamp_hop_ms`` up to the end of the
  sound, the same for every sound of a batch. The hop is ``load_model(...,
  timestamp_hop_ms=50.0)`` rounded down to whole STFT frames of 11.6 ms: 46.4 ms by default
  (HEAR asks for 50 ms or less). Every timestamp costs one network pass over 2.5 s, so
  timestamp embeddings of long sounds are ~50x the work of scene embeddings.
* Mono sounds are duplicated to the two channels the network was trained on. All-silent sounds
  get a finite embedding (every band at the dB floor).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtl_music.errors import ConfigError, DataError

#: The HEAR-recommended upper bound on the timestamp hop, the default here.
DEFAULT_TIMESTAMP_HOP_MS = 50.0

#: Name of the model card inside an exported TorchScript file (``_extra_files``).
CARD_ENTRY = "model_card.json"


class HearModel(nn.Module):
    """What :func:`load_model` returns: an embedder (an eager
    :class:`~mtl_music.models.embedder.AudioEmbedder` or an exported TorchScript module) and the
    attributes HEAR reads.

    Attributes:
        sample_rate: 22,050 (Hz) for the paper's front end.
        scene_embedding_size: 2·D.
        timestamp_embedding_size: D.
        hop_frames: timestamp hop in STFT frames; ``timestamp_hop_ms`` the same in milliseconds.
        card: the model card (dict) of an exported file, else ``None``.
    """

    def __init__(self, embedder: nn.Module, *, hop_frames: int, card: dict | None = None) -> None:
        super().__init__()
        self.embedder = embedder
        self.sample_rate = int(embedder.sample_rate)
        self.scene_embedding_size = int(embedder.embedding_size)
        self.timestamp_embedding_size = int(embedder.representation_size)
        self.hop_frames = int(hop_frames)
        self.timestamp_hop_ms = 1000.0 * self.hop_frames * int(embedder.hop_length) / self.sample_rate
        self.card = card

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, scene_embedding_size={self.scene_embedding_size}, "
                f"timestamp_embedding_size={self.timestamp_embedding_size}, "
                f"timestamp_hop_ms={self.timestamp_hop_ms:.2f}")


def load_model(model_file_path: str = "", *, timestamp_hop_ms: float = DEFAULT_TIMESTAMP_HOP_MS,
               batch_slices: int = 128, device: str | None = None, **kwargs: Any) -> HearModel:
    """A trained representation as a HEAR model, in eval mode.

    Args:
        model_file_path: a run directory (its ``checkpoints/last.ckpt``), a ``.ckpt`` written by
            ``mtl_music.train``, or a ``.pt`` written by ``mtl_music.export``.
        timestamp_hop_ms: the timestamp hop; rounded down to whole STFT frames (at least one).
        batch_slices: 2.5 s windows per network pass (bounds memory; a checkpoint only, an
            exported file keeps the value it was exported with).
        device: where to run (``None``: CUDA when available, else CPU). ``model.to(...)`` moves
            it later; audio is moved to the model's device.
        kwargs: other HEAR kit model options are not used; an unknown one is an error.
    """
    if kwargs:
        raise ConfigError(f"load_model: unknown option(s) {sorted(kwargs)}; it takes timestamp_hop_ms, "
                          "batch_slices and device")
    if not str(model_file_path):
        raise DataError("load_model needs a model: pass a run directory, a .ckpt from mtl_music.train or a .pt "
                        "from mtl_music.export")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    path = Path(str(model_file_path)).expanduser()
    card = None
    if path.is_file() and path.suffix.lower() in (".pt", ".pth"):
        extra = {CARD_ENTRY: ""}
        try:
            embedder = torch.jit.load(str(path), map_location=device, _extra_files=extra)
        except (RuntimeError, ValueError, OSError) as err:
            raise DataError(f"{path} is not a TorchScript file written by mtl_music.export ({err})") from err
        if not hasattr(embedder, "scene_embeddings"):
            raise DataError(f"{path} is a TorchScript module but not an mtl_music export (no scene_embeddings)")
        card = json.loads(extra[CARD_ENTRY]) if extra[CARD_ENTRY] else None
    else:
        from mtl_music.models.embedder import AudioEmbedder
        from mtl_music.runs import load_module

        module = load_module(path)
        embedder = AudioEmbedder.from_module(module.to(device), batch_slices=batch_slices).to(device)
    frame_ms = 1000.0 * int(embedder.hop_length) / int(embedder.sample_rate)
    if not timestamp_hop_ms > 0:
        raise ConfigError(f"timestamp_hop_ms={timestamp_hop_ms} must be > 0 (HEAR asks for <= 50 ms)")
    hop_frames = max(1, math.floor(float(timestamp_hop_ms) / frame_ms + 1e-9))
    return HearModel(embedder, hop_frames=hop_frames, card=card).eval()


def _check_audio(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    if not isinstance(audio, torch.Tensor) or audio.dim() != 2:
        shape = tuple(audio.shape) if isinstance(audio, torch.Tensor) else type(audio).__name__
        raise ValueError(f"audio must be a tensor (n_sounds, n_samples) of mono audio at {model.sample_rate} Hz, "
                         f"got {shape}")
    return audio.to(dtype=torch.float32)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, n_samples)`` mono at ``model.sample_rate`` -> ``(n_sounds,
    model.scene_embedding_size)`` float32, on the model's device."""
    audio = _check_audio(audio, model)
    model.eval()
    with torch.no_grad():
        return model.embedder.scene_embeddings(audio).float()


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n_sounds, n_samples)`` mono at ``model.sample_rate`` -> ``(embeddings (n_sounds,
    n_timestamps, model.timestamp_embedding_size), timestamps (n_sounds, n_timestamps))``, both
    float32; timestamps in milliseconds, equally spaced by ``model.timestamp_hop_ms`` from 0."""
    audio = _check_audio(audio, model)
    model.eval()
    with torch.no_grad():
        embeddings, timestamps = model.embedder.timestamp_embeddings(audio, model.hop_frames)
    return embeddings.float(), timestamps.float()
