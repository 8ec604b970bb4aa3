"""``python -m mtl_music.train source=[tag,bpm] arch=ms_cr@4`` — train one representation.

``run(cfg)`` is the plain function (tests and sweeps import it); ``main`` is the thin
Hydra wrapper. A run directory holds the composed config (``config.yaml`` and Hydra's
``.hydra/``), ``checkpoints/{best,last}.ckpt``, the logger's files and ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mtl_music.cli import hydra_app

from mtl_music.errors import ConfigError

log = logging.getLogger(__name__)

DDP_STRATEGIES = ("ddp", "ddp_spawn", "ddp_notebook", "ddp_fork")


class InvalidCombination(ConfigError):
    """This (strategy, sources) combination cannot be trained; a sweep skips it and goes on."""


@dataclass
class TrainResult:
    run_dir: str
    best_checkpoint: str | None
    last_checkpoint: str | None
    sources: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    seconds: float = 0.0


# ------------------------------------------------------------------ validation
def source_names(cfg: DictConfig) -> list[str]:
    """The selected learning sources, in config order; fails with the valid choices."""
    from mtl_music.sources import available_sources

    names = list(cfg.get("source") or {})
    if not names:
        raise ConfigError(
            "no learning source selected; pass e.g. source=[tag,bpm]. Valid sources: " + ", ".join(available_sources())
        )
    return names


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def validate(cfg: DictConfig) -> list[str]:
    """Checks everything that can be checked before any data is touched."""
    names = source_names(cfg)
    strategy = str(cfg.trainer.strategy)
    devices = cfg.trainer.devices
    if _is_multirun() and (strategy in DDP_STRATEGIES or (isinstance(devices, int) and devices not in (0, 1))):
        raise ConfigError(
            "a Hydra multirun (-m) cannot also run in-process DDP (trainer.strategy="
            f"{strategy}, trainer.devices={devices}): every sweep job would spawn its own process group. "
            "Sweep with one device per job (trainer=gpu) and a cluster launcher (hydra/launcher=submitit_slurm), "
            "or run multi-GPU jobs one at a time without -m."
        )
    # The builder checks the strategy against the number of sources (ss_r takes one, ...).
    from mtl_music.models import build_network

    try:
        build_network(
            arch=cfg.arch, trunk=cfg.trunk, sources={n: int(cfg.source[n].get("k", 50)) for n in names},
            in_channels=2, n_mels=int(cfg.frontend.n_mels), crop_frames=int(cfg.data.crop_frames),
        )
    except ConfigError as err:
        raise InvalidCombination(str(err)) from err
    return names


def _is_rank_zero() -> bool:
    return int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0


# ----------------------------------------------------------------------- data
def open_cache(cfg: DictConfig):
    """The dataset's mel cache, prepared first if needed (on the first rank only)."""
    from mtl_music.data import MelCache, cache_dir_for

    if _is_rank_zero():
        from mtl_music import prepare

        prepare.run(cfg)
    return MelCache.open(cache_dir_for(cfg))


def load_sources(cfg: DictConfig, names: list[str], cache) -> tuple[dict, dict]:
    """Every selected source aligned with the cache, and what its head's outputs mean
    (``{name: SourceVocabulary or None}``, stored in the checkpoint); fails before training
    when a source has no labelled training track in this dataset."""
    from mtl_music.sources import load_source_labels
    from mtl_music.sources.vocabulary import SourceVocabulary
    from mtl_music.training import align_source

    aligned, vocabularies = {}, {}
    for name in names:
        labels = load_source_labels(cfg.source[name], data_cfg=cfg.data)
        aligned[name] = align_source(labels, cache)
        vocabularies[name] = SourceVocabulary.from_labels(labels)
    empty = [n for n, s in aligned.items() if len(s.train) == 0]
    if empty:
        usable = [n for n in names if n not in empty]
        raise ConfigError(
            f"source(s) {', '.join(empty)} have no labelled training track in dataset '{cfg.data.name}' "
            f"(cache {cache.path if hasattr(cache, 'path') else ''}). Sources of this run with labels: "
            f"{', '.join(usable) or 'none'}; check the label files in {cfg.data.labels_dir} and the track ids "
            "of the manifest."
        )
    return aligned, vocabularies


