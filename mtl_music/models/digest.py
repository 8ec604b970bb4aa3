"""The identity of a network's weights: one digest for the DDP rank check and the feature cache."""

from __future__ import annotations

import hashlib
import json

import torch


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 over every parameter and buffer (names and raw bytes), in state-dict order:
    equal exactly when the weights are bit-identical."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def module_digest(module: torch.nn.Module) -> str:
    """16 hex digits naming a LightningModule's features in the feature cache: its
    hyper-parameters (which fix the front end and slicing) and its weights."""
    hparams = dict(getattr(module, "hparams", {}) or {})
    h = hashlib.sha256(json.dumps(hparams, sort_keys=True, default=str).encode())
    h.update(weights_digest(module).encode())
    return h.hexdigest()[:16]


__all__ = ["module_digest", "weights_digest"]
