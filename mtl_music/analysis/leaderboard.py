"""Representations side by side (the ``compare`` app): many ``transfer.csv`` files → one summary,
a leaderboard and a robustness table.

* :func:`find_inputs` / :func:`read_inputs` — files and folders → one frame of result rows
  (:data:`mtl_music.evaluation.results.COLUMNS`), rows merged by key, the last file winning;
* :func:`summarize` — per representation (run, strategy, sources, layer) × target × condition ×
  metric: ``n, mean, std`` and a Student-t confidence interval over repetitions;
* :func:`leaderboard` — rows = representations, columns = ``target/metric`` on clean audio,
  cells ``mean ± half-CI``, the best per column marked (:func:`leaderboard_markdown`);
* :func:`robustness` — every deformed condition's score and its drop from clean.

Every metric the evaluation writes (accuracy, r2, ndcg@500, roc_auc, pr_auc) is better when
higher, so "best" is the highest mean.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.results import CLEAN, COLUMNS, GROUP, ResultsTable

#: What identifies a representation (one leaderboard row).
REPRESENTATION = ("run", "strategy", "sources", "layer")
#: The row orders of :func:`leaderboard`: by the mean over its columns (best first), or as the
#: ``include`` patterns (then the input files) give them.
ORDERS = ("mean", "given")
#: The columns of :func:`summarize`'s frame (``compare.csv``).
SUMMARY_COLUMNS = ("label", *GROUP, "n", "mean", "std", "ci_low", "ci_high", "half_ci")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def find_inputs(*, paths: Sequence[str | Path]) -> list[Path]:
    """The results files named by ``paths``: a file as given, a folder as every ``transfer.csv``
    below it (any depth, hidden folders such as ``.hydra`` skipped, sorted). Order is kept (later
    files win in :func:`read_inputs`); a file named twice counts once, at its last place.

    Raises:
        DataError: a path does not exist, or a folder holds no ``transfer.csv``.
    """
    from mtl_music.analysis.collect import find_results
    from mtl_music.runs import RESULTS_FILE

    found: list[Path] = []
    for given in paths:
        path = Path(str(given)).expanduser()
        if path.is_dir():
            files = find_results(runs_dir=path)
            if not files:
                raise DataError(f"results={path}: no {RESULTS_FILE} below this folder (hidden folders skipped); "
                                "name the evaluation's output folder or the csv file itself")
        elif path.is_file():
            files = [path]
        else:
            raise DataError(f"results={path}: no such file or folder; pass results=[<transfer.csv or folder>, ...]")
        for file in files:
            if file.resolve() in {f.resolve() for f in found}:
                found = [f for f in found if f.resolve() != file.resolve()]
            found.append(file)
    return found


def read_inputs(*, paths: Sequence[Path]) -> tuple[pd.DataFrame, list[str]]:
    """Reads and merges results files: ``(rows, notes)``.

    ``rows`` has :data:`~mtl_music.evaluation.results.COLUMNS` (``sources``/``layer`` strings,
    ``""`` when empty) in first-seen order; a key (every column but ``value``) present in several
    files takes the last file's value, and ``notes`` says which files replaced how many rows.

    Raises:
        DataError: a file is not a results table (naming it), or no file holds a row.
    """
    merged = ResultsTable()
    seen: set[tuple] = set()
    notes: list[str] = []
    for path in paths:
        table = ResultsTable.from_csv(path)
        keys = {tuple(row[c] for c in COLUMNS[:-1]) for row in table.rows()}
        replaced = len(keys & seen)
        if replaced:
            notes.append(f"{path}: {replaced} row(s) with the key of an earlier file's row (same representation, "
                         "target, condition, repetition and metric) replace it (the last file wins).")
        seen |= keys
        merged.merge(table)
    if not len(merged):
        raise DataError(f"no result rows in {', '.join(str(p) for p in paths) or 'the inputs'}; "
                        "run mtl_music.evaluate (or train with a target) first")
    frame = merged.to_frame()
    for column in ("sources", "layer"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame, notes


def representation_label(*, run: str, layer: str) -> str:
    """``run`` for the representation itself, ``run@layer`` for one of its layers."""
    return f"{run}@{layer}" if layer else str(run)


def summarize(*, rows: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One line per :data:`~mtl_music.evaluation.results.GROUP` (representation × target ×
    condition × metric) over repetitions, with :data:`SUMMARY_COLUMNS`.

    ``std`` is the sample standard deviation (ddof=1); ``ci_low``/``ci_high`` the Student-t
    interval ``mean ± t_{(1+confidence)/2, n-1} · std/√n`` and ``half_ci`` its half-width. With
    ``n = 1`` there is no spread: ``std``, ``ci_*`` and ``half_ci`` are NaN (empty in csv).
    ``label`` is :func:`representation_label`, made unique with ``[strategy sources]`` where two
    representations share one. Lines keep the rows' first-seen order of representations.

    Args:
        rows: ``(N, 9)`` frame with :data:`~mtl_music.evaluation.results.COLUMNS`.
        confidence: the interval's coverage, in (0, 1).
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ConfigError(f"confidence={confidence} must lie in (0, 1), e.g. confidence=0.95")
    table = ResultsTable(rows.to_dict("records"))
    lines = pd.DataFrame(table.summary_rows())
    single = lines["n"] < 2
    lines.loc[single, "std"] = np.nan
    t = stats.t.ppf((1 + confidence) / 2, np.maximum(lines["n"] - 1, 1))
    lines["half_ci"] = np.where(single, np.nan, t * lines["std"] / np.sqrt(lines["n"]))
    lines["ci_low"] = lines["mean"] - lines["half_ci"]
    lines["ci_high"] = lines["mean"] + lines["half_ci"]
    order = list(dict.fromkeys(tuple(r) for r in rows[list(REPRESENTATION)].itertuples(index=False)))
    labels = _labels(order)
    keys = [tuple(r) for r in lines[list(REPRESENTATION)].itertuples(index=False)]
    lines["label"] = [labels[k] for k in keys]
    lines["_order"] = [order.index(k) for k in keys]
    lines = lines.sort_values(["_order", "target", "condition", "metric"], kind="stable").drop(columns="_order")
    return lines[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def _labels(representations: Sequence[tuple]) -> dict[tuple, str]:
    plain = {rep: representation_label(run=rep[0], layer=rep[3]) for rep in representations}
    counts = pd.Series(list(plain.values())).value_counts()
    return {rep: (label if counts[label] == 1 else f"{label} [{' '.join(p for p in rep[1:3] if p)}]")
            for rep, label in plain.items()}


def choose_metrics(*, summary: pd.DataFrame, metrics: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """``{target: [metric, ...]}`` shown per target: every metric it has (sorted), or the one
    ``metrics`` names for it.

    Raises:
        ConfigError: ``metrics`` names a target that has no rows, or a metric the target lacks
            (the message lists the available ones).
    """
    available = {t: sorted(part["metric"].unique()) for t, part in summary.groupby("target", sort=True)}
    chosen = {t: list(m) for t, m in available.items()}
    for target, metric in (metrics or {}).items():
        if target not in available:
            raise ConfigError(f"metrics.{target}={metric}: no results for target {target!r}; "
                              f"targets with results: {', '.join(available)}")
        if metric not in available[target]:
            raise ConfigError(f"metrics.{target}={metric}: target {target} has no metric {metric!r}; "
                              f"available: {', '.join(available[target])} (e.g. metrics.{target}="
                              f"{available[target][0]})")
        chosen[target] = [str(metric)]
    return chosen


def select_representations(*, summary: pd.DataFrame, include: Sequence[str] | None = None) -> list[str]:
    """The labels kept by ``include`` (glob patterns matched against the label and the run), in
    the patterns' order (then first-seen order within a pattern); every label when empty.

    Raises:
        ConfigError: a pattern matches no representation (the message lists them).
    """
    labels = list(dict.fromkeys(summary["label"]))
    if not include:
        return labels
    runs = dict(zip(summary["label"], summary["run"]))
    kept: list[str] = []
    for pattern in include:
        matched = [l for l in labels if fnmatch.fnmatchcase(l, str(pattern)) or fnmatch.fnmatchcase(runs[l], str(pattern))]
        if not matched:
            raise ConfigError(f"include: {pattern!r} matches no representation; representations: {', '.join(labels)}")
        kept += [l for l in matched if l not in kept]
    return kept


@dataclass
class Leaderboard:
    """The clean-condition leaderboard: ``mean``/``half_ci``/``n`` frames (labels × ``target/metric``
    columns, NaN where a representation has no result) and ``best`` (column → the best labels)."""

    mean: pd.DataFrame
    half_ci: pd.DataFrame
    n: pd.DataFrame
    best: dict[str, list[str]] = field(default_factory=dict)


def leaderboard(*, summary: pd.DataFrame, metrics: Mapping[str, str] | None = None,
                include: Sequence[str] | None = None, order: str = "mean") -> Leaderboard:
    """Rows = representations (labels), columns = ``target/metric`` (clean audio).

    Args:
        summary: :func:`summarize`'s frame.
        metrics: ``{target: metric}`` to show one metric of a target (default: every metric).
        include: glob patterns of the representations shown (default: all); see
            :func:`select_representations`.
        order: ``mean`` — by the mean of the row's cells, best first, rows missing a column after
            the complete ones (by their number of missing cells, then by the mean of the others); ``given`` — the ``include`` order, else the input order.

    Raises:
        ConfigError: an unknown ``order``, metric or pattern. DataError: no clean rows.
    """
    if order not in ORDERS:
        raise ConfigError(f"order={order}: choose one of {', '.join(ORDERS)}")
    clean = summary[summary["condition"] == CLEAN]
    if clean.empty:
        raise DataError("no clean-condition rows: the leaderboard compares scores on clean audio; "
                        f"conditions present: {', '.join(sorted(summary['condition'].unique()))}")
    chosen = choose_metrics(summary=clean, metrics=metrics)
    labels = select_representations(summary=clean, include=include)
    columns = [f"{t}/{m}" for t, ms in chosen.items() for m in ms]
    clean = clean.assign(column=clean["target"] + "/" + clean["metric"])
    clean = clean[clean["column"].isin(columns) & clean["label"].isin(labels)]
    frames = {name: clean.pivot(index="label", columns="column", values=name).reindex(index=labels, columns=columns)
              for name in ("mean", "half_ci", "n")}
    if order == "mean":
        # Complete rows first: a mean over fewer columns is not comparable with one over all.
        ranks = pd.DataFrame({"missing": frames["mean"].isna().sum(axis=1),
                              "mean": -frames["mean"].mean(axis=1, skipna=True)})
        ranked = ranks.sort_values(["missing", "mean"], kind="stable", na_position="last").index
        frames = {name: frame.loc[ranked] for name, frame in frames.items()}
    best = {}
    for column in columns:
        values = frames["mean"][column]
        best[column] = [] if values.isna().all() else list(values.index[values == values.max()])
    return Leaderboard(mean=frames["mean"], half_ci=frames["half_ci"], n=frames["n"], best=best)


def format_cell(*, mean: float, half_ci: float, n: float, digits: int = 3) -> str:
    """``0.812 ± 0.013``; ``0.812 (n=1)`` without an interval; ``–`` without a result."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if half_ci is None or math.isnan(float(half_ci)):
        return f"{mean:.{digits}f} (n={int(n)})"
    return f"{mean:.{digits}f} ± {half_ci:.{digits}f}"


