"""One builder for all six representation-learning strategies (paper Sect. 3.2, Table 4,
Fig. 5; SPEC R4.2).

The trunk's block list (Table 3 layers conv1 … conv62, fc-feature) is cut after
``arch.shared_blocks`` slots: the part before the cut is built once and shared, the part
after it is built once per learning source, and every source gets its own fc-output (the
``self`` source a siamese head instead).

==========  =============  ==================================================  ==========
config      strategy       shared                                              repr. dim
==========  =============  ==================================================  ==========
ss_r        ss_r           one network, exactly one source                     d
mss_cr      mss_cr         nothing (shared_blocks 0): m independent networks  d·m
ms_cr@2     ms_cr          conv1 (shared_blocks 1)                             d·m
ms_cr@4     ms_cr          conv1–conv3 (shared_blocks 3)                       d·m
ms_cr@6     ms_cr          conv1–conv5 (shared_blocks 5)                       d·m
ms_sr@fc    ms_sr          everything through fc-feature (shared_blocks all)  d
==========  =============  ==================================================  ==========

Multi-source strategies need at least two sources: with one source all of them are the
same network as ``ss_r``, and letting them run would put identical networks under
different strategy labels in the analysis (R7.1), so that is a :class:`ConfigError`.

Under DDP a step drawing one source leaves every other branch without gradient, so DDP
must run with ``find_unused_parameters=True`` (Lightning: ``strategy:
ddp_find_unused_parameters_true``); every branch's parameters exist from the start, so the
parameter set DDP registers is fixed.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mtl_music.errors import ConfigError, DataError, SourceError
from mtl_music.models.blocks import FC_OUTPUT, BlockSpec, slot_boundaries, slot_names
from mtl_music.models.heads import OutputHead, SiameseHead
from mtl_music.models.trunks import trunk_block_specs
from mtl_music.paper import SELF_SOURCE, SINGLE_SOURCE_STRATEGY, TABLE4_STRATEGY_ORDER

#: Strategy -> its representation. ``concat``: fc-features of all branches concatenated
#: (d·m); ``shared``: the one shared fc-feature (d).
STRATEGIES: dict[str, str] = {"ss_r": "shared", "mss_cr": "concat", "ms_cr": "concat", "ms_sr": "shared"}


class MultiSourceNetwork(nn.Module):
    """Shared trunk, per-source branches and per-source heads.

    Build it with :func:`build_network`. Inputs are ``(B, in_channels, T, M)`` float
    tensors (the standardised dB-mel crops, ``(B, 2, 216, 128)`` in the paper); any memory
    format (``channels_last`` included) and bf16 autocast work.

    Attributes:
        source_names: the learning sources, in config order (the order of the
            concatenated representation).
        strategy: ``ss_r``, ``mss_cr``, ``ms_cr`` or ``ms_sr``.
        arch_name: the ``arch`` option (``ms_cr@4``).
        trunk_name: the ``trunk`` option (``vgg``).
        feature_dim: d, the width of one fc-feature (256).
        shared_slots: the Table 3 layers in the shared part (``("conv1", "conv2", "conv3")``).
        shared: ``nn.Sequential`` of the shared blocks (empty for ``mss_cr``).
        branches: ``nn.ModuleDict`` source -> ``nn.Sequential`` of its own blocks (empty for
            ``ms_sr`` / ``ss_r``).
        heads: ``nn.ModuleDict`` source -> :class:`OutputHead` or, for ``self``,
            :class:`SiameseHead`.
    """

    def __init__(
        self,
        *,
        specs: Sequence[BlockSpec],
        n_shared_blocks: int,
        sources: Mapping[str, int],
        strategy: str,
        arch_name: str,
        trunk_name: str,
        self_head_hidden: int,
        in_channels: int,
    ) -> None:
        super().__init__()
        self.source_names: tuple[str, ...] = tuple(sources)
        self.strategy = strategy
        self.arch_name = arch_name
        self.trunk_name = trunk_name
        self.in_channels = in_channels
        self.feature_dim = specs[-1].out_channels
        self.shared_slots = tuple(slot for spec in specs[:n_shared_blocks] for slot in spec.slots)
        self._shares_representation = STRATEGIES[strategy] == "shared"
        self.shared = nn.Sequential(OrderedDict((spec.name, spec.build()) for spec in specs[:n_shared_blocks]))
        self.branches = nn.ModuleDict(
            {
                source: nn.Sequential(OrderedDict((spec.name, spec.build()) for spec in specs[n_shared_blocks:]))
                for source in self.source_names
            }
        )
        self.heads = nn.ModuleDict(
            {
                source: (
                    SiameseHead(dim=self.feature_dim, hidden=self_head_hidden)
                    if source == SELF_SOURCE
                    else OutputHead(dim=self.feature_dim, n_outputs=int(k))
                )
                for source, k in sources.items()
            }
        )

    def extra_repr(self) -> str:
        return (
            f"arch={self.arch_name}, trunk={self.trunk_name}, sources={list(self.source_names)}, "
            f"shared={list(self.shared_slots)}, representation_dim={self.representation_dim}"
        )

    # ------------------------------------------------------------------ checks
    def _check_input(self, x: torch.Tensor, *, what: str) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise DataError(
                f"{what} has shape {tuple(x.shape)}; the network expects (batch, {self.in_channels}, time, mel) "
                f"float crops — stereo is kept, so duplicate a mono channel to {self.in_channels}"
            )

    def _check_source(self, source: str, *, allow_self: bool) -> None:
        if source not in self.heads:
            raise SourceError(
                f"source {source!r} is not a learning source of this network (arch={self.arch_name}); "
                f"it has {list(self.source_names)}"
            )
        if source == SELF_SOURCE and not allow_self:
            raise SourceError(
                f"source {SELF_SOURCE!r} takes pairs of crops: call forward_self(x_left, x_right), "
                f"not forward(x, source={SELF_SOURCE!r}) / forward_all"
            )

    # ------------------------------------------------------------------ passes
    def forward(self, x: torch.Tensor, *, source: str) -> torch.Tensor:
        """Logits of one (non-self) source: shared trunk, its branch, its fc-output.

        Args:
            x: ``(B, in_channels, T, M)`` float crops.
            source: a source name other than ``self``.

        Returns:
            ``(B, k_source)`` logits (apply ``log_softmax`` for the distribution).
        """
        self._check_input(x, what="x")
        self._check_source(source, allow_self=False)
        return self.heads[source](self.branches[source](self.shared(x)))

    def forward_self(self, x_left: torch.Tensor, x_right: torch.Tensor) -> torch.Tensor:
        """Same-track logits of the siamese ``self`` source.

        Both crops go through the same shared trunk and ``self`` branch in one batched pass
        of 2B (so BatchNorm sees both halves alike), the two fc-features are concatenated,
        and :class:`SiameseHead` decides.

        Args:
            x_left, x_right: ``(B, in_channels, T, M)`` float crops of equal shape.

        Returns:
            ``(B, 2)`` logits, index 0 = different tracks, 1 = same track.
        """
        self._check_input(x_left, what="x_left")
        self._check_input(x_right, what="x_right")
        if x_left.shape != x_right.shape:
            raise DataError(
                f"x_left {tuple(x_left.shape)} and x_right {tuple(x_right.shape)} differ; the self source "
                "needs pairs of equally sized crops"
            )
        self._check_source(SELF_SOURCE, allow_self=True)
        features = self.branches[SELF_SOURCE](self.shared(torch.cat([x_left, x_right], dim=0)))
        left, right = features.chunk(2, dim=0)
        return self.heads[SELF_SOURCE](left, right)

    def forward_all(self, x: torch.Tensor, *, sources: Sequence[str]) -> dict[str, torch.Tensor]:
        """Logits of several (non-self) sources from one shared-trunk pass (joint sampling).

        Args:
            x: ``(B, in_channels, T, M)`` float crops labelled for every listed source.
            sources: source names, none of them ``self``.

        Returns:
            ``{source: (B, k_source) logits}``, equal to ``forward(x, source=s)`` for each.
        """
        self._check_input(x, what="x")
        for source in sources:
            self._check_source(source, allow_self=False)
        trunk = self.shared(x)
        return {source: self.heads[source](self.branches[source](trunk)) for source in sources}

    def branch_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """fc-feature of every source's branch: ``{source: (B, d)}`` in ``source_names`` order.

        For ``ms_sr`` / ``ss_r`` every source maps to the same shared tensor.
        """
        self._check_input(x, what="x")
        trunk = self.shared(x)
        return {source: self.branches[source](trunk) for source in self.source_names}

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """The learned representation (paper Table 4): ``(B, representation_dim)``.

        fc-features of all branches concatenated in ``source_names`` order (``(B, d·m)``,
        ``mss_cr`` / ``ms_cr``), or the one shared fc-feature (``(B, d)``, ``ss_r`` /
        ``ms_sr``). Call in eval mode for deterministic features (dropout, BN statistics).
        """
        if self._shares_representation:
            self._check_input(x, what="x")
            return self.shared(x)
        return torch.cat(list(self.branch_features(x).values()), dim=1)

    @property
    def representation_dim(self) -> int:
        """d for ``ss_r`` / ``ms_sr``, d·m for ``mss_cr`` / ``ms_cr``."""
        return self.feature_dim * (1 if self._shares_representation else len(self.source_names))

    # --------------------------------------------------------------- parameters
    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters every source's step touches (empty for ``mss_cr``)."""
        return list(self.shared.parameters())

    def source_parameters(self, source: str) -> list[nn.Parameter]:
        """Parameters a step on ``source`` touches: shared blocks + its branch + its head.

        Looked up on every call, so it stays right after ``SyncBatchNorm`` conversion.
        """
        self._check_source(source, allow_self=True)
        return [
            *self.shared.parameters(),
            *self.branches[source].parameters(),
            *self.heads[source].parameters(),
        ]


