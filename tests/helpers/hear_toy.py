"""A tiny module with the HEAR common API, for the ``baseline=hear`` tests.

A fixed-seed "log-mel-ish" network at 16 kHz: a strided conv of 25 ms windows every 10 ms,
log(1 + power), a linear layer to 8 values per frame (timestamp embeddings), mean ‖ std over
frames (scene embeddings, 16 values). ``load_model()`` builds it with seed 0;
``load_model(path)`` reads a state dict written by :func:`write_weights`. Every call is
recorded in :data:`CALLS` (the tests' spy).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

SAMPLE_RATE = 16000
WINDOW, HOP, FILTERS, DIM = 400, 160, 12, 8

#: ``("load_model", path)`` and ``("get_scene_embeddings", (n_sounds, n_samples))`` per call.
CALLS: list[tuple[str, object]] = []
#: ``torch.is_grad_enabled()`` at each get_scene_embeddings call.
GRAD_ENABLED: list[bool] = []


class ToyModel(nn.Module):
    sample_rate = SAMPLE_RATE
    scene_embedding_size = 2 * DIM
    timestamp_embedding_size = DIM

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, FILTERS, WINDOW, stride=HOP, bias=False)
        self.proj = nn.Linear(FILTERS, DIM)
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) / p.shape[-1] ** 0.5)

    def frames(self, audio: torch.Tensor) -> torch.Tensor:
        """(n, samples) -> (n, frames, DIM)."""
        power = self.conv(audio[:, None, :]).pow(2)
        return self.proj(torch.log1p(1e3 * power).transpose(1, 2))


def write_weights(path: str | Path, *, seed: int) -> Path:
    """A weights file (torch state dict) of the toy network with ``seed``."""
    torch.save(ToyModel(seed).state_dict(), path)
    return Path(path)


def load_model(model_file_path: str = "") -> ToyModel:
    CALLS.append(("load_model", str(model_file_path)))
    model = ToyModel()
    if model_file_path:
        model.load_state_dict(torch.load(model_file_path, map_location="cpu", weights_only=True))
    return model.eval()


def get_scene_embeddings(audio: torch.Tensor, model: ToyModel) -> torch.Tensor:
    CALLS.append(("get_scene_embeddings", tuple(audio.shape)))
    GRAD_ENABLED.append(torch.is_grad_enabled())
    frames = model.frames(audio)
    return torch.cat([frames.mean(1), frames.std(1, unbiased=False)], dim=1)


def get_timestamp_embeddings(audio: torch.Tensor, model: ToyModel) -> tuple[torch.Tensor, torch.Tensor]:
    frames = model.frames(audio)
    centres = (torch.arange(frames.shape[1]) * HOP + WINDOW / 2) * 1000.0 / SAMPLE_RATE
    return frames, centres.expand(audio.shape[0], -1)
