"""``python -m mtl_music.params [sources=[...]] [k=50] [trunks=[vgg]]`` — parameter counts of the
six strategies (paper Table 4, Fig. 15); the counting is :mod:`mtl_music.models.size`.

``run(cfg)`` is the plain function (returns the printed text); ``main`` the thin Hydra wrapper.
"""

from __future__ import annotations

from omegaconf import DictConfig

from mtl_music.cli import hydra_app
from mtl_music.config import group_options
from mtl_music.errors import ConfigError


def run(cfg: DictConfig) -> str:
    """One table per trunk of ``cfg.trunks`` for ``cfg.sources`` and ``cfg.k``."""
    from mtl_music.models.size import format_table, parameter_table

    sources = [str(s) for s in cfg.sources]
    unknown = [s for s in sources if s not in group_options("source")]
    if unknown:
        raise ConfigError(f"sources {unknown} are not learning sources; valid: {', '.join(group_options('source'))}")
    tables = []
    for trunk in cfg.trunks:
        rows = parameter_table(sources, k=int(cfg.k), trunk=str(trunk))
        tables.append(format_table(rows, title=f"trunk={trunk}, {len(sources)} sources {sources}, k={int(cfg.k)}"))
    return "\n\n".join(tables) + "\n"


@hydra_app("params")
def main(cfg: DictConfig) -> None:
    print(run(cfg))


if __name__ == "__main__":
    main()