# ---------------------------------------------------------------------- builder
def _as_config(value: Mapping[str, Any] | DictConfig, *, what: str) -> DictConfig:
    if isinstance(value, DictConfig):
        return value
    if isinstance(value, Mapping):
        return OmegaConf.create(dict(value))
    raise ConfigError(f"{what} must be a mapping (a conf/{what}/*.yaml config), got {type(value).__name__}")


def _arch_options() -> list[tuple[str, Any]]:
    """``(name, shared_blocks)`` of the shipped ``conf/arch/*.yaml`` options (for error messages)."""
    from mtl_music.config import load_options

    options = []
    # An unreadable file must not hide the error being reported.
    for option, cfg in load_options("arch", skip_unreadable=True).items():
        try:
            options.append((str(cfg.get("name", option)), cfg.get("shared_blocks")))
        except Exception:
            continue
    return options


def _multi_source_options() -> list[str]:
    shipped = [name for name, _ in _arch_options() if name != SINGLE_SOURCE_STRATEGY]
    return shipped or [s for s in TABLE4_STRATEGY_ORDER if s != SINGLE_SOURCE_STRATEGY]


def _validate_sources(sources: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(sources, Mapping) or not sources:
        raise ConfigError("no learning source selected: pass at least one, e.g. source=[tag]")
    reserved = set(dir(nn.ModuleDict()))
    checked: dict[str, int] = {}
    for name, k in sources.items():
        if not isinstance(name, str) or not name or "." in name or name in reserved:
            raise SourceError(
                f"source name {name!r} cannot name a network branch: rename the source (its YAML file) to a "
                "non-empty name without '.' that is not an nn.ModuleDict attribute ('keys', 'items', 'training', …)"
            )
        if name == SELF_SOURCE:
            checked[name] = 2  # same / different; the configured k is not used
            continue
        try:
            k_int = int(k)
        except (TypeError, ValueError):
            k_int = 0
        if k_int < 1:
            raise SourceError(f"source {name!r} has k={k!r} outputs; k must be a positive integer (50 in the paper)")
        checked[name] = k_int
    return checked


def _resolve_cut(arch: DictConfig, specs: list[BlockSpec], *, trunk_name: str) -> int:
    """Number of shared *blocks* for ``arch.shared_blocks`` (a slot count, or ``all``)."""
    slots = slot_names(specs)
    boundaries = slot_boundaries(specs)
    raw = arch.get("shared_blocks")
    arch_name = arch.get("name", "<unnamed>")
    if raw == "all":
        n_slots = len(slots)
    else:
        try:
            n_slots = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(
                f"arch={arch_name}: shared_blocks={raw!r} must be an integer 0..{len(slots)} or 'all'"
            ) from None
    if not 0 <= n_slots <= len(slots):
        raise ConfigError(
            f"arch={arch_name}: shared_blocks={n_slots} is outside 0..{len(slots)} "
            f"(the layers of trunk={trunk_name}: {slots})"
        )
    if n_slots not in boundaries:
        block = next(spec for spec in specs if slots.index(spec.slots[-1]) >= n_slots)
        working = [
            name
            for name, shared in _arch_options()
            if (len(slots) if shared == "all" else shared) in boundaries
        ]
        raise ConfigError(
            f"arch={arch_name} shares {n_slots} layer(s) {slots[:n_slots]} and branches at {slots[n_slots]}, "
            f"but trunk={trunk_name} builds {'–'.join(block.slots)} as one block ('{block.name}'), so the "
            f"network cannot be cut between {slots[n_slots - 1]} and {slots[n_slots]}. "
            f"With trunk={trunk_name} use arch={', '.join(working) or '<none found>'} "
            f"(shared_blocks in {sorted(boundaries)} or 'all'), or trunk=vgg for arch={arch_name}"
        )
    branch_at = arch.get("branch_at")
    expected = slots[n_slots] if n_slots < len(slots) else FC_OUTPUT
    if branch_at is not None and str(branch_at) != expected:
        raise ConfigError(
            f"arch={arch_name}: branch_at={branch_at!r} disagrees with shared_blocks={raw!r}, which branches "
            f"at {expected!r} (layers: {slots + [FC_OUTPUT]}); set both consistently or drop branch_at"
        )
    return boundaries[n_slots]


def build_network(
    *,
    arch: Mapping[str, Any] | DictConfig,
    trunk: Mapping[str, Any] | DictConfig,
    sources: Mapping[str, int],
    in_channels: int = 2,
    n_mels: int = 128,
    crop_frames: int = 216,
    dropout: float | None = None,
) -> MultiSourceNetwork:
    """Build the network of one strategy (``arch``) on one trunk for the given sources.

    Args:
        arch: a ``conf/arch/*.yaml`` config: ``name``, ``strategy`` (``ss_r``, ``mss_cr``,
            ``ms_cr``, ``ms_sr``), ``shared_blocks`` (Table 3 layers shared, an integer or
            ``all``), optional ``branch_at`` (the first per-source layer, checked against
            ``shared_blocks``) and ``representation`` (``concat`` / ``shared``, checked).
        trunk: a ``conf/trunk/*.yaml`` config (``name``, ``blocks``, ``feature``,
            ``self_head``).
        sources: source name -> k (outputs of its fc-output, 50 in the paper), in the order
            of the representation. ``self`` is the siamese source (2 outputs, k ignored).
        in_channels: input channels (2: stereo).
        n_mels: mel bands of the input.
        crop_frames: frames of a training crop (216 = 2.5 s); used to check that no layer
            shrinks the map to nothing.
        dropout: fc-feature dropout; ``None`` keeps ``trunk.feature.dropout`` (0.5).

    Raises:
        ConfigError: unknown strategy, a number of sources the strategy cannot take, a
            branch point the trunk cannot be cut at, an input too small for the trunk.
        SourceError: a source name or k that cannot build a head.
    """
    arch = _as_config(arch, what="arch")
    trunk = _as_config(trunk, what="trunk")
    arch_name = str(arch.get("name", "<unnamed>"))
    trunk_name = str(trunk.get("name", "<unnamed>"))
    strategy = arch.get("strategy")
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"arch={arch_name}: strategy={strategy!r} is unknown; choose one of {sorted(STRATEGIES)}"
        )
    sources = _validate_sources(sources)
    if strategy == "ss_r" and len(sources) != 1:
        multi = _multi_source_options()
        raise ConfigError(
            f"arch={arch_name} trains one network on exactly one source, but {len(sources)} are selected "
            f"({list(sources)}); select one (source=[{next(iter(sources))}]) or use a multi-source arch: "
            f"{', '.join(multi)}"
        )
    if strategy != "ss_r" and len(sources) < 2:
        multi = _multi_source_options()
        raise ConfigError(
            f"arch={arch_name} is a multi-source strategy but only {list(sources)} is selected; with one source "
            f"every strategy is the same network as arch=ss_r — use arch=ss_r, or select two or more sources "
            f"for {', '.join(multi)}"
        )
    representation = arch.get("representation")
    if representation is not None and representation != STRATEGIES[strategy]:
        raise ConfigError(
            f"arch={arch_name}: representation={representation!r} does not fit strategy={strategy} "
            f"(its representation is {STRATEGIES[strategy]!r}); fix or drop the key"
        )

    specs = trunk_block_specs(trunk, in_channels=in_channels, n_mels=n_mels, dropout=dropout)
    n_shared = _resolve_cut(arch, specs, trunk_name=trunk_name)
    n_slots = len(slot_names(specs[:n_shared]))
    total = len(slot_names(specs))
    required = {
        "mss_cr": "0 (nothing shared)",
        "ms_cr": f"1..{total - 1} (fc-feature per source)",
        "ms_sr": "'all'",
        "ss_r": "'all'",
    }
    fits = {
        "mss_cr": n_slots == 0,
        "ms_cr": 0 < n_slots < total,
        "ms_sr": n_slots == total,
        "ss_r": n_slots == total,
    }[strategy]
    if not fits:
        raise ConfigError(
            f"arch={arch_name}: strategy={strategy} needs shared_blocks={required[strategy]}, "
            f"got {arch.get('shared_blocks')!r}"
        )

    shape: tuple[int, ...] = (in_channels, int(crop_frames), int(n_mels))
    for spec in specs:
        shape = spec.output_shape(shape)
        if min(shape) < 1:
            raise ConfigError(
                f"trunk={trunk_name}: an input of {crop_frames} frames × {n_mels} mel bands shrinks to "
                f"{shape} after block '{spec.name}'; use a longer crop or more mel bands "
                f"(the paper: 216 frames × 128 bands)"
            )

    self_head = trunk.get("self_head") or {}
    return MultiSourceNetwork(
        specs=specs,
        n_shared_blocks=n_shared,
        sources=sources,
        strategy=strategy,
        arch_name=arch_name,
        trunk_name=trunk_name,
        self_head_hidden=int(self_head.get("hidden", 32)),
        in_channels=in_channels,
    )
