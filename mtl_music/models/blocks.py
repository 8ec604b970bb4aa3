"""Building blocks of the representation network and the block list the builder cuts.

A trunk is a list of :class:`BlockSpec` — recipes, not modules — because the builder needs
one fresh copy of every block after the branch point *per learning source*. Each spec
occupies one or more **slots**, named after the layers of Table 3 of the paper:

    conv1, conv2, conv3, conv4, conv5, conv61, conv62, fc_feature

``arch.shared_blocks`` counts slots: the first ``shared_blocks`` slots are shared by all
sources, the rest is copied per source. A block that replaces several Table 3 layers at
once (the musically motivated front end replaces conv1–conv2) occupies several slots, and
the network can only be cut at a block boundary.

Tensors are ``(B, C, T, M)``: batch, channels, time frames, mel bands (the paper's
``2 × 216 × 128`` input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

#: Table 3 layer names, in order: the slots ``arch.shared_blocks`` counts.
TABLE3_SLOTS: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4", "conv5", "conv61", "conv62", "fc_feature")

#: The name of the representation layer (the trunk's last block, built by ``heads.feature_block_spec``).
FC_FEATURE = "fc_feature"

#: The name of the per-source output layer (what ``branch_at`` names when everything else is shared).
FC_OUTPUT = "fc_output"

Shape = tuple[int, int, int]  # (channels, time, mel) of one example


def same_padding(kernel: tuple[int, int]) -> tuple[int, int]:
    """Zero padding that keeps the spatial shape of a stride-1 convolution (odd kernels)."""
    return (kernel[0] // 2, kernel[1] // 2)


def conv_output_length(length: int, *, kernel: int, stride: int, padding: int) -> int:
    """Length of one axis after ``nn.Conv2d`` (floor arithmetic, as PyTorch computes it)."""
    return (length + 2 * padding - kernel) // stride + 1


class ConvBlock(nn.Module):
    """conv -> BatchNorm -> ReLU -> [max-pool]: one row of Table 3.

    Input ``(B, in_channels, T, M)`` float32/bfloat16; output
    ``(B, out_channels, T', M')`` with ``T' = floor(ceil(T / stride_t) / pool_t)`` for the
    "same" zero padding used here (odd kernels only). The conv keeps its bias, as the
    paper's parameter count does (Table 3, Fig. 15).
    """

    def __init__(
        self,
        *,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int],
        stride: tuple[int, int] = (1, 1),
        pool: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=same_padding(kernel))
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)
        # Floor pooling: Table 3 rounds 27 -> 13 and 13 -> 6.
        self.pool = nn.MaxPool2d(pool) if pool is not None else nn.Identity()

    def forward(self, x):
        return self.pool(self.act(self.bn(self.conv(x))))


@dataclass(frozen=True)
class BlockSpec:
    """A recipe for one block of the trunk.

    Attributes:
        name: module name inside the network (``conv3``, ``front``, ``fc_feature``).
        slots: the Table 3 layers this block stands for (``("conv1", "conv2")`` for the
            musically motivated front end).
        build: returns a fresh, independently initialised module.
        output_shape: maps the input shape ``(C, T, M)`` (or ``(C,)`` after pooling) of one
            example to its output shape, without running anything.
        out_channels: channels of the output (the next block's input channels).
    """

    name: str
    slots: tuple[str, ...]
    build: Callable[[], nn.Module]
    output_shape: Callable[[tuple[int, ...]], tuple[int, ...]]
    out_channels: int


def conv_block_spec(
    *,
    name: str,
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    pool: tuple[int, int] | None = None,
) -> BlockSpec:
    """The :class:`BlockSpec` of a :class:`ConvBlock` occupying the slot ``name``."""

    def output_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
        _, t, m = shape
        pad = same_padding(kernel)
        t = conv_output_length(t, kernel=kernel[0], stride=stride[0], padding=pad[0])
        m = conv_output_length(m, kernel=kernel[1], stride=stride[1], padding=pad[1])
        if pool is not None:
            t, m = t // pool[0], m // pool[1]
        return (out_channels, t, m)

    return BlockSpec(
        name=name,
        slots=(name,),
        build=lambda: ConvBlock(
            in_channels=in_channels, out_channels=out_channels, kernel=kernel, stride=stride, pool=pool
        ),
        output_shape=output_shape,
        out_channels=out_channels,
    )


def slot_boundaries(specs: list[BlockSpec]) -> dict[int, int]:
    """Map every slot count at a block boundary to the number of blocks before it.

    ``{0: 0, 1: 1, 2: 2, ...}`` for the VGG trunk; ``{0: 0, 2: 1, 3: 2, ...}`` when the first
    block occupies two slots (slot count 1 then falls inside a block and is not a key).
    """
    boundaries = {0: 0}
    n_slots = 0
    for i, spec in enumerate(specs, start=1):
        n_slots += len(spec.slots)
        boundaries[n_slots] = i
    return boundaries


def slot_names(specs: list[BlockSpec]) -> list[str]:
    """All slot names of a block list, in order (Table 3 names for both trunks)."""
    return [slot for spec in specs for slot in spec.slots]
