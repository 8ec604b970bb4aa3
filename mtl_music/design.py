"""``python -m mtl_music.design [phase3.runs=352] [seed=0]`` — the experimental design as a sweep.

``run(cfg)`` is the plain function (tests import it); ``main`` is the thin Hydra wrapper. The
output folder (``paths.output_dir``: Hydra's run directory, ``outputs/design/<time>``; ``hydra.run.dir=...`` moves it) receives
``design.csv``, ``runs.txt``, ``run_design.sh`` and ``alias_matrix.csv`` (see
:mod:`mtl_music.design`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from mtl_music.cli import hydra_app

from mtl_music.experiment.aliasing import alias_matrix, max_aliasing
from mtl_music.experiment.sweep import SweepFiles, sweep_command, write_sweep
from mtl_music.experiment.table import build_design

log = logging.getLogger(__name__)


@dataclass
class DesignResult:
    output_dir: Path
    design: pd.DataFrame
    files: SweepFiles
    alias_csv: Path
    max_aliasing: dict  # phase ("all", "3") → maximum cross-factor aliasing


def run(cfg: DictConfig) -> DesignResult:
    """Builds the design of ``cfg`` (``conf/design.yaml``) and writes it; returns what it wrote."""
    design = build_design(
        sources=list(cfg.sources),
        strategies=list(cfg.strategies),
        phase1_repeats=int(cfg.phase1.repeats),
        phase2_repeats=int(cfg.phase2.repeats),
        phase3_runs=None if cfg.phase3.runs is None else int(cfg.phase3.runs),
        seed=int(cfg.seed),
        train_seed=int(cfg.train_seed),
        train_overrides=list(cfg.get("train_overrides") or []),
    )
    output_dir = Path(str(cfg.paths.output_dir))
    files = write_sweep(design=design, output_dir=output_dir)
    levels = dict(sources=list(cfg.sources), strategies=list(cfg.strategies))
    alias_csv = output_dir / "alias_matrix.csv"
    alias_matrix(design=design, **levels).to_csv(alias_csv, float_format="%.6f")
    phase3 = design[design["phase"] == 3]
    aliasing = {"all": max_aliasing(design=design, **levels)}
    if len(phase3):
        aliasing["3"] = max_aliasing(design=phase3, **levels)
    counts = design["phase"].value_counts().sort_index()
    log.info(
        "%d runs (%s); max aliasing between main effects: %s",
        len(design), ", ".join(f"phase {p}: {n}" for p, n in counts.items()),
        ", ".join(f"{k} {v:.3f}" for k, v in aliasing.items()),
    )
    return DesignResult(output_dir=output_dir, design=design, files=files, alias_csv=alias_csv, max_aliasing=aliasing)


@hydra_app("design")
def main(cfg: DictConfig) -> None:
    result = run(cfg)
    print(f"design: {len(result.design)} runs -> {result.files.design_csv}")
    print(f"alias matrix: {result.alias_csv} (max aliasing between main effects: "
          + ", ".join(f"{'phase 3' if k == '3' else 'whole design'} {v:.3f}" for k, v in result.max_aliasing.items()) + ")")
    print(f"train them one after the other: {result.files.script} [trainer=gpu epochs=200 ...]   "
          f"(lines: {result.files.runs_txt})")
    print(f"or one job per run on a Hydra launcher: "
          f"{sweep_command(design_dir=result.output_dir, n_rows=len(result.design))}")


if __name__ == "__main__":
    main()
