"""Synthetic sweeps for the analysis tests: planted standardised scores and run folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mtl_music.paper import STRATEGIES
from mtl_music.paper import TABLE6_SOURCE_ORDER as SOURCES

#: Planted fixed effects of model 1 (paper-like: less sharing is better, sources help).
PLANTED_INTERCEPTS = {"ss_r": -1.0, "ms_sr@fc": -0.5, "ms_cr@6": 0.0, "ms_cr@4": 0.2, "ms_cr@2": 0.4, "mss_cr": 0.5}
PLANTED_SLOPES = {"ms_sr@fc": 0.0, "ms_cr@6": 0.15, "ms_cr@4": 0.15, "ms_cr@2": 0.16, "mss_cr": 0.16}


def simulate_runs(*, n_runs: int = 60, seed: int = 0, sources: tuple[str, ...] = SOURCES) -> pd.DataFrame:
    """One row per run: ``run_id, strategy, sources`` (``+``-joined), ``n_sources``.

    Strategies cycle, so every strategy has about n_runs/6 runs; multi-source runs draw n in
    2..len(sources), SS-R runs cycle through the sources.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_runs):
        strategy = STRATEGIES[i % len(STRATEGIES)]
        if strategy == "ss_r":
            chosen = [(i // len(STRATEGIES)) % len(sources)]
        else:
            chosen = sorted(rng.choice(len(sources), size=int(rng.integers(2, len(sources) + 1)), replace=False))
        rows.append({"run_id": f"run{i:03d}", "strategy": strategy, "sources": "+".join(sources[j] for j in chosen),
                     "n_sources": len(chosen)})
    return pd.DataFrame(rows)


def simulate_scores(*, runs: pd.DataFrame, targets: int = 6, noise: float = 0.3, u0_sd: float = 0.1,
                    u1_sd: float = 0.02, source_effects: dict | None = None, seed: int = 1) -> pd.DataFrame:
    """Scores per (run, target) from model 1 with random per-strategy-within-target effects.

    ``y = β0_r + u0_rd + (β1_r + u1_rd)·n* + Σ_s effect_ds·[s present] + noise``; ``score`` is
    y shifted/scaled per target (so the analysis has to standardise), ``y_planted`` is y.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(targets):
        u0 = {s: rng.normal(0, u0_sd) for s in STRATEGIES}
        u1 = {s: rng.normal(0, u1_sd) for s in STRATEGIES}
        for run in runs.itertuples():
            nstar = 0 if run.strategy == "ss_r" else run.n_sources - 2
            y = PLANTED_INTERCEPTS[run.strategy] + u0[run.strategy]
            y += (PLANTED_SLOPES.get(run.strategy, 0.0) + u1[run.strategy]) * nstar
            for source, effect in (source_effects or {}).get(d, {}).items():
                y += effect * (source in run.sources.split("+"))
            y += rng.normal(0, noise)
            rows.append({**run._asdict(), "target": f"target{d}", "metric": "accuracy", "y_planted": y,
                         "score": 0.5 + 0.05 * d + 0.1 * y})
    frame = pd.DataFrame(rows).drop(columns="Index")
    for source in SOURCES:
        frame[source] = frame["sources"].map(lambda text, s=source: int(s in text.split("+")))
    return frame


def write_sweep(root: Path, *, n_runs: int = 30, targets: int = 3, repetitions: int = 2, nested: bool = True,
                seed: int = 0, sources: tuple[str, ...] = SOURCES) -> Path:
    """A sweep folder: ``<root>/<time>/<job>/{transfer.csv, summary.json}`` (or ``<root>/<job>/``
    with ``nested=False``) with the rand and mfcc baseline rows the training callback writes,
    a ``design.csv`` at the top, and one skipped job."""
    runs = simulate_runs(n_runs=n_runs, seed=seed, sources=sources)
    scores = simulate_scores(runs=runs, targets=targets, seed=seed + 1)
    rng = np.random.default_rng(seed + 2)
    sweep = root
    base = sweep / "2024-01-01_00-00-00" if nested else sweep
    for run in runs.itertuples():
        folder = base / f"{run.Index}_{run.strategy}_{run.sources}"
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["run,strategy,sources,target,repetition,metric,value"]
        for row in scores[scores["run_id"] == run.run_id].itertuples():
            for rep in range(repetitions):
                lines.append(f"{folder.name},{run.strategy},{run.sources},{row.target},{rep},accuracy,"
                             f"{row.score + rng.normal(0, 0.005)!r}")
                # Two baselines, as the training callback writes them into every run folder.
                lines.append(f"rand,rand,,{row.target},{rep},accuracy,{0.3 + rng.normal(0, 0.01)!r}")
                lines.append(f"mfcc,mfcc,,{row.target},{rep},accuracy,{0.4 + 0.01 * rep!r}")
        (folder / "transfer.csv").write_text("\n".join(lines) + "\n")
        heads = {s: {"train": 100, "valid": 10, "k": 50} for s in run.sources.split("+")}
        (folder / "summary.json").write_text(json.dumps({"arch": run.strategy, "sources": heads,
                                                         "representation_dim": 256, "seconds": 1.0}))
    skipped = base / "999_ss_r_tag+bpm"
    skipped.mkdir(parents=True, exist_ok=True)
    (skipped / "SKIPPED.txt").write_text("ss_r needs exactly one source\n")
    names = [f"{i}_{s}_{src}" for i, s, src in zip(runs.index, runs["strategy"], runs["sources"])]
    design = pd.DataFrame({"run": names,
                           "phase": np.where(runs["strategy"] == "ss_r", 1, 3), "strategy": runs["strategy"],
                           "sources": runs["sources"]})
    design.to_csv(sweep / "design.csv", index=False)
    return sweep