# -------------------------------------------------------------------- trainer
def _strategy(cfg: DictConfig):
    name = str(cfg.trainer.strategy)
    if name == "ddp":
        from pytorch_lightning.strategies import DDPStrategy

        # Each step runs one branch only, so the other branches are unused in that step.
        return DDPStrategy(find_unused_parameters=True)
    if name == "ddp_spawn":
        from pytorch_lightning.strategies import DDPStrategy

        return DDPStrategy(start_method="spawn", find_unused_parameters=True)
    return name


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16 mixed precision where the hardware runs it natively (measured 2-3x
    faster on an AVX512-BF16 CPU, benchmarks/bench_train.py), else full float32."""
    if str(precision) != "auto":
        return str(precision)
    import torch

    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "32-true"


def _sync_batchnorm(cfg: DictConfig) -> bool:
    """SyncBatchNorm needs GPUs (PyTorch has no CPU implementation); a CPU DDP run (tests,
    debugging) keeps per-rank BatchNorm statistics instead, with a warning."""
    wanted = bool(cfg.trainer.sync_batchnorm)
    if wanted and str(cfg.trainer.accelerator) == "cpu":
        log.warning("trainer.sync_batchnorm=true is ignored on accelerator=cpu (PyTorch's SyncBatchNorm is GPU-only)")
        return False
    return wanted


def _run_dir(cfg: DictConfig) -> Path:
    from hydra.core.hydra_config import HydraConfig

    if cfg.get("run_dir"):
        return Path(cfg.run_dir)
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path("outputs/train") / time.strftime("%Y-%m-%d_%H-%M-%S")


def _resolve_ckpt(cfg: DictConfig, run_dir: Path) -> str | None:
    ckpt = cfg.get("ckpt_path")
    if not ckpt:
        return None
    path = run_dir / "checkpoints" / "last.ckpt" if ckpt == "last" else Path(str(ckpt))
    if path.is_dir():
        path = path / "checkpoints" / "last.ckpt"
    if not path.is_file():
        raise ConfigError(
            f"ckpt_path={ckpt}: no checkpoint at {path}. To resume a killed run, rerun it with the same "
            "overrides plus hydra.run.dir=<its run directory> ckpt_path=last (or give a .ckpt path)."
        )
    return str(path)


def _sweep_group(run_dir: Path) -> str:
    return run_dir.parent.name if _is_multirun() else run_dir.name


def _transfer_callbacks(cfg: DictConfig, run_dir: Path) -> list:
    targets = cfg.get("target") or {}
    if not targets:
        return []
    from mtl_music.evaluation.transfer_callback import TransferEvaluation

    ev = cfg.evaluation
    return [TransferEvaluation(targets=dict(targets), data_root=Path(str(cfg.paths.data_root)).expanduser(),
                               run_dir=run_dir, baselines=list(ev.baselines), n_repetitions=int(ev.repetitions),
                               seed=int(ev.seed), num_workers=int(ev.num_workers), batch_slices=int(ev.batch_slices))]


def run(cfg: DictConfig) -> TrainResult:
    """Trains one representation as configured; returns where everything went."""
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint, RichProgressBar

    from mtl_music.data import RandomCrops
    from mtl_music.training import MultiSourceDataModule, MultiSourceModule
    from mtl_music.training.rank_check import RankConsistencyCheck
    from mtl_music.training.data import source_sizes
    from mtl_music.training.loggers import build_logger

    started = time.time()
    names = validate(cfg)
    run_dir = _run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    if _is_rank_zero():
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)

    cache = open_cache(cfg)
    sources, vocabularies = load_sources(cfg, names, cache)
    crops = RandomCrops(cache, crop_frames=int(cfg.data.crop_frames), standardize=True)
    datamodule = MultiSourceDataModule(
        crops=crops, sources=sources, batch_size=int(cfg.data.batch_size), seed=int(cfg.seed),
        sampling=str(cfg.data.sampling), num_workers=int(cfg.data.num_workers),
        val_batches_per_source=int(cfg.validation.batches_per_source),
        limit_train_steps=cfg.get("limit_train_steps"),
    )
    module = MultiSourceModule(
        arch=OmegaConf.to_container(cfg.arch, resolve=True),
        trunk=OmegaConf.to_container(cfg.trunk, resolve=True),
        sources={n: s.k for n, s in sources.items()},
        frontend=OmegaConf.to_container(cfg.frontend, resolve=True),
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        loss_weighting=str(cfg.data.loss_weighting),
        channels_last=bool(cfg.model.channels_last),
        crop_frames=int(cfg.data.crop_frames),
        data_name=str(cfg.data.name),
        source_categories={n: str(cfg.source[n].get("category", "")) for n in names},
        seed=int(cfg.seed),
    )
    module.set_band_statistics(cache.mean, cache.std)
    module.set_source_vocabularies(vocabularies)

    checkpoints = ModelCheckpoint(
        dirpath=str(run_dir / "checkpoints"), filename="best", monitor="val/loss", mode="min",
        save_top_k=1, auto_insert_metric_name=False, enable_version_counter=False,
    )
    # Lightning's save_last only writes when a top-k checkpoint was written in that step; a
    # resumable run needs the latest state after every epoch, improved or not.
    last_checkpoint = ModelCheckpoint(
        dirpath=str(run_dir / "checkpoints"), filename="last", monitor=None, save_top_k=1,
        auto_insert_metric_name=False, enable_version_counter=False,
    )
    tags = [str(cfg.arch.name), *names]
    logger = build_logger(cfg, run_dir=run_dir, run_name=f"{cfg.arch.name}-{'+'.join(names)}-s{cfg.seed}",
                          group=_sweep_group(run_dir), tags=tags)
    trainer = pl.Trainer(
        max_epochs=int(cfg.epochs),
        accelerator=cfg.trainer.accelerator,
        devices=cfg.trainer.devices,
        num_nodes=int(cfg.trainer.num_nodes),
        strategy=_strategy(cfg),
        precision=resolve_precision(cfg.trainer.precision, str(cfg.trainer.accelerator)),
        sync_batchnorm=_sync_batchnorm(cfg),
        logger=logger,
        callbacks=[checkpoints, last_checkpoint, RichProgressBar(leave=True), RankConsistencyCheck(run_dir),
                   *_transfer_callbacks(cfg, run_dir)],
        use_distributed_sampler=False,  # ranks share the step plan and split each batch
        default_root_dir=str(run_dir),
        log_every_n_steps=int(cfg.trainer.log_every_n_steps),
        fast_dev_run=bool(cfg.get("fast_dev_run", False)),
        num_sanity_val_steps=0,
        enable_model_summary=False,
    )
    log.info("training %s on %s with sources %s -> %s", cfg.arch.name, cfg.data.name, names, run_dir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=_resolve_ckpt(cfg, run_dir))

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1}
    result = TrainResult(
        run_dir=str(run_dir),
        best_checkpoint=checkpoints.best_model_path or None,
        last_checkpoint=str(run_dir / "checkpoints" / "last.ckpt") if (run_dir / "checkpoints" / "last.ckpt").exists() else None,
        sources=source_sizes(sources),
        metrics=metrics,
        seconds=time.time() - started,
    )
    if trainer.global_rank == 0:
        summary = {**asdict(result), "arch": str(cfg.arch.name), "data": str(cfg.data.name),
                   "epochs": int(cfg.epochs), "global_step": int(trainer.global_step),
                   "representation_dim": int(module.network.representation_dim)}
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    return result


@hydra_app("train")
def main(cfg: DictConfig) -> None:
    try:
        result = run(cfg)
    except InvalidCombination as err:
        if not _is_multirun():
            raise
        # One impossible job (e.g. ss_r with two sources) must not end a sweep of hundreds.
        run_dir = _run_dir(cfg)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "SKIPPED.txt").write_text(f"{err}\n")
        log.error("skipped %s: %s", run_dir.name, err)
        return
    print(f"run directory: {result.run_dir}")
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"last checkpoint: {result.last_checkpoint}")


if __name__ == "__main__":
    main()