def leaderboard_markdown(*, board: Leaderboard, digits: int = 3) -> str:
    """The leaderboard as a markdown table, the best cell of each column in bold."""
    columns = list(board.mean.columns)
    lines = ["| representation | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for label in board.mean.index:
        cells = []
        for column in columns:
            text = format_cell(mean=board.mean.at[label, column], half_ci=board.half_ci.at[label, column],
                               n=board.n.at[label, column], digits=digits)
            cells.append(f"**{text}**" if label in board.best[column] else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_condition(condition: str) -> tuple[str, str, float]:
    """``noise:snr=10`` → ``("noise", "snr=10", 10.0)``: the deformation kind, its strength as
    written and the strength's number (the last number in it; NaN when there is none, e.g.
    ``codec:vorbis``)."""
    kind, _, strength = str(condition).partition(":")
    if not strength:
        kind, _, strength = kind.partition("=")
    numbers = _NUMBER.findall(strength)
    return kind, strength, float(numbers[-1]) if numbers else math.nan


def robustness(*, summary: pd.DataFrame, metrics: Mapping[str, str] | None = None,
               include: Sequence[str] | None = None) -> pd.DataFrame:
    """Every deformed condition's score next to the clean one: columns ``label, run, strategy,
    sources, layer, target, metric, condition, kind, strength, strength_value, n, mean, half_ci,
    clean, drop, relative_drop`` (``drop = clean − mean``, ``relative_drop = drop / |clean|``, NaN
    when the clean score is 0 or missing). Empty (with those columns) without deformed rows.
    ``metrics``/``include`` select as in :func:`leaderboard`."""
    columns = ["label", *REPRESENTATION, "target", "metric", "condition", "kind", "strength", "strength_value",
               "n", "mean", "half_ci", "clean", "drop", "relative_drop"]
    deformed = summary[summary["condition"] != CLEAN]
    if deformed.empty:
        return pd.DataFrame(columns=columns)
    chosen = choose_metrics(summary=summary, metrics=metrics)
    labels = select_representations(summary=summary, include=include)
    shown = np.array([m in chosen.get(t, []) for t, m in zip(deformed["target"], deformed["metric"])], dtype=bool)
    keep = deformed["label"].isin(labels).to_numpy() & shown
    deformed = deformed[keep].copy()
    key = ["label", "target", "metric"]
    clean = summary[summary["condition"] == CLEAN].set_index(key)["mean"].rename("clean")
    deformed = deformed.join(clean, on=key)
    parsed = [parse_condition(c) for c in deformed["condition"]]
    deformed["kind"] = [p[0] for p in parsed]
    deformed["strength"] = [p[1] for p in parsed]
    deformed["strength_value"] = [p[2] for p in parsed]
    deformed["drop"] = deformed["clean"] - deformed["mean"]
    deformed["relative_drop"] = deformed["drop"] / deformed["clean"].abs().replace(0, np.nan)
    order = {label: i for i, label in enumerate(labels)}
    deformed = deformed.assign(_o=deformed["label"].map(order)).sort_values(
        ["_o", "target", "metric", "kind", "strength_value", "strength"], kind="stable")
    return deformed[columns].reset_index(drop=True)


def robustness_markdown(*, table: pd.DataFrame, digits: int = 3) -> str:
    """:func:`robustness`'s table in markdown (score, absolute and relative drop)."""
    lines = ["| representation | target/metric | deformation | score | clean | drop | relative drop |",
             "|---|---|---|---:|---:|---:|---:|"]
    for row in table.itertuples(index=False):
        score = format_cell(mean=row.mean, half_ci=row.half_ci, n=row.n, digits=digits)
        clean = "–" if pd.isna(row.clean) else f"{row.clean:.{digits}f}"
        drop = "–" if pd.isna(row.drop) else f"{row.drop:+.{digits}f}"
        relative = "–" if pd.isna(row.relative_drop) else f"{100 * row.relative_drop:+.1f} %"
        lines.append(f"| {row.label} | {row.target}/{row.metric} | {row.condition} | {score} | {clean} | {drop} "
                     f"| {relative} |")
    return "\n".join(lines)


__all__ = [
    "ORDERS", "REPRESENTATION", "SUMMARY_COLUMNS", "Leaderboard", "choose_metrics", "find_inputs", "format_cell",
    "leaderboard", "leaderboard_markdown", "parse_condition", "read_inputs", "representation_label", "robustness",
    "robustness_markdown", "select_representations", "summarize",
]
