"""``TransferEvaluation``: the transfer protocol as a Lightning callback after ``fit`` (SPEC R6.6)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from mtl_music.evaluation.results import ResultsTable
from mtl_music.runs import RESULTS_FILE

log = logging.getLogger(__name__)


def evaluate_module(module, *, targets: Mapping[str, Any], data_root: Path, run: str,
                    baselines: Sequence[str] = (), n_repetitions: int = 5, seed: int = 0, num_workers: int = 2,
                    batch_slices: int = 128, include_module: bool = True,
                    external_dir: str | Path | None = None) -> ResultsTable:
    """The module's representation and the chosen baselines (:data:`~mtl_music.evaluation.transfer.BASELINES`)
    on every target, as one table; a failing target is logged and skipped (see ``evaluate_all``)."""
    from mtl_music.evaluation.transfer import baseline_representation, check_baselines, evaluate_all, \
        network_representation
    from mtl_music.models.digest import module_digest

    check_baselines(baselines)
    device = str(module.device)
    representations = []
    if include_module:
        representations.append(network_representation(module, run=run, digest=module_digest(module), device=device,
                                                      num_workers=num_workers, batch_slices=batch_slices))
    representations += [baseline_representation(name, module=module, seed=seed, device=device, num_workers=num_workers,
                                                batch_slices=batch_slices, external_dir=external_dir)
                        for name in baselines]
    return evaluate_all(representations, targets, data_root=data_root, n_repetitions=n_repetitions, seed=seed)


class TransferEvaluation(pl.Callback):
    """After training, on rank 0: the representation (and baselines) on ``targets``.

    Writes ``<run_dir>/transfer.csv`` (tidy rows), logs each (run, target, metric) mean to the
    run's logger (and the whole table to W&B when that logger is on) and prints a summary. The
    weights evaluated are the final ones, as in the paper (fixed epochs, no early stopping).
    """

    def __init__(self, *, targets: Mapping[str, Any], data_root: str | Path, run_dir: str | Path,
                 baselines: Sequence[str] = ("rand", "mfcc"), n_repetitions: int = 5, seed: int = 0,
                 num_workers: int = 2, batch_slices: int = 128, external_dir: str | Path | None = None) -> None:
        self.targets = dict(targets)
        self.data_root = Path(data_root)
        self.run_dir = Path(run_dir)
        self.baselines = tuple(baselines)
        self.n_repetitions = int(n_repetitions)
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.batch_slices = int(batch_slices)
        self.external_dir = external_dir
        self.table: ResultsTable | None = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or not self.targets:
            return
        table = evaluate_module(pl_module, targets=self.targets, data_root=self.data_root, run=self.run_dir.name,
                                baselines=self.baselines, n_repetitions=self.n_repetitions, seed=self.seed,
                                num_workers=self.num_workers, batch_slices=self.batch_slices,
                                external_dir=self.external_dir)
        self.table = table
        if not len(table):
            return
        path = table.to_csv(self.run_dir / RESULTS_FILE)
        _log_table(trainer, table)
        print(f"\ntransfer evaluation ({path}):\n{table.summary()}")


def _log_table(trainer: pl.Trainer, table: ResultsTable) -> None:
    frame = table.to_frame()
    means = frame.groupby(["run", "target", "metric"])["value"].agg(["mean", "std"])
    metrics = {}
    for (run, target, metric), row in means.iterrows():
        metrics[f"transfer/{run}/{target}/{metric}"] = float(row["mean"])
        metrics[f"transfer/{run}/{target}/{metric}_std"] = float(np.nan_to_num(row["std"]))
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
        if type(logger).__name__ == "WandbLogger":
            logger.log_table(key="transfer", dataframe=frame)
