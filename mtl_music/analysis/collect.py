"""Gather a sweep's results into frames (SPEC R7.1): one row per (run, target).

A sweep folder holds run folders, each with ``transfer.csv`` (the tidy table of
:mod:`mtl_music.evaluation.results`) and usually ``summary.json`` (written by
``mtl_music.train``); run folders may sit one or more levels down
(``<sweep>/<time>/<job>/transfer.csv``). Optional files at the sweep's top:
``design.csv`` (the experimental design, one row per run) and ``alias.csv`` (its alias matrix).

Per run and target the score is the mean over the evaluation's repetitions (paper Sect. 4.4:
"we will then take average performance scores over the 5 different train/test splits").
Rows whose strategy is not one of the six learned strategies (``rand``, ``mfcc``,
``external``) are baselines and are kept in a separate frame: they are reference lines in the
figures, never observations of the mixed models.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mtl_music.errors import DataError
from mtl_music.paper import SINGLE_SOURCE_STRATEGY, STRATEGIES, TABLE6_SOURCE_ORDER
from mtl_music.runs import CONFIG_FILE, RESULTS_FILE, SUMMARY_FILE
from mtl_music.targets.base import TASK_METRICS

log = logging.getLogger(__name__)

DESIGN_FILE = "design.csv"
ALIAS_FILE = "alias.csv"

#: The old name of :data:`mtl_music.paper.TABLE6_SOURCE_ORDER` (the order :func:`order_sources` uses).
PAPER_SOURCE_ORDER: tuple[str, ...] = TABLE6_SOURCE_ORDER

#: Which metric represents a target when its rows carry several (first found wins): the
#: tasks' primary metrics, so a multi-label target's ``roc_auc`` wins over its ``pr_auc``.
METRIC_PREFERENCE: tuple[str, ...] = tuple(TASK_METRICS.values())


def normalize_strategy(name: str) -> str:
    """``"MS-CR@2"`` / ``"ms_cr@2"`` → ``"ms_cr@2"``; other names are lower-cased and kept."""
    return str(name).strip().lower().replace("-", "_")


def split_sources(sources: str) -> list[str]:
    """``"tag+bpm"`` → ``["tag", "bpm"]``; empty / NaN → ``[]``."""
    if sources is None or (isinstance(sources, float) and math.isnan(sources)):
        return []
    return [s for s in str(sources).split("+") if s]


def order_sources(names: Sequence[str]) -> list[str]:
    """Source names in the paper's Table 6 order, unknown ones after them alphabetically."""
    known = [s for s in TABLE6_SOURCE_ORDER if s in set(names)]
    return known + sorted(set(names) - set(known))


@dataclass
class Collected:
    """Everything :func:`collect_runs` found.

    Attributes:
        scores: one row per (run, target) of a learned strategy; columns ``run_id, folder, run,
            strategy, sources, n_sources, target, metric, score, n_repetitions`` plus one 0/1
            column per source (named as the source) and ``phase`` when a design file gave it.
        baselines: one row per (folder, baseline, target); columns ``folder, baseline, target,
            metric, score, n_repetitions``.
        summaries: one row per run folder with a ``summary.json``; columns ``folder, arch,
            representation_dim, seconds`` and ``k`` (dict source → k).
        sources: every learning source seen, Table 6 order.
        design: the sweep's ``design.csv`` as read, or ``None``.
        alias: the sweep's ``alias.csv`` (factors × factors), or ``None``.
        notes: what was skipped or assumed, for the report.
    """

    scores: pd.DataFrame
    baselines: pd.DataFrame
    summaries: pd.DataFrame
    sources: list[str]
    runs_dir: Path
    design: pd.DataFrame | None = None
    alias: pd.DataFrame | None = None
    run_configs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_results(*, runs_dir: Path, exclude: Sequence[Path] = ()) -> list[Path]:
    """Every ``transfer.csv`` under ``runs_dir`` (any depth), sorted; files under ``exclude``
    folders (the analysis output) or hidden folders (``.hydra``) are left out."""
    runs_dir = Path(runs_dir)
    excluded = [Path(e).resolve() for e in exclude]
    found = []
    for path in sorted(runs_dir.rglob(RESULTS_FILE)):
        rel = path.relative_to(runs_dir)
        if any(part.startswith(".") for part in rel.parts[:-1]):
            continue
        resolved = path.resolve()
        if any(resolved.is_relative_to(e) for e in excluded):
            continue
        found.append(path)
    return found


