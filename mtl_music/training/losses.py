"""Training losses (R3.4, R3.5) and the loss weightings of R5.3."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def kl_to_targets(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """KL(z ‖ softmax(logits)), averaged over the batch.

    ``logits``: (B, k); ``z``: (B, k) rows are probability distributions. Computed in
    float32 (under bf16 autocast too) because log-probabilities of 50 classes lose
    precision in bf16.
    """
    log_p = F.log_softmax(logits.float(), dim=-1)
    return F.kl_div(log_p, z.float(), reduction="batchmean")


def same_track_loss(logits: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """The self source: cross-entropy of (different, same) — KL to a one-hot target."""
    return F.cross_entropy(logits.float(), same.long())


class LossWeighting(nn.Module):
    """Combines per-source losses.

    * ``equal``: the loss as is (the paper).
    * ``uncertainty``: homoscedastic uncertainty weighting (Kendall, Gal & Cipolla 2018),
      ``exp(-s_t) · L_t + s_t`` with a learnable log-variance ``s_t`` per source. ``s_t`` is
      part of source t's parameters, so it only moves on steps that draw t.
    """

    def __init__(self, kind: str, sources: Sequence[str]) -> None:
        super().__init__()
        if kind not in ("equal", "uncertainty"):
            from mtl_music.errors import ConfigError

            raise ConfigError(f"training.loss_weighting={kind!r} is unknown; choose 'equal' or 'uncertainty'")
        self.kind = kind
        self.log_vars = nn.ParameterDict(
            {name: nn.Parameter(torch.zeros(())) for name in sources} if kind == "uncertainty" else {}
        )

    def forward(self, source: str, loss: torch.Tensor) -> torch.Tensor:
        if self.kind == "equal":
            return loss
        s = self.log_vars[source]
        return torch.exp(-s) * loss + s

    def source_parameters(self, source: str) -> list[nn.Parameter]:
        return [self.log_vars[source]] if source in self.log_vars else []
