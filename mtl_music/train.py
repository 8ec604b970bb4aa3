"""``python -m mtl_music.train source=[tag,bpm] arch=ms_cr@4`` — train one representation.

``run(cfg)`` is the plain function (tests and sweeps import it): it composes the parts — the
mel cache, the selected learning sources, the data module, the LightningModule and the Trainer
(:mod:`mtl_music.training.trainer`) — fits, and returns where everything went. ``main`` is the
thin Hydra wrapper. What the run directory holds: :mod:`mtl_music.runs`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mtl_music import runs
from mtl_music.cli import hydra_app
from mtl_music.errors import ConfigError

log = logging.getLogger(__name__)


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


def validate(cfg: DictConfig) -> list[str]:
    """Checks everything that can be checked before any data is touched; returns the sources."""
    from mtl_music.models import build_network
    from mtl_music.sources.selection import selected_source_names
    from mtl_music.training.trainer import check_placement, fold_steps

    names = selected_source_names(cfg)
    check_placement(cfg)
    fold_steps(cfg)
    try:  # the builder checks the strategy against the number of sources (ss_r takes one, ...)
        build_network(
            arch=cfg.arch, trunk=cfg.trunk, sources={n: int(cfg.source[n].get("k", 50)) for n in names},
            in_channels=2, n_mels=int(cfg.frontend.n_mels), crop_frames=int(cfg.data.crop_frames),
        )
    except ConfigError as err:
        raise InvalidCombination(str(err)) from err
    return names


def with_design_row(cfg: DictConfig) -> DictConfig:
    """``cfg`` itself, or — with ``design.dir`` set — the config of design row ``design.row``: the
    row's overrides on top of this job's own, trained into ``<runs_dir>/<run_id>``."""
    design = cfg.get("design") or {}
    if not design.get("dir"):
        return cfg
    from hydra.core.hydra_config import HydraConfig

    from mtl_music.config import compose
    from mtl_music.experiment.sweep import DESIGN_KEYS, RUNS_SUBDIR, design_row

    if design.get("row") is None:
        raise ConfigError("design.dir is set but design.row is not: pass design.row=<i>, or sweep "
                          "'design.row=range(0,N)' with -m")
    if not HydraConfig.initialized():
        raise ConfigError("design.dir=... is a command-line sweep: python -m mtl_music.train -m design.dir=<folder> "
                          "'design.row=range(0,N)' (from code, compose the row's overrides yourself)")
    run_id, row_overrides = design_row(design.dir, int(design.row))
    own = [o for o in HydraConfig.get().overrides.task if not o.lstrip("+~").startswith("design.")]
    clash = [o for o in own if o.lstrip("+~").split("=", 1)[0] in DESIGN_KEYS]
    if clash:
        raise ConfigError(f"{', '.join(clash)}: a design row sets {', '.join(DESIGN_KEYS[:3])} and where it trains; "
                          "leave them to the design")
    runs_dir = Path(str(design.get("runs_dir") or Path(str(design.dir)) / RUNS_SUBDIR)).expanduser()
    log.info("design row %s: %s -> %s", design.row, " ".join(row_overrides), runs_dir / run_id)
    return compose("train", [*row_overrides, *own, f"paths.output_dir={runs_dir / run_id}"])


def _finished(run_dir: Path) -> TrainResult:
    summary = json.loads((run_dir / runs.SUMMARY_FILE).read_text())
    return TrainResult(**{k: summary[k] for k in ("run_dir", "best_checkpoint", "last_checkpoint", "sources",
                                                    "metrics", "seconds") if k in summary})


def open_cache(cfg: DictConfig):
    """The dataset's mel cache, prepared first if needed.

    Every process calls prepare: under torchrun or srun all ranks start at once, and a rank that
    skipped it could open a cache still being written. Prepare holds a lock on the dataset, so
    one process does the work and the others wait for it, then reuse the finished cache.
    """
    from mtl_music import prepare
    from mtl_music.data import MelCache, cache_dir_for

    prepare.run(cfg)
    return MelCache.open(cache_dir_for(cfg))


def run(cfg: DictConfig) -> TrainResult:
    """Trains one representation as configured; returns where everything went."""
    import pytorch_lightning as pl
    import torch

    from mtl_music.data import RandomCrops
    from mtl_music.sources.selection import load_selected_sources
    from mtl_music.training import MultiSourceDataModule, MultiSourceModule
    from mtl_music.training.data import align_sources, source_sizes
    from mtl_music.training.trainer import apply_run_keys, build_trainer, fold_steps, is_rank_zero

    from mtl_music.training.trainer import is_multirun

    started = time.time()
    from_design = bool((cfg.get("design") or {}).get("dir"))
    cfg = with_design_row(cfg)
    names = validate(cfg)
    run_dir = Path(str(cfg.paths.output_dir))
    # A sweep run again into the same folders skips what is done and resumes what was killed.
    rerun = from_design or is_multirun()
    if rerun and runs.is_finished(run_dir):
        log.info("%s is finished (%s exists): skipped", run_dir, runs.SUMMARY_FILE)
        return _finished(run_dir)
    if rerun and not cfg.get("ckpt") and runs.last_checkpoint(run_dir):
        log.info("%s was interrupted: resuming from %s", run_dir, runs.last_checkpoint(run_dir))
        cfg.ckpt = "last"
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_rank_zero():
        (run_dir / runs.CONFIG_FILE).write_text(OmegaConf.to_yaml(cfg, resolve=True))
    threads = torch.get_num_threads()
    cache = open_cache(cfg)
    labels, vocabularies = load_selected_sources(cfg, names)
    sources = align_sources(labels, cache, data_name=str(cfg.data.name), labels_dir=str(cfg.data.labels_dir))
    # The weights must not depend on whether this process (or another rank, or an earlier run)
    # computed the mel cache and the sources' labels or found them stored. Computing them can
    # draw random numbers, and pLSA's parallel numba loops set the OpenMP pool that torch shares
    # to every core (e.g. 1 -> 2 threads under torchrun's OMP_NUM_THREADS=1), which changes
    # float sums. So: torch's thread count as the run started, and seeded once the data is ready.
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    fold = fold_steps(cfg)
    datamodule = MultiSourceDataModule(
        crops=RandomCrops(cache, crop_frames=int(cfg.data.crop_frames), standardize=True), sources=sources,
        batch_size=int(cfg.data.batch_size), seed=int(cfg.seed), sampling=str(cfg.training.sampling),
        num_workers=int(cfg.data.num_workers), val_batches_per_source=int(cfg.validation.batches_per_source),
        limit_train_steps=cfg.get("limit_train_steps"), placement=str(cfg.data.get("placement", "loader")),
        device_memory_share=float(cfg.data.get("device_memory_share", 0.8)), fold_steps=fold,
    )
    module = MultiSourceModule(
        arch=OmegaConf.to_container(cfg.arch, resolve=True),
        trunk=OmegaConf.to_container(cfg.trunk, resolve=True),
        sources={n: s.k for n, s in sources.items()},
        frontend=OmegaConf.to_container(cfg.frontend, resolve=True),
        optim=OmegaConf.to_container(cfg.optim, resolve=True),
        loss_weighting=str(cfg.training.loss_weighting),
        channels_last=bool(cfg.model.channels_last),
        crop_frames=int(cfg.data.crop_frames),
        data_name=str(cfg.data.name),
        source_categories={n: str(cfg.source[n].get("category", "")) for n in names},
        seed=int(cfg.seed),
        fold_steps=fold,
    )
    module.set_band_statistics(cache.mean, cache.std)
    module.set_source_vocabularies(vocabularies)
    apply_run_keys(cfg, module)
    built = build_trainer(cfg, run_dir=run_dir, run_name=f"{cfg.arch.name}-{'+'.join(names)}-s{cfg.seed}",
                          tags=[str(cfg.arch.name), *names])

    log.info("training %s on %s with sources %s -> %s", cfg.arch.name, cfg.data.name, names, run_dir)
    built.trainer.fit(module, datamodule=datamodule, ckpt_path=runs.resume_checkpoint(cfg.get("ckpt"), run_dir=run_dir))

    trainer = built.trainer
    last = runs.last_checkpoint(run_dir)
    result = TrainResult(
        run_dir=str(run_dir), best_checkpoint=built.best.best_model_path or None,
        last_checkpoint=str(last) if last else None, sources=source_sizes(sources),
        metrics={k: float(v) for k, v in trainer.callback_metrics.items() if getattr(v, "numel", lambda: 1)() == 1},
        seconds=time.time() - started,
    )
    if trainer.global_rank == 0:
        summary = {**asdict(result), "arch": str(cfg.arch.name), "data": str(cfg.data.name),
                   "epochs": int(cfg.epochs), "global_step": int(trainer.global_step),
                   "representation_dim": int(module.network.representation_dim),
                   "throughput": built.throughput.figures()}
        (run_dir / runs.SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return result


@hydra_app("train", open_keys=("trainer.",))
def main(cfg: DictConfig) -> None:
    from mtl_music.training.trainer import is_multirun, warn_unshared_run_dir

    warn_unshared_run_dir()
    try:
        result = run(cfg)
    except InvalidCombination as err:
        if not is_multirun():
            raise
        # One impossible job (e.g. ss_r with two sources) must not end a sweep of hundreds.
        run_dir = Path(str(cfg.paths.output_dir))
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / runs.SKIPPED_FILE).write_text(f"{err}\n")
        log.error("skipped %s: %s", run_dir.name, err)
        return
    print(f"run directory: {result.run_dir}")
    print(f"best checkpoint: {result.best_checkpoint}")
    print(f"last checkpoint: {result.last_checkpoint}")


if __name__ == "__main__":
    main()
