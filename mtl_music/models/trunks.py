"""The two trunks (config group ``trunk/``): the paper's VGG-like stack and a musically
motivated front end after Pons et al. (R4.3).

A trunk config lists its blocks in order; :func:`trunk_block_specs` turns it into the
:class:`~mtl_music.models.blocks.BlockSpec` list the network builder cuts, ending with the
fc-feature block. Block types:

* ``conv``: one row of Table 3 (conv -> BN -> ReLU -> optional max-pool).
* ``musically_motivated``: parallel vertical (timbre) and horizontal (temporal) filters,
  concatenated on channels; it ``replaces`` several Table 3 layers (conv1–conv2).

Tensor layout is ``(B, C, T, M)`` — time is axis 2, mel is axis 3 — so a kernel is
``(time, mel)``: a *vertical* filter (spanning many mel bands at one instant, Pons' m×1)
is ``kernel=(1, m)``, a *horizontal* filter (one band over many frames, Pons' 1×n) is
``kernel=(n, 1)``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from mtl_music.errors import ConfigError
from mtl_music.models.blocks import BlockSpec, ConvBlock, conv_block_spec
from mtl_music.models.heads import feature_block_spec


class MusicallyMotivatedFrontEnd(nn.Module):
    """Pons et al.'s musically motivated first layer, shaped to stand in for conv1–conv2.

    1. Average pairs of frames (``time_stride``): the analogue of conv1's stride 2 on time,
       so all filters run at 43 frames/s (22,050 / 256 / 2).
    2. Timbre branches: for each height h (mel bands), ``timbre_filters`` vertical filters
       ``kernel=(1, h)`` — one frame wide, spanning h bands ("same" zero padding on mel,
       so every output row is the timbre template centred on one band: pitch-shifted
       copies of one spectral envelope).
    3. Temporal branches: for each length n (frames at 43 frames/s), ``temporal_filters``
       horizontal filters ``kernel=(n, 1)`` — one band wide, n frames long (onsets,
       rhythm patterns).
    4. Each branch is conv -> BN -> ReLU -> max-pool ``pool``; outputs are concatenated
       on channels.

    Input ``(B, in_channels, T, M)``; output
    ``(B, timbre_filters·len(heights) + temporal_filters·len(lengths), T // time_stride // pool_t, M // pool_m)``
    — ``(B, 32, 27, 32)`` for the default config and a ``2 × 216 × 128`` input, exactly
    conv2's output in the VGG trunk.
    """

    def __init__(
        self,
        *,
        in_channels: int,
        timbre_heights: Sequence[int],
        timbre_filters: int,
        temporal_lengths: Sequence[int],
        temporal_filters: int,
        time_stride: int,
        pool: tuple[int, int],
    ) -> None:
        super().__init__()
        self.time_downsample = nn.AvgPool2d((time_stride, 1)) if time_stride > 1 else nn.Identity()
        self.timbre = nn.ModuleList(
            ConvBlock(in_channels=in_channels, out_channels=timbre_filters, kernel=(1, h), pool=pool)
            for h in timbre_heights
        )
        self.temporal = nn.ModuleList(
            ConvBlock(in_channels=in_channels, out_channels=temporal_filters, kernel=(n, 1), pool=pool)
            for n in temporal_lengths
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.time_downsample(x)
        return torch.cat([branch(x) for branch in (*self.timbre, *self.temporal)], dim=1)


def _odd_band_count(fraction: float, n_mels: int) -> int:
    """A filter height of ``fraction · n_mels`` bands, made odd (symmetric "same" padding)."""
    bands = max(1, int(round(fraction * n_mels)))
    return bands if bands % 2 == 1 else bands - 1


def _pair(value: Any, *, where: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}={value!r} must be a pair of integers [time, mel], e.g. [3, 3]") from None
    if a < 1 or b < 1:
        raise ConfigError(f"{where}={value!r} must hold positive integers [time, mel]")
    return (a, b)


def _require(block: Mapping[str, Any], key: str, *, where: str) -> Any:
    if key not in block or block[key] is None:
        raise ConfigError(f"{where} has no '{key}'; see conf/trunk/vgg.yaml for the block schema")
    return block[key]


def _conv_spec(block: Mapping[str, Any], *, in_channels: int, where: str) -> BlockSpec:
    name = str(_require(block, "name", where=where))
    kernel = _pair(_require(block, "kernel", where=where), where=f"{where}.kernel")
    if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
        raise ConfigError(
            f"{where}.kernel={list(kernel)} has an even side; use odd kernel sizes so 'same' zero "
            "padding keeps the map's shape symmetrically"
        )
    pool = block.get("pool")
    return conv_block_spec(
        name=name,
        in_channels=in_channels,
        out_channels=int(_require(block, "out_channels", where=where)),
        kernel=kernel,
        stride=_pair(block.get("stride", [1, 1]), where=f"{where}.stride"),
        pool=None if pool is None else _pair(pool, where=f"{where}.pool"),
    )


def _musically_motivated_spec(
    block: Mapping[str, Any], *, in_channels: int, n_mels: int, where: str
) -> BlockSpec:
    name = str(_require(block, "name", where=where))
    replaces = tuple(str(s) for s in _require(block, "replaces", where=where))
    timbre = _require(block, "timbre", where=where)
    temporal = _require(block, "temporal", where=where)
    fractions = [float(f) for f in _require(timbre, "heights", where=f"{where}.timbre")]
    if any(not 0.0 < f <= 1.0 for f in fractions):
        raise ConfigError(
            f"{where}.timbre.heights={fractions} must be fractions of the mel bands in (0, 1], e.g. [0.9, 0.4]"
        )
    heights = [_odd_band_count(f, n_mels) for f in fractions]
    lengths = [int(n) for n in _require(temporal, "lengths", where=f"{where}.temporal")]
    if any(n < 1 or n % 2 == 0 for n in lengths):
        raise ConfigError(
            f"{where}.temporal.lengths={lengths} must be positive odd frame counts "
            "(symmetric 'same' padding), e.g. [43, 21] for 1 s and 0.5 s at 43 frames/s"
        )
    timbre_filters = int(_require(timbre, "filters", where=f"{where}.timbre"))
    temporal_filters = int(_require(temporal, "filters", where=f"{where}.temporal"))
    time_stride = int(block.get("time_stride", 1))
    pool = _pair(_require(block, "pool", where=where), where=f"{where}.pool")
    out_channels = timbre_filters * len(heights) + temporal_filters * len(lengths)
    if out_channels < 1:
        raise ConfigError(f"{where} has no filters: give timbre.heights or temporal.lengths")

    def output_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
        _, t, m = shape
        return (out_channels, (t // time_stride) // pool[0], m // pool[1])

    return BlockSpec(
        name=name,
        slots=replaces,
        build=lambda: MusicallyMotivatedFrontEnd(
            in_channels=in_channels,
            timbre_heights=heights,
            timbre_filters=timbre_filters,
            temporal_lengths=lengths,
            temporal_filters=temporal_filters,
            time_stride=time_stride,
            pool=pool,
        ),
        output_shape=output_shape,
        out_channels=out_channels,
    )


def trunk_block_specs(
    trunk: Mapping[str, Any], *, in_channels: int, n_mels: int, dropout: float | None = None
) -> list[BlockSpec]:
    """The trunk config's blocks followed by the fc-feature block, as cut-able specs.

    Args:
        trunk: a ``conf/trunk/*.yaml`` config: ``name``, ``blocks`` (list), ``feature``
            (``dim``, ``dropout``).
        in_channels: input channels (2: stereo).
        n_mels: mel bands of the input (timbre filter heights are fractions of it).
        dropout: overrides ``trunk.feature.dropout`` (fc-feature dropout) when given.

    Raises:
        ConfigError: an unknown block type, a missing or malformed key, duplicate slots.
    """
    trunk_name = trunk.get("name", "<unnamed>")
    blocks = trunk.get("blocks")
    if not blocks:
        raise ConfigError(f"trunk={trunk_name} has no 'blocks' list; see conf/trunk/vgg.yaml")
    specs: list[BlockSpec] = []
    channels = in_channels
    for i, block in enumerate(blocks):
        where = f"trunk={trunk_name} blocks[{i}]"
        kind = block.get("type", "conv")
        if kind == "conv":
            spec = _conv_spec(block, in_channels=channels, where=where)
        elif kind == "musically_motivated":
            spec = _musically_motivated_spec(block, in_channels=channels, n_mels=n_mels, where=where)
        else:
            raise ConfigError(f"{where}.type={kind!r} is unknown; choose 'conv' or 'musically_motivated'")
        specs.append(spec)
        channels = spec.out_channels
    feature = trunk.get("feature") or {}
    specs.append(
        feature_block_spec(
            in_channels=channels,
            dim=int(feature.get("dim", 256)),
            dropout=float(feature.get("dropout", 0.5) if dropout is None else dropout),
        )
    )
    names = [spec.name for spec in specs]
    slots = [slot for spec in specs for slot in spec.slots]
    for label, values in (("block names", names), ("slots", slots)):
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ConfigError(f"trunk={trunk_name} repeats {label} {duplicates}; every block needs its own")
    bad = [n for n in names if not n or "." in n]
    if bad:
        raise ConfigError(f"trunk={trunk_name} block names {bad} are not valid module names (no '.', not empty)")
    return specs
