"""Where the Hydra configs live and how code outside a Hydra app composes them."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

#: The repository's ``conf/`` directory (the package is installed editable, see Makefile).
CONF_DIR = Path(__file__).resolve().parent.parent / "conf"


def compose(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with ``overrides`` outside of ``@hydra.main``.

    Used by tests and notebooks; resolves nothing, so ``${...}`` stays lazy.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=list(overrides))
