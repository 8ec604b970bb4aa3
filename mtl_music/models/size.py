"""Parameter counts of the six strategies (paper Sect. 5.4, Fig. 15; SPEC R4.1).

Counted: every trainable parameter, BatchNorm affine weights included; BatchNorm running
statistics (buffers) are not. Networks are built on the ``meta`` device, so counting even
the 8-source MSS-CR allocates no weights. The command is ``python -m mtl_music.params``.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from omegaconf import DictConfig
from torch import nn

from mtl_music.config import load_option
from mtl_music.errors import ConfigError
from mtl_music.models.network import build_network
from mtl_music.paper import PAPER_SOURCES, SELF_SOURCE, SINGLE_SOURCE_STRATEGY, TABLE4_STRATEGY_ORDER

#: The ``arch`` options, in the order of Table 4 and Fig. 5.
ARCH_OPTIONS: tuple[str, ...] = TABLE4_STRATEGY_ORDER


class ParameterRow(NamedTuple):
    """One strategy: its parameter count and the ratio to SS-R (``None`` where impossible)."""

    strategy: str
    n_params: int | None
    ratio: float | None


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module`` (shared ones once; buffers such as BN running
    statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


def count_network(*, arch: DictConfig, trunk: DictConfig, sources: dict[str, int]) -> int:
    """:func:`count_parameters` of the network :func:`~mtl_music.models.network.build_network`
    builds for ``arch``, ``trunk`` and ``sources`` (source -> k), built on the ``meta`` device.

    Raises:
        ConfigError: what ``build_network`` raises (e.g. a trunk the arch cannot cut).
    """
    with torch.device("meta"):  # counts without allocating weights
        return count_parameters(build_network(arch=arch, trunk=trunk, sources=sources))


def parameter_table(
    sources: Sequence[str] = PAPER_SOURCES, *, k: int = 50, trunk: str | DictConfig = "vgg"
) -> list[ParameterRow]:
    """Parameter count of every strategy for ``sources``, and its ratio to SS-R.

    Args:
        sources: learning source names (``self`` gets the siamese head); the SS-R row is
            the single-source network of the first non-self source (576,482 parameters
            with the VGG trunk and k = 50).
        k: outputs of every non-self source.
        trunk: a ``conf/trunk`` option name or config.

    Returns:
        One :class:`ParameterRow` per ``arch`` option (``ARCH_OPTIONS`` order); rows the
        trunk cannot build (``ms_cr@2`` with ``musically_motivated``) have ``None`` counts.
    """
    trunk_cfg = load_option("trunk", trunk) if isinstance(trunk, str) else trunk
    labelled = [s for s in sources if s != SELF_SOURCE]
    reference_source = labelled[0] if labelled else SELF_SOURCE
    ss_r_arch = load_option("arch", SINGLE_SOURCE_STRATEGY)
    ss_r = count_network(arch=ss_r_arch, trunk=trunk_cfg, sources={reference_source: k})
    rows = [ParameterRow(SINGLE_SOURCE_STRATEGY, ss_r, 1.0)]
    for option in ARCH_OPTIONS[1:]:
        try:
            n = count_network(arch=load_option("arch", option), trunk=trunk_cfg, sources={s: k for s in sources})
        except ConfigError:
            rows.append(ParameterRow(option, None, None))
            continue
        rows.append(ParameterRow(option, n, n / ss_r))
    return rows


def format_table(rows: Sequence[ParameterRow], *, title: str) -> str:
    """A plain-text table of :func:`parameter_table` rows."""
    lines = [title, f"{'strategy':<10} {'parameters':>12} {'× SS-R':>8}"]
    for row in rows:
        if row.n_params is None:
            lines.append(f"{row.strategy:<10} {'impossible':>12} {'—':>8}")
        else:
            lines.append(f"{row.strategy:<10} {row.n_params:>12,} {row.ratio:>8.2f}")
    return "\n".join(lines)