def read_results(*, path: Path) -> pd.DataFrame:
    """One ``transfer.csv`` as a frame (columns of :data:`mtl_music.evaluation.results.COLUMNS`);
    a malformed file raises :class:`DataError` naming it."""
    from mtl_music.evaluation.results import ResultsTable

    frame = ResultsTable.from_csv(path).to_frame()
    frame["sources"] = frame["sources"].fillna("").astype(str)
    return frame


def collect_runs(*, runs_dir: str | Path, metrics: Mapping[str, str] | None = None,
                 exclude: Sequence[Path] = ()) -> Collected:
    """Reads every run of a sweep.

    Args:
        runs_dir: the sweep folder (or a single run folder).
        metrics: target → metric to use where a target's rows carry several metrics; by
            default the first of :data:`METRIC_PREFERENCE` present (else alphabetical).
        exclude: folders whose results are not runs (e.g. an earlier analysis output inside
            the sweep).

    Returns:
        A :class:`Collected`; ``scores`` has ``n_runs × n_targets`` rows.

    Raises:
        DataError: the folder does not exist, holds no ``transfer.csv``, or holds only
            baseline rows.
    """
    runs_dir = Path(str(runs_dir)).expanduser()
    if not runs_dir.is_dir():
        raise DataError(f"runs={runs_dir}: no such folder; pass the sweep folder holding the run folders")
    paths = find_results(runs_dir=runs_dir, exclude=exclude)
    if not paths:
        raise DataError(
            f"runs={runs_dir}: no {RESULTS_FILE} in this folder or below it; every run folder of a sweep "
            f"holds one after training (or after python -m mtl_music.evaluate ckpt=<run folder>)"
        )
    notes: list[str] = []
    frames = []
    for path in paths:
        frame = read_results(path=path)
        frame.insert(0, "folder", path.parent.relative_to(runs_dir).as_posix() or ".")
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True)
    rows["strategy"] = rows["strategy"].map(normalize_strategy)
    # The paper's analysis reads each representation's own features on clean audio; rows of
    # single layers (evaluation.layer_mode=per_layer) and of deformed audio are for the
    # benchmark's compare app.
    from mtl_music.evaluation.results import DEFAULTS

    plain = (rows["layer"].fillna("") == DEFAULTS["layer"]) & (rows["condition"] == DEFAULTS["condition"])
    if not plain.all():
        notes.append(f"{int((~plain).sum())} result rows of single layers or deformed audio were left out "
                     "(python -m mtl_music.compare reads them).")
        rows = rows[plain]
    n_nan = int(rows["value"].isna().sum())
    if n_nan:
        notes.append(f"{n_nan} result rows with a NaN value were left out.")
        rows = rows[rows["value"].notna()]

    learned = rows[rows["strategy"].isin(STRATEGIES)]
    baseline_rows = rows[~rows["strategy"].isin(STRATEGIES)]
    if learned.empty:
        raise DataError(
            f"runs={runs_dir}: the {len(paths)} {RESULTS_FILE} file(s) found hold only baseline rows "
            f"(strategies {sorted(set(baseline_rows['strategy']))}); no run of a learned strategy "
            f"({', '.join(STRATEGIES)}) to analyse"
        )
    chosen = _choose_metrics(learned, metrics=metrics or {}, notes=notes)
    learned = learned.merge(chosen, on=["target", "metric"], how="inner")
    baseline_rows = baseline_rows.merge(chosen, on=["target", "metric"], how="inner")

    scores = (learned.groupby(["folder", "run", "strategy", "sources", "target", "metric"], sort=True)["value"]
              .agg(score="mean", n_repetitions="count").reset_index())
    scores = _with_run_ids(scores)
    sources = order_sources(sorted({s for text in scores["sources"] for s in split_sources(text)}))
    members = scores["sources"].map(lambda text: set(split_sources(text)))
    scores["n_sources"] = members.map(len).astype(int)
    for source in sources:
        scores[source] = members.map(lambda m, s=source: int(s in m))
    bad_ssr = scores[(scores["strategy"] == SINGLE_SOURCE_STRATEGY) & (scores["n_sources"] != 1)]
    if not bad_ssr.empty:
        raise DataError(f"runs={runs_dir}: SS-R rows with {sorted(set(bad_ssr['n_sources']))} sources "
                        f"(run {bad_ssr['run_id'].iloc[0]}); SS-R learns from exactly one source")
    _note_incomplete_runs(scores, notes)

    baselines = (baseline_rows.groupby(["folder", "strategy", "target", "metric"], sort=True)["value"]
                 .agg(score="mean", n_repetitions="count").reset_index().rename(columns={"strategy": "baseline"}))

    summaries = _read_summaries(runs_dir=runs_dir, folders=sorted(set(scores["folder"])), notes=notes)
    run_configs = [runs_dir / f / CONFIG_FILE for f in sorted(set(scores["folder"]))
                   if (runs_dir / f / CONFIG_FILE).is_file()]
    skipped = [p for p in runs_dir.rglob("SKIPPED.txt")]
    if skipped:
        notes.append(f"{len(skipped)} sweep job(s) were skipped at training time (SKIPPED.txt), e.g. "
                     f"{skipped[0].parent.relative_to(runs_dir).as_posix()}.")
    design = _read_design(runs_dir=runs_dir, scores=scores, notes=notes)
    if design is not None and "phase" in design.columns and "_run_key" in design.columns:
        phases = design.drop_duplicates("_run_key").set_index("_run_key")["phase"]
        phase = scores["run_id"].map(phases)
        for key in (scores["run"], scores["folder"], scores["folder"].map(lambda f: Path(f).name)):
            phase = phase.fillna(key.map(phases))
        scores["phase"] = phase
    alias = read_alias(path=runs_dir / ALIAS_FILE) if (runs_dir / ALIAS_FILE).is_file() else None
    return Collected(scores=scores, baselines=baselines, summaries=summaries, sources=sources, runs_dir=runs_dir,
                     design=design, alias=alias, run_configs=run_configs, notes=notes)


