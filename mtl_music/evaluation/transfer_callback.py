"""``TransferEvaluation``: the transfer protocol as a Lightning callback after ``fit`` (SPEC R6.6)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl

from mtl_music.evaluation.results import CLEAN, ResultsTable
from mtl_music.evaluation.settings import EvaluationSettings
from mtl_music.runs import RESULTS_FILE

log = logging.getLogger(__name__)


def evaluate_module(module, *, targets: Mapping[str, Any], data_root: Path, run: str,
                    settings: EvaluationSettings, baselines: Sequence[str] | None = None,
                    include_module: bool = True) -> ResultsTable:
    """The module's representation (or its layers, ``settings.layers``) and the baselines
    (``settings.baselines`` unless ``baselines`` is given;
    :data:`~mtl_music.evaluation.transfer.BASELINES`) on every target, as one table; a failing
    target is logged and skipped (see ``evaluate_all``)."""
    from mtl_music.evaluation.transfer import baseline_representations, check_baselines, evaluate_all, \
        network_representations
    from mtl_music.models.digest import module_digest

    baselines = check_baselines(settings.baselines if baselines is None else baselines)
    device = str(module.device)
    representations = []
    if include_module:
        representations += network_representations(module, run=run, digest=module_digest(module), settings=settings,
                                                   device=device)
    for name in baselines:
        representations += baseline_representations(name, module=module, settings=settings, device=device)
    return evaluate_all(representations, targets, data_root=data_root, settings=settings)


class TransferEvaluation(pl.Callback):
    """After training, on rank 0: the representation (and baselines) on ``targets``.

    Writes ``<run_dir>/transfer.csv`` (tidy rows), logs each (run, target, metric) mean to the
    run's logger (and the whole table to W&B when that logger is on) and prints a summary. The
    weights evaluated are the final ones, as in the paper (fixed epochs, no early stopping).
    """

    def __init__(self, *, targets: Mapping[str, Any], data_root: str | Path, run_dir: str | Path,
                 settings: EvaluationSettings) -> None:
        self.targets = dict(targets)
        self.data_root = Path(data_root)
        self.run_dir = Path(run_dir)
        self.settings = settings
        self.table: ResultsTable | None = None

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or not self.targets:
            return
        table = evaluate_module(pl_module, targets=self.targets, data_root=self.data_root, run=self.run_dir.name,
                                settings=self.settings)
        self.table = table
        if not len(table):
            return
        path = table.to_csv(self.run_dir / RESULTS_FILE)
        _log_table(trainer, table)
        print(f"\ntransfer evaluation ({path}):\n{table.summary()}")


def _log_table(trainer: pl.Trainer, table: ResultsTable) -> None:
    frame = table.to_frame()
    means = frame.groupby(["run", "layer", "target", "condition", "metric"])["value"].agg(["mean", "std"])
    metrics = {}
    for (run, layer, target, condition, metric), row in means.iterrows():
        name = "/".join(["transfer", run + (f"@{layer}" if layer else ""),
                         target + ("" if condition == CLEAN else f"@{condition}"), metric])
        metrics[name] = float(row["mean"])
        metrics[f"{name}_std"] = float(np.nan_to_num(row["std"]))
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step)
        if type(logger).__name__ == "WandbLogger":
            logger.log_table(key="transfer", dataframe=frame)
