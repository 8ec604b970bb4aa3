"""The fully connected end of the network: fc-feature (the representation), the per-source
fc-output, and the siamese head of the ``self`` source (paper Table 3, Sect. 2.2.1, Fig. 3)."""

from __future__ import annotations

import torch
from torch import nn

from mtl_music.models.blocks import FC_FEATURE, BlockSpec


class FeatureBlock(nn.Module):
    """gap -> fc-feature -> BatchNorm1d -> ReLU -> dropout: the representation layer.

    Input ``(B, C, T, M)`` conv maps; output ``(B, dim)``, the d-dimensional representation
    the paper extracts (d = 256). Dropout (p = 0.5 in the paper) is the network's only
    dropout and is inactive in eval mode, so extracted features are deterministic.
    """

    def __init__(self, *, in_channels: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, dim)
        self.bn = nn.BatchNorm1d(dim)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))  # global average pool over time and mel
        return self.dropout(self.act(self.bn(self.fc(pooled))))


def feature_block_spec(*, in_channels: int, dim: int, dropout: float) -> BlockSpec:
    """The :class:`BlockSpec` of the fc-feature slot (global average pool included)."""
    return BlockSpec(
        name=FC_FEATURE,
        slots=(FC_FEATURE,),
        build=lambda: FeatureBlock(in_channels=in_channels, dim=dim, dropout=dropout),
        output_shape=lambda shape: (dim,),
        out_channels=dim,
    )


class OutputHead(nn.Module):
    """fc-output of one learning source: ``(B, d)`` features -> ``(B, k)`` logits.

    Returns logits; the loss applies ``log_softmax`` (the paper's softmax output, fused into
    the KL divergence for numerical stability).
    """

    def __init__(self, *, dim: int, n_outputs: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, n_outputs)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)


class SiameseHead(nn.Module):
    """The ``self`` source's metric head f_self (paper Eq. 5, Fig. 3).

    Both crops' fc-features are concatenated, ``(B, 2d)``, then Linear(2d, hidden) -> ReLU ->
    Linear(hidden, 2). Output ``(B, 2)`` logits; index 0 = different tracks, 1 = same track
    (the order ``cross_entropy`` with a 0/1 ``same`` label expects).

    hidden = 32 makes the whole-network parameter ratios of the paper come out (Fig. 15:
    MS-SR@FC ≈ 1.2 × SS-R, MS-CR@6 ≈ 6.3 × SS-R with the 8 sources): 512·32 + 32 + 32·2 + 2 =
    16,482 parameters.
    """

    def __init__(self, *, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(2 * dim, hidden)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, 2)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(torch.cat([left, right], dim=1))))