def _choose_metrics(learned: pd.DataFrame, *, metrics: Mapping[str, str], notes: list[str]) -> pd.DataFrame:
    """One metric per target: ``metrics[target]``, else the preferred one present."""
    rows = []
    for target, found in learned.groupby("target")["metric"]:
        available = sorted(set(found))
        if target in metrics:
            metric = str(metrics[target])
            if metric not in available:
                raise DataError(f"metrics.{target}={metric}: the results of {target} have metrics {available}")
        else:
            preferred = [m for m in METRIC_PREFERENCE if m in available]
            metric = preferred[0] if preferred else available[0]
            if len(available) > 1:
                notes.append(f"{target}: metrics {available} found; analysed {metric} "
                             f"(set metrics.{target}=... to choose).")
        rows.append({"target": target, "metric": metric})
    return pd.DataFrame(rows)


def _with_run_ids(scores: pd.DataFrame) -> pd.DataFrame:
    """``run_id``: the run name where it is unique across folders, else ``folder/run``."""
    pairs = scores[["folder", "run"]].drop_duplicates()
    ambiguous = set(pairs["run"][pairs["run"].duplicated(keep=False)])
    scores = scores.copy()
    scores.insert(0, "run_id", [f"{f}/{r}" if r in ambiguous else r for f, r in zip(scores["folder"], scores["run"])])
    return scores


def _note_incomplete_runs(scores: pd.DataFrame, notes: list[str]) -> None:
    targets = sorted(set(scores["target"]))
    per_run = scores.groupby("run_id")["target"].nunique()
    incomplete = per_run[per_run < len(targets)]
    if len(incomplete):
        notes.append(f"{len(incomplete)} run(s) lack results on some of the {len(targets)} targets "
                     f"(e.g. {incomplete.index[0]}); they enter the models on the targets they have.")


def _read_summaries(*, runs_dir: Path, folders: Sequence[str], notes: list[str]) -> pd.DataFrame:
    rows = []
    missing = 0
    for folder in folders:
        path = runs_dir / folder / SUMMARY_FILE
        if not path.is_file():
            missing += 1
            continue
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            notes.append(f"{path.relative_to(runs_dir)} unreadable ({err}); ignored.")
            continue
        sources = summary.get("sources") or {}
        rows.append({
            "folder": folder,
            "arch": normalize_strategy(summary.get("arch", "")),
            "representation_dim": summary.get("representation_dim"),
            "seconds": summary.get("seconds"),
            "k": {str(n): int(v["k"]) for n, v in sources.items() if isinstance(v, Mapping) and "k" in v},
        })
    if missing:
        notes.append(f"{missing} run folder(s) have no {SUMMARY_FILE} (training time and sizes unknown for them).")
    return pd.DataFrame(rows, columns=["folder", "arch", "representation_dim", "seconds", "k"])


