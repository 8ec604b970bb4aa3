"""Builds the run's Lightning logger from ``cfg.logger``: CSV, TensorBoard or W&B."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mtl_music.errors import ConfigError


def build_logger(cfg: DictConfig, *, run_dir: Path, run_name: str, group: str | None, tags: list[str]):
    kind = cfg.logger.kind
    if kind == "csv":
        from pytorch_lightning.loggers import CSVLogger

        # version=None: a resumed run writes version_1/ beside version_0/ instead of replacing it.
        return CSVLogger(save_dir=str(run_dir), name="csv")
    if kind == "tensorboard":
        from pytorch_lightning.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=str(run_dir), name="tensorboard")
    if kind == "wandb":
        try:
            from pytorch_lightning.loggers import WandbLogger
            import wandb  # noqa: F401
        except ImportError as err:  # pragma: no cover - wandb is an extra
            raise ConfigError("logger=wandb needs the wandb package: pip install 'mtl_music[wandb]'") from err
        extra = {}
        if cfg.logger.get("mode"):
            extra["mode"] = cfg.logger.mode
        return WandbLogger(
            project=cfg.logger.project,
            entity=cfg.logger.get("entity"),
            name=run_name,
            group=cfg.logger.get("group") or group,
            tags=tags,
            save_dir=str(run_dir),
            config=OmegaConf.to_container(cfg, resolve=True),
            **extra,
        )
    raise ConfigError(f"logger.kind={kind!r} is unknown; choose logger=csv, logger=tensorboard or logger=wandb")
