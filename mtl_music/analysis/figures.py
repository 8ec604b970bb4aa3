"""The paper's figures (Figs. 7–16) as PNG files, from frames and arrays, and the compare app's
leaderboard bars and robustness curves.

Every function takes its data and a ``path``, writes one PNG and returns the path. Figures are
drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas — never through
``pyplot`` — so nothing global (backend, open-figure registry) is touched and the functions
are safe in a headless process or next to a user's own plotting.

Inputs are the frames of :mod:`mtl_music.analysis.collect` and :mod:`mtl_music.analysis.mixed_models` / :mod:`~mtl_music.analysis.summaries`:
``scores`` (one row per run and target: ``strategy, sources, n_sources, target, score``),
``data`` (the same with ``y_std``), ``baselines`` (``baseline, target, score``), fixed-effect
tables (``label, estimate, ci_low, ci_high``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mtl_music.analysis.collect import order_sources
from mtl_music.errors import DataError
from mtl_music.paper import STRATEGIES, STRATEGY_LABELS

#: One colour per strategy, fixed so that every figure agrees (SS-R grey as in Fig. 9).
STRATEGY_COLOURS: dict[str, str] = {"ss_r": "#7f7f7f", "ms_sr@fc": "#1f77b4", "ms_cr@6": "#2ca02c",
                                    "ms_cr@4": "#ff7f0e", "ms_cr@2": "#d62728", "mss_cr": "#9467bd"}
BASELINE_STYLES: dict[str, str] = {"rand": ":", "mfcc": "--"}
DPI = 120


def _figure(*, panels: int = 1, panel_size: tuple[float, float] = (3.4, 2.8), max_columns: int = 4
            ) -> tuple[Figure, list]:
    """A figure with ``panels`` axes in a grid (extra grid cells hidden)."""
    columns = max(1, min(max_columns, panels))
    rows = math.ceil(panels / columns)
    figure = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(panels)]
    return figure, axes


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, format="png")
    return path


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{what}: the frame lacks columns {missing} (has {list(frame.columns)})")
    if frame.empty:
        raise DataError(f"{what}: nothing to plot (empty frame)")


def _strategies_in(frame: pd.DataFrame) -> list[str]:
    return [s for s in STRATEGIES if (frame["strategy"] == s).any()]


def _baseline_lines(axis, baselines: pd.DataFrame | None, target: str) -> None:
    if baselines is None or baselines.empty:
        return
    for name, part in baselines[baselines["target"] == target].groupby("baseline"):
        axis.axhline(part["score"].mean(), color="black", linestyle=BASELINE_STYLES.get(name, "-."), linewidth=1,
                     label=name)


# ---------------------------------------------------------------------------- Fig. 7

def alias_matrix(*, alias: pd.DataFrame, path: str | Path, title: str = "Aliasing among main effects") -> Path:
    """Fig. 7: a heat map of the absolute alias matrix (factors × factors).

    Args:
        alias: square (or rectangular) frame of numbers, factor names as index and columns.
    """
    if alias.empty:
        raise DataError(f"{title}: the alias matrix is empty")
    values = np.abs(alias.to_numpy(dtype=float))
    figure, (axis,) = _figure(panel_size=(0.45 * values.shape[1] + 2.5, 0.45 * values.shape[0] + 1.5))
    image = axis.imshow(values, cmap="viridis", vmin=0, vmax=max(1.0, float(np.nanmax(values))))
    axis.set_xticks(range(values.shape[1]), [str(c) for c in alias.columns], rotation=90)
    axis.set_yticks(range(values.shape[0]), [str(i) for i in alias.index])
    if values.size <= 400:  # numbers stay legible up to 20 × 20
        for (i, j), v in np.ndenumerate(values):
            axis.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.5 else "black")
    figure.colorbar(image, ax=axis, label="|alias|")
    axis.set_title(title)
    return _save(figure, path)


# ---------------------------------------------------------------------------- Figs. 8–10

def single_source_performance(*, scores: pd.DataFrame, baselines: pd.DataFrame | None, path: str | Path) -> Path:
    """Fig. 8: SS-R score per learning source, one panel per target; small points are runs,
    large points the mean per source, horizontal lines the baselines (raw metric scale)."""
    _require(scores, ["strategy", "sources", "target", "score"], "Fig. 8")
    ssr = scores[scores["strategy"] == "ss_r"]
    if ssr.empty:
        raise DataError("Fig. 8: no SS-R runs")
    targets = sorted(set(ssr["target"]))
    sources = order_sources(sorted(set(ssr["sources"])))
    figure, axes = _figure(panels=len(targets))
    rng = np.random.default_rng(0)  # jitter only
    for axis, target in zip(axes, targets):
        part = ssr[ssr["target"] == target]
        for x, source in enumerate(sources):
            values = part.loc[part["sources"] == source, "score"].to_numpy()
            if len(values):
                axis.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=8, color="#7f7f7f", alpha=0.6)
                axis.scatter([x], [values.mean()], s=40, color="black", zorder=3)
        _baseline_lines(axis, baselines, target)
        axis.set_xticks(range(len(sources)), sources, rotation=60, fontsize=7)
        metric = part["metric"].iloc[0] if "metric" in part.columns else "score"
        axis.set_title(target, fontsize=9)
        axis.set_ylabel(metric, fontsize=8)
        if baselines is not None and not baselines.empty and (baselines["target"] == target).any():
            axis.legend(fontsize=6, loc="best")
    figure.suptitle("Single-source representations (SS-R) per learning source")
    return _save(figure, path)


def strategy_performance(*, scores: pd.DataFrame, path: str | Path, baselines: pd.DataFrame | None = None) -> Path:
    """Fig. 9: box plots of the scores per strategy, one panel per target (SS-R in grey)."""
    _require(scores, ["strategy", "target", "score"], "Fig. 9")
    targets = sorted(set(scores["target"]))
    strategies = _strategies_in(scores)
    figure, axes = _figure(panels=len(targets))
    for axis, target in zip(axes, targets):
        part = scores[scores["target"] == target]
        groups = [part.loc[part["strategy"] == s, "score"].to_numpy() for s in strategies]
        boxes = axis.boxplot(groups, patch_artist=True, widths=0.6, showfliers=True)
        for patch, strategy in zip(boxes["boxes"], strategies):
            patch.set_facecolor(STRATEGY_COLOURS[strategy])
            patch.set_alpha(0.7)
        _baseline_lines(axis, baselines, target)
        axis.set_xticks(range(1, len(strategies) + 1), [STRATEGY_LABELS[s] for s in strategies], rotation=60,
                        fontsize=7)
        axis.set_title(target, fontsize=9)
        axis.set_ylabel(part["metric"].iloc[0] if "metric" in part.columns else "score", fontsize=8)
    figure.suptitle("Performance per representation strategy")
    return _save(figure, path)


def performance_by_sources(*, data: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 10: standardised score by number of sources, one panel per target; points are runs,
    large points the mean per (strategy, n), lines least-squares fits per strategy, the black
    line the SS-R mean."""
    _require(data, ["strategy", "n_sources", "target", "y_std"], "Fig. 10")
    targets = sorted(set(data["target"]))
    strategies = _strategies_in(data)
    figure, axes = _figure(panels=len(targets))
    for axis, target in zip(axes, targets):
        part = data[data["target"] == target]
        for offset, strategy in enumerate(strategies):
            rows = part[part["strategy"] == strategy]
            if rows.empty:
                continue
            colour = STRATEGY_COLOURS[strategy]
            shift = (offset - len(strategies) / 2) * 0.05  # keep strategies apart at equal n
            axis.scatter(rows["n_sources"] + shift, rows["y_std"], s=6, color=colour, alpha=0.35)
            means = rows.groupby("n_sources")["y_std"].mean()
            axis.scatter(means.index + shift, means.to_numpy(), s=22, color=colour, label=STRATEGY_LABELS[strategy],
                         zorder=3)
            if strategy != "ss_r" and rows["n_sources"].nunique() > 1:
                slope, intercept = np.polyfit(rows["n_sources"], rows["y_std"], 1)
                n = np.array([rows["n_sources"].min(), rows["n_sources"].max()])
                axis.plot(n, intercept + slope * n, color=colour, linewidth=1.2)
        if (part["strategy"] == "ss_r").any():
            axis.axhline(part.loc[part["strategy"] == "ss_r", "y_std"].mean(), color="black", linewidth=1)
        axis.set_title(target, fontsize=9)
        axis.set_xlabel("number of sources", fontsize=8)
        axis.set_ylabel("standardised score", fontsize=8)
    axes[0].legend(fontsize=6, loc="best")
    figure.suptitle("Standardised performance by number of learning sources")
    return _save(figure, path)