def _read_design(*, runs_dir: Path, scores: pd.DataFrame, notes: list[str]) -> pd.DataFrame | None:
    """``design.csv`` if present; its id column (the first whose values name runs or run
    folders) becomes ``_run_key``. A design that matches no run is kept but not merged."""
    path = runs_dir / DESIGN_FILE
    if not path.is_file():
        return None
    try:
        design = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        notes.append(f"{DESIGN_FILE} unreadable ({err}); ignored.")
        return None
    names = set(scores["run_id"]) | set(scores["run"]) | set(scores["folder"])
    names |= {Path(f).name for f in scores["folder"]}
    for column in design.columns:
        values = design[column].astype(str)
        if values.isin(names).any():
            design["_run_key"] = values
            matched = int(values.isin(names).sum())
            if matched < len(design):
                notes.append(f"{DESIGN_FILE}: {len(design) - matched} of {len(design)} design rows have no "
                             f"results yet.")
            return design
    notes.append(f"{DESIGN_FILE} found, but none of its columns names the run folders; its phases are not used.")
    return design


def read_alias(*, path: Path) -> pd.DataFrame:
    """An alias matrix CSV: first column = row factor names, header = column factor names."""
    try:
        alias = pd.read_csv(path, index_col=0)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: not a readable alias matrix csv ({err})") from err
    if alias.empty or not all(pd.api.types.is_numeric_dtype(t) for t in alias.dtypes):
        raise DataError(f"{path}: an alias matrix csv holds numbers only, with factor names in the first "
                        f"column and the header")
    return alias


# ---------------------------------------------------------------------------- other inputs

def parameter_counts(*, sources: Sequence[str], k: Mapping[str, int] | int = 50, trunk="vgg",
                     strategies: Sequence[str] = STRATEGIES) -> pd.DataFrame:
    """Number of network parameters by number of sources per strategy (paper Fig. 15).

    For ``n = 1 … len(sources)`` the networks learn the first ``n`` of ``sources``; SS-R only at
    ``n = 1``, the multi-source strategies from ``n = 2``. Networks are built on the ``meta``
    device (:mod:`mtl_music.models.size`), so nothing is allocated.

    Args:
        sources: source names, in the order they are added.
        k: outputs per source (a mapping, missing names get 50; or one number for all).
        trunk: a ``conf/trunk`` option name or a trunk config node (e.g. from a run's
            ``config.yaml``).

    Returns:
        Frame with columns ``strategy, n_sources, n_params`` (rows the trunk cannot build,
        e.g. ``ms_cr@2`` on the musically motivated trunk, are left out).
    """
    from mtl_music.config import load_option
    from mtl_music.errors import ConfigError
    from mtl_music.models.size import count_network

    trunk_cfg = load_option("trunk", trunk) if isinstance(trunk, str) else trunk
    sizes = {s: (int(k) if isinstance(k, (int, np.integer)) else int(k.get(s, 50))) for s in sources}
    rows = []
    for strategy in strategies:
        arch = load_option("arch", strategy)
        n_values = [1] if strategy == SINGLE_SOURCE_STRATEGY else range(2, len(sources) + 1)
        for n in n_values:
            chosen = {s: sizes[s] for s in list(sources)[:n]}
            try:
                n_params = count_network(arch=arch, trunk=trunk_cfg, sources=chosen)
            except ConfigError:
                continue
            rows.append({"strategy": strategy, "n_sources": n, "n_params": n_params})
    return pd.DataFrame(rows, columns=["strategy", "n_sources", "n_params"])


def load_features(*, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A feature-cache file ``<data_root>/targets/<target>/features/<digest>.npz``.

    Returns:
        ``(track_ids (n,) str, features (n, D) float32)``.
    """
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such feature file (the evaluation writes "
                        f"<data_root>/targets/<target>/features/<digest>.npz)")
    try:
        with np.load(path) as data:
            return np.asarray(data["track_ids"]).astype(str), np.asarray(data["features"], dtype=np.float32)
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"{path}: not a feature-cache file with track_ids and features ({err})") from err
