"""Lightning's ``Trainer`` from ``cfg.trainer``, with the run's checkpoints, logger and callbacks.

``conf/trainer/*.yaml`` map one-to-one onto ``pytorch_lightning.Trainer`` arguments (its
``_target_``), so any Trainer argument works from the command line
(``+trainer.gradient_clip_val=1``). :func:`build_trainer` adds what the run decides itself:
the DDP strategy object, ``precision=auto``, SyncBatchNorm only where PyTorch has it, the two
checkpoints, the logger, the rank check and the transfer evaluation.
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mtl_music.errors import ConfigError
from mtl_music.runs import BEST_CHECKPOINT, LAST_CHECKPOINT, checkpoint_dir

log = logging.getLogger(__name__)

DDP_STRATEGIES = ("ddp", "ddp_spawn", "ddp_notebook", "ddp_fork")
#: Keys of the trainer group that the run reads itself (not Trainer arguments): ``compile``
#: (false, true or a torch.compile mode such as reduce-overhead), ``float32_matmul_precision``
#: (highest, high = TF32 on GPUs, medium) and ``fold_steps`` (steps per ``training_step``).
RUN_KEYS = ("compile", "float32_matmul_precision", "fold_steps")
#: Trainer arguments the run sets itself; a config key of the same name would be overridden.
DECIDED_BY_THE_RUN = ("callbacks", "logger", "default_root_dir", "use_distributed_sampler",
                      "num_sanity_val_steps", "enable_model_summary")


@dataclass
class BuiltTrainer:
    trainer: object
    best: object  # the best-validation-loss ModelCheckpoint (its best_model_path after fit)
    throughput: object  # the Throughput callback (its figures() after fit)


#: Where a process learns its rank before Lightning has set up: Lightning's own DDP launch
#: (LOCAL_RANK, NODE_RANK), torchrun (RANK, LOCAL_RANK, GROUP_RANK) and srun (SLURM_PROCID).
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")


def is_rank_zero() -> bool:
    """Whether this process is the first of its job (before Lightning has started ranks)."""
    return all(int(os.environ.get(name, "0") or 0) == 0 for name in RANK_VARIABLES)


def is_multirun() -> bool:
    """Whether this process is one job of a Hydra sweep (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def launched_per_rank() -> bool:
    """Whether an outside launcher started one process per rank (torchrun, or srun with several
    tasks), each composing its own Hydra config, instead of Lightning starting the ranks."""
    return "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1


def warn_unshared_run_dir() -> None:
    """Under torchrun/srun every rank names its own run folder after the second it started (and
    on several nodes, after its own clock); the ranks must share one: ``hydra.run.dir=<folder>``."""
    from hydra.core.hydra_config import HydraConfig

    if not (launched_per_rank() and HydraConfig.initialized()) or is_multirun():
        return
    if not any(o.lstrip("+").startswith("hydra.run.dir=") for o in HydraConfig.get().overrides.hydra):
        log.warning("this process is one rank of a torchrun/srun launch: give every rank the same run folder "
                    "with hydra.run.dir=<shared folder>, or the ranks may write to different time-named folders")


def check_placement(cfg: DictConfig) -> None:
    """A sweep job cannot also start an in-process DDP group of its own. A sweep job whose ranks
    the launcher started (submitit_slurm with ``tasks_per_node`` > 1: one task per GPU, Lightning's
    SLURM environment) starts no processes itself and may run DDP."""
    strategy = str(cfg.trainer.strategy)
    devices = cfg.trainer.devices
    if is_multirun() and not launched_per_rank() and (
            strategy in DDP_STRATEGIES or (isinstance(devices, int) and devices not in (0, 1))):
        raise ConfigError(
            "a Hydra multirun (-m) cannot also run in-process DDP (trainer.strategy="
            f"{strategy}, trainer.devices={devices}): every sweep job would spawn its own process group. "
            "Sweep with one device per job (trainer=gpu) and a launcher (hydra/launcher=joblib on one machine, "
            "hydra/launcher=slurm_gpu on a cluster), or run multi-GPU jobs one at a time without -m."
        )


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16 mixed precision where the hardware runs it natively (measured 2-3x
    faster on an AVX512-BF16 CPU, benchmarks/bench_train.py), else full float32."""
    if str(precision) != "auto":
        return str(precision)
    import torch

    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "32-true"


def compile_mode(value) -> str | None:
    """``trainer.compile`` as a torch.compile mode: ``None`` for no compilation, ``default``,
    ``reduce-overhead`` (CUDA graphs) or ``max-autotune`` (``true`` is ``default``)."""
    if value is None or value is False or str(value).lower() in ("false", "none", "null"):
        return None
    if value is True or str(value).lower() == "true":
        return "default"
    modes = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
    if str(value) not in modes:
        raise ConfigError(f"trainer.compile={value!r} is unknown; use false, true or one of {', '.join(modes)} "
                          "(e.g. trainer.compile=reduce-overhead for CUDA-graph capture)")
    return str(value)


def fold_steps(cfg: DictConfig) -> int:
    """``trainer.fold_steps``: consecutive steps trained in one ``training_step`` (manual
    optimisation, one device per run). Checked against what manual optimisation cannot do."""
    value = cfg.trainer.get("fold_steps", 1)
    try:
        fold = int(1 if value is None else value)
    except (TypeError, ValueError):
        fold = 0
    if fold < 1:
        raise ConfigError(f"trainer.fold_steps={value!r} must be a positive number of steps per training_step "
                          "(1: Lightning's own loop)")
    if fold == 1:
        return 1
    devices = cfg.trainer.get("devices", 1)
    if (str(cfg.trainer.get("strategy")) in DDP_STRATEGIES or int(cfg.trainer.get("num_nodes", 1) or 1) > 1
            or (isinstance(devices, int) and devices not in (0, 1)) or launched_per_rank()):
        raise ConfigError(f"trainer.fold_steps={fold} trains several steps per training_step, which DDP cannot "
                          "synchronise: use trainer.fold_steps=1 with DDP, or one device per run (trainer=gpu) "
                          "and several runs per GPU")
    for key, off in (("gradient_clip_val", (None, 0, 0.0)), ("accumulate_grad_batches", (None, 1))):
        if cfg.trainer.get(key) not in off:
            raise ConfigError(f"trainer.{key}={cfg.trainer.get(key)} needs Lightning's automatic optimisation, and "
                              f"trainer.fold_steps={fold} uses manual optimisation: set trainer.fold_steps=1")
    return fold


def apply_run_keys(cfg: DictConfig, module) -> None:
    """What ``trainer.compile`` and ``trainer.float32_matmul_precision`` ask of this process and module."""
    import torch

    precision = cfg.trainer.get("float32_matmul_precision")
    if precision:
        torch.set_float32_matmul_precision(str(precision))
    mode = compile_mode(cfg.trainer.get("compile", False))
    if mode is not None:
        module.compile_network(mode=None if mode == "default" else mode)


def _strategy(name: str):
    if name in ("ddp", "ddp_spawn"):
        from pytorch_lightning.strategies import DDPStrategy

        # Each step runs one branch only, so the other branches are unused in that step.
        extra = {"start_method": "spawn"} if name == "ddp_spawn" else {}
        return DDPStrategy(find_unused_parameters=True, **extra)
    return name


def _sync_batchnorm(wanted: bool, accelerator: str) -> bool:
    """SyncBatchNorm needs GPUs (PyTorch has no CPU implementation); a CPU DDP run (tests,
    debugging) keeps per-rank BatchNorm statistics instead, with a warning."""
    if wanted and accelerator == "cpu":
        log.warning("trainer.sync_batchnorm=true is ignored on accelerator=cpu (PyTorch's SyncBatchNorm is GPU-only)")
        return False
    return bool(wanted)


def _check_trainer_keys(cfg: DictConfig) -> None:
    """Every ``trainer.*`` key must be a Trainer argument the run does not set itself."""
    import pytorch_lightning as pl

    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    keys = [k for k in cfg.trainer if k != "_target_" and k not in RUN_KEYS]
    unknown = [k for k in keys if k not in accepted]
    if unknown:
        raise ConfigError(f"trainer.{unknown[0]} is not an argument of pytorch_lightning.Trainer; "
                          f"valid ones: {', '.join(sorted(accepted - set(DECIDED_BY_THE_RUN)))}")
    decided = [k for k in keys if k in DECIDED_BY_THE_RUN]
    if decided:
        raise ConfigError(f"trainer.{decided[0]} is set by mtl_music.train itself (it would be ignored); "
                          f"remove it. Keys the run decides: {', '.join(DECIDED_BY_THE_RUN)}")


def _transfer_callbacks(cfg: DictConfig, run_dir: Path) -> list:
    targets = cfg.get("target") or {}
    if not targets:
        return []
    from mtl_music.evaluation.transfer_callback import TransferEvaluation

    from mtl_music.evaluation.settings import EvaluationSettings

    return [TransferEvaluation(targets=dict(targets), data_root=Path(str(cfg.paths.data_root)).expanduser(),
                               run_dir=run_dir, settings=EvaluationSettings.from_cfg(cfg.evaluation))]


def build_trainer(cfg: DictConfig, *, run_dir: Path, run_name: str, tags: list[str]) -> BuiltTrainer:
    """The run's Trainer: ``cfg.trainer`` plus the run's checkpoints, logger and callbacks."""
    from hydra.utils import instantiate
    from pytorch_lightning.callbacks import ModelCheckpoint, RichProgressBar

    from mtl_music.training.loggers import build_logger
    from mtl_music.training.rank_check import RankConsistencyCheck
    from mtl_music.training.throughput import Throughput

    _check_trainer_keys(cfg)
    folder = checkpoint_dir(run_dir)
    best = ModelCheckpoint(
        dirpath=str(folder), filename=Path(BEST_CHECKPOINT).stem, monitor="val/loss", mode="min",
        save_top_k=1, auto_insert_metric_name=False, enable_version_counter=False,
    )
    # Lightning's save_last only writes when a top-k checkpoint was written in that step; a
    # resumable run needs the latest state after every epoch, improved or not.
    last = ModelCheckpoint(
        dirpath=str(folder), filename=Path(LAST_CHECKPOINT).stem, monitor=None, save_top_k=1,
        auto_insert_metric_name=False, enable_version_counter=False,
    )
    group = run_dir.parent.name if is_multirun() else run_dir.name
    logger = build_logger(cfg, run_dir=run_dir, run_name=run_name, group=group, tags=tags)
    accelerator = str(cfg.trainer.accelerator)
    throughput = Throughput()
    arguments = {k: v for k, v in OmegaConf.to_container(cfg.trainer, resolve=True).items() if k not in RUN_KEYS}
    trainer = instantiate(
        arguments,
        strategy=_strategy(str(cfg.trainer.strategy)),
        precision=resolve_precision(cfg.trainer.precision, accelerator),
        sync_batchnorm=_sync_batchnorm(cfg.trainer.sync_batchnorm, accelerator),
        logger=logger,
        callbacks=[best, last, RichProgressBar(leave=True), RankConsistencyCheck(run_dir), throughput,
                   *_transfer_callbacks(cfg, run_dir)],
        use_distributed_sampler=False,  # ranks share the step plan and split each batch
        default_root_dir=str(run_dir),
        num_sanity_val_steps=0,
        enable_model_summary=False,
    )
    return BuiltTrainer(trainer=trainer, best=best, throughput=throughput)


__all__ = ["BuiltTrainer", "RUN_KEYS", "apply_run_keys", "build_trainer", "check_placement", "compile_mode",
           "fold_steps", "is_multirun", "is_rank_zero", "launched_per_rank", "resolve_precision",
           "warn_unshared_run_dir"]
