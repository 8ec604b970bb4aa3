"""``python -m mtl_music.study`` (``make study``): a small real study on the demo corpus.

Design (:mod:`mtl_music.design`) → every run trained and evaluated on the demo targets in this
process (:func:`mtl_music.train.run`, whose callback writes ``<run>/transfer.csv``) → the
analysis and report (:mod:`mtl_music.analyze`) in ``<paths.output_dir>/analysis``. The budget is
``conf/study.yaml``'s ``budget``. Running it again on the same folder (``hydra.run.dir=...``) skips finished runs
and resumes a killed one from its ``last.ckpt``; a run that fails is recorded in ``FAILED.txt``
and the study goes on.
"""

from __future__ import annotations

import logging
import shlex
import time
import traceback
from pathlib import Path

from omegaconf import DictConfig

from mtl_music import runs
from mtl_music.cli import hydra_app
from mtl_music.config import compose

log = logging.getLogger(__name__)


def run_one(*, overrides: list[str], run_dir: Path) -> str:
    """Trains and evaluates one design row into ``run_dir``: ``done``, ``trained`` or ``failed``."""
    from mtl_music.train import run as train

    if runs.is_finished(run_dir):
        return "done"
    resume = ["ckpt=last"] if runs.last_checkpoint(run_dir) else []
    try:
        train(compose("train", [*overrides, f"paths.output_dir={run_dir}", *resume]))
    except Exception as err:  # noqa: BLE001 - one failed run must not end a study of dozens
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / runs.FAILED_FILE).write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")
        log.error("run %s failed: %s (see %s)", run_dir.name, err, runs.FAILED_FILE)
        return "failed"
    (run_dir / runs.FAILED_FILE).unlink(missing_ok=True)
    return "trained"


def run(cfg: DictConfig) -> Path:
    """Runs the whole study; returns the report's path."""
    from mtl_music.analyze import run as analyze
    from mtl_music.experiment import build_design, write_sweep
    from mtl_music.experiment.aliasing import alias_matrix
    from mtl_music.experiment.sweep import parse_override_line

    out = Path(str(cfg.paths.output_dir))
    b = cfg.budget
    design = build_design(sources=list(cfg.sources), strategies=list(cfg.strategies),
                          phase1_repeats=int(b.phase1_repeats), phase2_repeats=int(b.phase2_repeats),
                          phase3_runs=int(b.phase3_runs), seed=int(cfg.seed),
                          train_overrides=list(cfg.train_overrides))
    if len(design) and cfg.first_run_overrides:  # the first run adds the baselines rows
        design.loc[0, "overrides"] = " ".join([design.loc[0, "overrides"], shlex.join(list(cfg.first_run_overrides))])
    write_sweep(design=design, output_dir=out)
    alias_csv = out / "alias_matrix.csv"
    alias_matrix(design=design, sources=list(cfg.sources), strategies=list(cfg.strategies)).to_csv(alias_csv)
    started = time.perf_counter()
    if cfg.get("launcher"):
        _run_on_launcher(cfg, out=out, n_rows=len(design))
    else:
        outcomes: dict[str, int] = {}
        for i, row in enumerate(design.itertuples()):
            outcome = run_one(overrides=parse_override_line(row.overrides), run_dir=out / str(row.run_id))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            log.info("study: %d/%d %s (%s %s) %s, %.0f s so far", i + 1, len(design), row.run_id, row.strategy,
                     row.sources, outcome, time.perf_counter() - started)
        log.info("study: %s in %.0f s", outcomes, time.perf_counter() - started)
    overrides = [f"runs={out}", f"paths.output_dir={out / 'analysis'}", f"alias={alias_csv}",
                 f"bootstrap.samples={int(cfg.bootstrap_samples)}"]
    last = _last_run_features(cfg)
    if last is not None:  # Fig. 16: the t-SNE of the last trained run's representation of a target
        features, target, data_root = last
        # the target's labels are read under the runs' data root, not the analysis default
        overrides += [f"tsne.features={features}", f"tsne.target={target}", f"paths.data_root={data_root}"]
    return analyze(compose("analyze", overrides))


def _run_on_launcher(cfg: DictConfig, *, out: Path, n_rows: int) -> None:
    """Every design row as one job of a Hydra sweep on ``cfg.launcher``, into ``<out>/<run_id>``
    (the folders the in-process loop uses); waits for the sweep, as Hydra's launchers do."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "mtl_music.train", "-m", f"design.dir={out}", f"design.runs_dir={out}",
               f"design.row=range(0,{n_rows})", f"hydra/launcher={cfg.launcher}", f"hydra.sweep.dir={out / 'jobs'}",
               *[str(o) for o in cfg.launcher_overrides]]
    log.info("study: %d runs on hydra/launcher=%s: %s", n_rows, cfg.launcher, shlex.join(command))
    started = time.perf_counter()
    proc = subprocess.run(command)
    done = sum(runs.is_finished(out / d.name) for d in out.iterdir() if d.is_dir())
    log.info("study: sweep exited %d after %.0f s; %d of %d runs finished", proc.returncode,
             time.perf_counter() - started, done, n_rows)
    if proc.returncode != 0:
        log.error("study: the sweep failed for some runs (its output above says why); the analysis uses the "
                  "finished ones, and running the study again resumes the others")


def _last_run_features(cfg: DictConfig) -> tuple[Path, str, Path] | None:
    """``(feature file, target, data root)``: the newest network feature file of the runs' first
    target (baselines' files excluded), or ``None``."""
    from mtl_music.evaluation.features import features_dir

    train_cfg = compose("train", list(cfg.train_overrides))
    targets = list(train_cfg.get("target") or [])
    if not targets:
        return None
    data_root = Path(str(train_cfg.paths.data_root)).expanduser()
    files = [p for p in features_dir(data_root=data_root, target=targets[0]).glob("*.npz")
             if not p.name.startswith(("rand-", "mfcc"))]
    return (max(files, key=lambda p: p.stat().st_mtime), targets[0], data_root) if files else None


@hydra_app("study")
def main(cfg: DictConfig) -> None:
    report = run(cfg)
    print(f"study report: {report}")


if __name__ == "__main__":
    main()
