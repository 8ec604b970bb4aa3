"""Parameter counts of the six strategies (paper Sect. 5.4, Fig. 15; SPEC R4.1).

Counted: every trainable parameter, BatchNorm affine weights included; BatchNorm running
statistics (buffers) are not. Networks are built on the ``meta`` device, so counting even
the 8-source MSS-CR allocates no weights.

    python -m mtl_music.models.params                      # 8 sources, both trunks
    python -m mtl_music.models.params --trunk vgg --k 50 --sources self bpm tag
"""

from __future__ import annotations

import argparse
from typing import NamedTuple, Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from mtl_music.errors import ConfigError
from mtl_music.models.network import SELF_SOURCE, build_network

#: The paper's 8 learning sources (Table 1), in the order of the SPEC.
PAPER_SOURCES: tuple[str, ...] = ("self", "bpm", "year", "tag", "taste", "cdr_tag", "lyrics", "artist")

#: The ``arch`` options, in the order of Table 4 and Fig. 5.
ARCH_OPTIONS: tuple[str, ...] = ("ss_r", "mss_cr", "ms_cr@2", "ms_cr@4", "ms_cr@6", "ms_sr@fc")


class ParameterRow(NamedTuple):
    """One strategy: its parameter count and the ratio to SS-R (``None`` where impossible)."""

    strategy: str
    n_params: int | None
    ratio: float | None


def count_parameters(module: nn.Module) -> int:
    """Number of parameters of ``module`` (shared ones once; buffers such as BN running
    statistics excluded)."""
    return sum(p.numel() for p in module.parameters())


def load_config(group: str, option: str) -> DictConfig:
    """``conf/<group>/<option>.yaml`` as a DictConfig (no Hydra composition needed)."""
    from mtl_music.config import CONF_DIR

    path = CONF_DIR / group / f"{option}.yaml"
    if not path.is_file():
        choices = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"{group}={option} does not exist ({path}); choose one of {choices}")
    return OmegaConf.load(path)


def _count(*, arch: DictConfig, trunk: DictConfig, sources: dict[str, int]) -> int:
    with torch.device("meta"):
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
    trunk_cfg = load_config("trunk", trunk) if isinstance(trunk, str) else trunk
    labelled = [s for s in sources if s != SELF_SOURCE]
    reference_source = labelled[0] if labelled else SELF_SOURCE
    ss_r = _count(arch=load_config("arch", "ss_r"), trunk=trunk_cfg, sources={reference_source: k})
    rows = [ParameterRow("ss_r", ss_r, 1.0)]
    for option in ARCH_OPTIONS[1:]:
        try:
            n = _count(arch=load_config("arch", option), trunk=trunk_cfg, sources={s: k for s in sources})
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Parameter counts of the six strategies (paper Fig. 15).")
    parser.add_argument("--sources", nargs="+", default=list(PAPER_SOURCES), help="learning sources")
    parser.add_argument("--k", type=int, default=50, help="outputs per non-self source")
    parser.add_argument("--trunk", nargs="+", default=["vgg", "musically_motivated"], help="conf/trunk options")
    args = parser.parse_args(argv)
    for trunk in args.trunk:
        rows = parameter_table(args.sources, k=args.k, trunk=trunk)
        print(format_table(rows, title=f"trunk={trunk}, {len(args.sources)} sources {args.sources}, k={args.k}"))
        print()


if __name__ == "__main__":
    main()
