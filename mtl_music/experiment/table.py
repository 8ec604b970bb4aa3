"""The design table: the three phases' runs, each with a run id, a seed and its overrides."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from mtl_music.experiment.factors import Run, design_space, phase1_runs, phase2_runs
from mtl_music.experiment.greedy import greedy_phase3
from mtl_music.experiment.sweep import check_train_overrides, override_line
from mtl_music.errors import ConfigError


def run_ids(count: int) -> list[str]:
    """``r000``, ``r001``, …: zero-padded so that folders sort in run order (≥ 3 digits)."""
    width = max(3, len(str(max(count - 1, 0))))
    return [f"r{i:0{width}d}" for i in range(count)]


def build_design(
    *,
    sources: Sequence[str],
    strategies: Sequence[str],
    phase1_repeats: int,
    phase2_repeats: int,
    phase3_runs: int | None,
    seed: int,
    train_seed: int = 0,
    train_overrides: Sequence[str] = (),
) -> pd.DataFrame:
    """The whole experimental design, phase 1, then 2, then 3 (paper Sect. 4.3).

    Args:
        sources: the learning sources (``conf/source`` options), m of them.
        strategies: the strategies (``conf/arch`` options); the single-source ones (``ss_r``)
            make phase 1, the others phases 2 and 3.
        phase1_repeats: runs of every single-source strategy on every source (paper: 6).
        phase2_repeats: runs of every multi-source strategy on all m sources (paper: 5).
        phase3_runs: the greedy phase's budget (paper: 352); ``None``: all candidates.
        seed: seed of the greedy's random choice among ties.
        train_seed: run i (0-based, in table order) trains with ``seed=train_seed + i``, so
            repeats and all other runs get different initialisations and source draws.
        train_overrides: more ``mtl_music.train`` overrides for every run (``trainer=gpu``).

    Returns:
        One row per run: ``run_id`` (``r000``…, the run's folder in the sweep), ``phase``
        (1, 2, 3), ``strategy``, ``n_sources``, ``sources`` (``+``-joined, configuration
        order), one 0/1 column per source, ``repeat`` (0.. within phases 1 and 2; 0 in phase
        3), ``seed``, ``overrides`` (the ``python -m mtl_music.train`` arguments, shell-quoted).

    Raises:
        ConfigError: an unknown source or strategy (listing the valid ones), a negative
            repeat count, a phase-3 budget larger than its candidates, a bad train override.
    """
    for key, value in (("phase1.repeats", phase1_repeats), ("phase2.repeats", phase2_repeats)):
        if int(value) < 0:
            raise ConfigError(f"{key}={value}: a number of repeats cannot be negative")
    space = design_space(sources=sources, strategies=strategies)
    extra = check_train_overrides(train_overrides)
    runs: list[Run] = phase1_runs(space=space, repeats=int(phase1_repeats)) + phase2_runs(
        space=space, repeats=int(phase2_repeats)
    )
    runs += [
        Run(phase=3, strategy=pick.strategy, sources=pick.sources)
        for pick in greedy_phase3(space=space, runs=phase3_runs, seed=int(seed))
    ]
    rows = []
    for run_id, (i, run) in zip(run_ids(len(runs)), enumerate(runs)):
        run_seed = int(train_seed) + i
        rows.append({
            "run_id": run_id,
            "phase": run.phase,
            "strategy": run.strategy,
            "n_sources": len(run.sources),
            "sources": "+".join(run.sources),
            **{source: int(source in run.sources) for source in space.sources},
            "repeat": run.repeat,
            "seed": run_seed,
            "overrides": override_line(strategy=run.strategy, sources=run.sources, seed=run_seed, extra=extra),
        })
    columns = ["run_id", "phase", "strategy", "n_sources", "sources", *space.sources, "repeat", "seed", "overrides"]
    return pd.DataFrame(rows, columns=columns)