# ---------------------------------------------------------------------------- Figs. 11–12

def _effect_panel(axis, table: pd.DataFrame, title: str) -> None:
    y = np.arange(len(table))[::-1]
    strategies = table["strategy"] if "strategy" in table.columns else pd.Series([""] * len(table))
    for yi, row, strategy in zip(y, table.itertuples(index=False), strategies):
        colour = STRATEGY_COLOURS.get(strategy, "black")
        # Interval drawn from its ends: a percentile interval need not contain the estimate.
        axis.hlines(yi, row.ci_low, row.ci_high, color=colour, linewidth=1.5)
        axis.plot([row.estimate], [yi], "o", color=colour)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_yticks(y, table["label"].tolist(), fontsize=8)
    axis.set_title(title, fontsize=9)
    axis.set_xlabel("estimate (standardised), bootstrap 95 % CI", fontsize=8)


def strategy_effects(*, table: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 11: model 1 fixed effects — strategy intercepts (left) and n* slopes (right) with
    their intervals. ``table``: :func:`mtl_music.analysis.summaries.fixed_effects_table` of model 1."""
    _require(table, ["term", "label", "estimate", "ci_low", "ci_high"], "Fig. 11")
    intercepts = table[table["term"].str.startswith("i_")]
    slopes = table[table["term"].str.startswith("n_")]
    parts = [(intercepts, "strategy intercepts β0r"), (slopes, "number-of-sources slopes β1r")]
    parts = [(t, title) for t, title in parts if not t.empty]
    figure, axes = _figure(panels=len(parts), panel_size=(4.0, 3.0))
    for axis, (part, title) in zip(axes, parts):
        _effect_panel(axis, part, title)
    figure.suptitle("Model 1 (Eq. 10–12): fixed effects")
    return _save(figure, path)


def size_effects(*, table: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 12: model 2 fixed effects (β0, β10, β20, β30) with their intervals."""
    _require(table, ["label", "estimate", "ci_low", "ci_high"], "Fig. 12")
    figure, (axis,) = _figure(panel_size=(4.5, 2.8))
    _effect_panel(axis, table, "network size r*, number of sources n*")
    figure.suptitle("Model 2 (Eq. 13–16): fixed effects")
    return _save(figure, path)


# ---------------------------------------------------------------------------- Table 6 / Fig. 14

def variance_components_heatmap(*, components: pd.DataFrame, path: str | Path) -> Path:
    """Table 6 as a heat map: percent of the sources' variance, sources × targets."""
    _require(components, ["target", "source", "percent"], "Table 6")
    wide = components.pivot(index="source", columns="target", values="percent")
    wide = wide.reindex(order_sources(list(wide.index)))
    figure, (axis,) = _figure(panel_size=(0.8 * wide.shape[1] + 2.5, 0.4 * wide.shape[0] + 1.5))
    image = axis.imshow(wide.to_numpy(dtype=float), cmap="magma_r", vmin=0, vmax=100)
    axis.set_xticks(range(wide.shape[1]), list(wide.columns), rotation=45, fontsize=8)
    axis.set_yticks(range(wide.shape[0]), list(wide.index), fontsize=8)
    for (i, j), v in np.ndenumerate(wide.to_numpy(dtype=float)):
        axis.text(j, i, "–" if np.isnan(v) else ("<1" if v < 1 else f"{v:.0f}"), ha="center", va="center",
                  fontsize=7, color="white" if (not np.isnan(v) and v > 50) else "black")
    figure.colorbar(image, ax=axis, label="% of sources' variance")
    axis.set_title("Variance components per source and target (non-SS-R runs)", fontsize=9)
    return _save(figure, path)


def variance_vs_single_source(*, pairs: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 14: variance component (percent) against the source's standardised SS-R performance,
    one point per (source, target). ``pairs``: columns ``source, target, ssr_mean_std, percent``."""
    _require(pairs, ["source", "target", "ssr_mean_std", "percent"], "Fig. 14")
    figure, (axis,) = _figure(panel_size=(4.5, 3.5))
    sources = order_sources(sorted(set(pairs["source"])))
    colours = {s: f"C{i % 10}" for i, s in enumerate(sources)}
    for source in sources:
        part = pairs[pairs["source"] == source]
        axis.scatter(part["ssr_mean_std"], part["percent"], color=colours[source], label=source, s=20)
    axis.set_xlabel("standardised SS-R performance", fontsize=8)
    axis.set_ylabel("variance component (%)", fontsize=8)
    axis.legend(fontsize=6, loc="best")
    axis.set_title("Variance component vs single-source performance", fontsize=9)
    return _save(figure, path)


# ---------------------------------------------------------------------------- Fig. 15

def parameters_by_sources(*, counts: pd.DataFrame, path: str | Path) -> Path:
    """Fig. 15: number of network parameters by number of sources, one line per strategy.
    ``counts``: columns ``strategy, n_sources, n_params`` (e.g.
    :func:`mtl_music.analysis.collect.parameter_counts`)."""
    _require(counts, ["strategy", "n_sources", "n_params"], "Fig. 15")
    figure, (axis,) = _figure(panel_size=(4.5, 3.5))
    for strategy in _strategies_in(counts):
        part = counts[counts["strategy"] == strategy].groupby("n_sources")["n_params"].mean()
        axis.plot(part.index, part.to_numpy(), marker="o", color=STRATEGY_COLOURS[strategy],
                  label=STRATEGY_LABELS[strategy])
    axis.set_yscale("log")
    axis.set_xlabel("number of sources", fontsize=8)
    axis.set_ylabel("network parameters", fontsize=8)
    axis.legend(fontsize=7, loc="best")
    axis.set_title("Network parameters by number of sources", fontsize=9)
    return _save(figure, path)


# ---------------------------------------------------------------------------- Fig. 16

def tsne_embedding(*, features: np.ndarray, labels: Sequence, path: str | Path, perplexity: float = 30.0,
                   seed: int = 0, title: str = "t-SNE of the representation") -> Path:
    """Fig. 16 (without the topic overlays): a 2-D t-SNE of one target's track features,
    coloured by class.

    Args:
        features: ``(n, D)`` track features (e.g. a feature-cache ``.npz``'s ``features``).
        labels: ``(n,)`` class of each track.
        perplexity: t-SNE perplexity; lowered to ``(n − 1) / 3`` for small n.

    Features are z-scored per dimension and reduced to 50 principal components before t-SNE
    (the usual recipe; it also keeps t-SNE fast for d·m-dimensional concatenations).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray([str(x) for x in labels])
    if features.ndim != 2 or len(features) != len(labels):
        raise DataError(f"t-SNE: features {features.shape} and labels ({len(labels)},) do not match")
    if len(features) < 5:
        raise DataError(f"t-SNE: {len(features)} tracks are too few to embed (need 5 or more)")
    if not np.all(np.isfinite(features)):
        raise DataError("t-SNE: features contain NaN or inf")
    reduced = StandardScaler().fit_transform(features)
    if reduced.shape[1] > 50:
        reduced = PCA(n_components=min(50, len(reduced)), random_state=seed).fit_transform(reduced)
    perplexity = float(min(perplexity, max(1.0, (len(reduced) - 1) / 3)))
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    figure, (axis,) = _figure(panel_size=(5.5, 4.5))
    classes = sorted(set(labels))
    for i, name in enumerate(classes):
        chosen = labels == name
        axis.scatter(points[chosen, 0], points[chosen, 1], s=8, color=f"C{i % 10}", label=name, alpha=0.8)
    if len(classes) <= 20:
        axis.legend(fontsize=6, markerscale=2, loc="best")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title, fontsize=9)
    return _save(figure, path)


# ---------------------------------------------------------------------------- compare app

def representation_bars(*, mean: pd.DataFrame, half_ci: pd.DataFrame, path: str | Path,
                        best: dict[str, list[str]] | None = None) -> Path:
    """The compare app's leaderboard figure: one panel per column (``target/metric``), horizontal
    bars of each representation's mean with its confidence-interval whiskers (none where n = 1),
    the best bar(s) dark. Writes ``path`` (PNG) and the same figure as ``path`` with ``.pdf``.

    Args:
        mean, half_ci: ``(R, C)`` frames, representation labels × columns (NaN: no result).
        best: column → labels drawn as best.
    """
    if mean.empty or mean.isna().all().all():
        raise DataError("representation bars: nothing to plot (no clean results)")
    labels = list(mean.index)
    figure, axes = _figure(panels=len(mean.columns), panel_size=(3.4, 0.9 + 0.28 * len(labels)), max_columns=3)
    positions = np.arange(len(labels))[::-1]  # the first row on top, as in the table
    for axis, column in zip(axes, mean.columns):
        values = mean[column].to_numpy(dtype=float)
        errors = np.nan_to_num(half_ci[column].to_numpy(dtype=float), nan=0.0)
        marked = set((best or {}).get(column, []))
        colours = ["#1f4e79" if label in marked else "#9dc3e6" for label in labels]
        axis.barh(positions, np.nan_to_num(values, nan=0.0), xerr=errors, color=colours,
                  error_kw={"elinewidth": 1, "capsize": 2})
        axis.set_yticks(positions, labels, fontsize=7)
        axis.set_title(column, fontsize=9)
        axis.tick_params(axis="x", labelsize=7)
        axis.grid(axis="x", alpha=0.3)
    out = _save(figure, path)
    figure.savefig(out.with_suffix(".pdf"), format="pdf")
    return out


def robustness_curves(*, table: pd.DataFrame, path: str | Path) -> Path:
    """Score against deformation strength: one panel per deformation kind × ``target/metric``, one
    line per representation (with CI whiskers). Strengths without a number are placed in their
    order of appearance.

    Args:
        table: :func:`mtl_music.analysis.leaderboard.robustness`'s frame.
    """
    _require(table, ["label", "target", "metric", "kind", "strength", "strength_value", "mean", "half_ci"],
             "robustness curves")
    table = table.assign(column=table["target"] + "/" + table["metric"])
    panels = list(dict.fromkeys(zip(table["kind"], table["column"])))
    figure, axes = _figure(panels=len(panels), max_columns=3)
    labels = list(dict.fromkeys(table["label"]))
    for axis, (kind, column) in zip(axes, panels):
        part = table[(table["kind"] == kind) & (table["column"] == column)]
        numeric = part["strength_value"].notna().all()
        ticks = list(dict.fromkeys(part["strength"]))
        for i, label in enumerate(labels):
            line = part[part["label"] == label]
            if line.empty:
                continue
            x = line["strength_value"] if numeric else line["strength"].map(ticks.index)
            axis.errorbar(x, line["mean"], yerr=np.nan_to_num(line["half_ci"].to_numpy(dtype=float)), marker="o",
                          markersize=3, linewidth=1, capsize=2, color=f"C{i % 10}", label=label)
            if "clean" in line and line["clean"].notna().any():  # the clean score, for the drop
                axis.axhline(float(line["clean"].iloc[0]), color=f"C{i % 10}", linestyle="--", linewidth=0.8)
        if not numeric:
            axis.set_xticks(range(len(ticks)), ticks, fontsize=7)
        # "snr=10" → "snr": the parameter the strengths are numbers of.
        parameter = re.sub(r"[-+]?[\d.]+(?:[eE][-+]?\d+)?", "", str(ticks[0])).strip("=@: ") if numeric else ""
        axis.set_title(kind, fontsize=9)
        axis.set_xlabel(f"{kind} {parameter or 'strength'} (dashed: clean)", fontsize=8)
        axis.set_ylabel(column, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=6, loc="best")
    return _save(figure, path)


__all__ = [
    "alias_matrix", "single_source_performance", "strategy_performance", "performance_by_sources",
    "strategy_effects", "size_effects", "variance_components_heatmap", "variance_vs_single_source",
    "parameters_by_sources", "tsne_embedding", "representation_bars", "robustness_curves", "STRATEGY_COLOURS",
]
