"""Summaries of the fitted models and the sweep: fixed-effect tables, contrasts and pairwise
comparisons with bootstrap intervals, strategy means, variance components (Table 6), the
single-source association (Fig. 14) and main-effect correlations (paper Sect. 5.3; SPEC R7.3).

Variance components (Table 6). Per target, over the non-SS-R runs, OLS of y* on strategy
(fixed, as a nuisance factor) and the 0/1 indicator of each source. A source with effect β and
presence share p contributes variance β²·p(1 − p) to the scores; we estimate it with the ANOVA
moment estimator ``max(0, β̂² − se(β̂)²)·p(1 − p)`` (β̂² is biased upward by its sampling variance)
and report each source's share of the sources' total, in percent — the same normalisation as
Table 6, whose columns sum to 100 over the 8 sources.
"""

from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mtl_music.analysis.bootstrap import Bootstrap
from mtl_music.analysis.mixed_models import ModelFit, intercept_term, slope_term
from mtl_music.errors import DataError
from mtl_music.paper import STRATEGIES, STRATEGY_LABELS


def _interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    """Percentile interval and two-sided bootstrap p-value of H0: value = 0."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    p = min(1.0, 2 * min(np.mean(values <= 0), np.mean(values >= 0)))
    return float(low), float(high), float(p)


def contrast(*, fit: ModelFit, boot: Bootstrap, weights: Mapping[str, float], level: float = 0.95) -> dict:
    """A linear combination Σ w_t·β_t of fixed effects: estimate, bootstrap interval, p-value.

    Returns:
        ``{"estimate", "ci_low", "ci_high", "p_boot"}``.
    """
    missing = [t for t in weights if t not in fit.params.index]
    if missing:
        raise DataError(f"contrast terms {missing} are not in the {fit.spec.name} model ({list(fit.params.index)})")
    w = pd.Series(weights, dtype=float)
    estimate = float((fit.params[w.index] * w).sum())
    replicated = boot.replicates[w.index].to_numpy() @ w.to_numpy() if len(boot.replicates) else np.array([])
    low, high, p = _interval(np.asarray(replicated, dtype=float), level)
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "p_boot": p}


def fixed_effects_table(*, fit: ModelFit, boot: Bootstrap, level: float = 0.95) -> pd.DataFrame:
    """One row per fixed effect.

    Returns:
        Columns ``model, term, label, strategy, estimate, se_model, ci_low, ci_high, p_boot,
        n_boot`` (``strategy`` empty for model 2 terms).
    """
    by_term = {intercept_term(s): s for s in STRATEGIES} | {slope_term(s): s for s in STRATEGIES}
    rows = []
    for term in fit.spec.terms:
        row = {"model": fit.spec.name, "term": term, "label": fit.spec.labels[term],
               "strategy": by_term.get(term, ""), "se_model": float(fit.bse.get(term, np.nan))}
        row.update(contrast(fit=fit, boot=boot, weights={term: 1.0}, level=level))
        row["n_boot"] = len(boot.replicates)
        rows.append(row)
    return pd.DataFrame(rows, columns=["model", "term", "label", "strategy", "estimate", "se_model", "ci_low",
                                       "ci_high", "p_boot", "n_boot"])


def pairwise_comparisons(*, fit: ModelFit, boot: Bootstrap, level: float = 0.95) -> pd.DataFrame:
    """Differences of model 1 strategy intercepts, β0_a − β0_b, for every pair (a less shared
    than b, i.e. larger r*).

    Returns:
        Columns ``comparison, a, b, estimate, ci_low, ci_high, p_boot, n_boot``.
    """
    present = [s for s in STRATEGIES if intercept_term(s) in fit.params.index]
    rows = []
    for b, a in combinations(present, 2):  # STRATEGIES runs from most to least shared
        row = {"comparison": f"{STRATEGY_LABELS[a]} − {STRATEGY_LABELS[b]}", "a": a, "b": b}
        row.update(contrast(fit=fit, boot=boot, weights={intercept_term(a): 1.0, intercept_term(b): -1.0}, level=level))
        row["n_boot"] = len(boot.replicates)
        rows.append(row)
    return pd.DataFrame(rows, columns=["comparison", "a", "b", "estimate", "ci_low", "ci_high", "p_boot", "n_boot"])


def mean_multisource_slope(*, fit: ModelFit, boot: Bootstrap, level: float = 0.95) -> dict | None:
    """The average n* slope of the multi-source strategies in model 1 (the effect of one more
    source, averaged over strategies), or ``None`` when no slope was estimable."""
    slopes = [slope_term(s) for s in STRATEGIES if slope_term(s) in fit.params.index]
    if not slopes:
        return None
    return contrast(fit=fit, boot=boot, weights={t: 1.0 / len(slopes) for t in slopes}, level=level)


def strategy_means(*, data: pd.DataFrame) -> pd.DataFrame:
    """Raw and standardised score summaries per (target, strategy).

    Returns:
        Columns ``target, metric, strategy, n_runs, mean, sd, mean_std``.
    """
    order = {s: i for i, s in enumerate(STRATEGIES)}
    table = (data.groupby(["target", "metric", "strategy"])
             .agg(n_runs=("score", "count"), mean=("score", "mean"), sd=("score", "std"), mean_std=("y_std", "mean"))
             .reset_index())
    table["_order"] = table["strategy"].map(order)
    return table.sort_values(["target", "_order"]).drop(columns="_order").reset_index(drop=True)


def variance_components(*, data: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """Variance component of each source within each target, non-SS-R runs (Table 6).

    Method (module docstring): per target, OLS ``y* ~ 1 + strategy + Σ source indicators``;
    component = ``max(0, β̂² − se²)·p(1 − p)``; percent of the sources' total.

    Args:
        data: from :func:`~mtl_music.analysis.mixed_models.standardize_scores`, with one 0/1 column per source.
        sources: the source columns.

    Returns:
        Long frame, one row per (target, source): ``target, source, effect, se, presence,
        component, percent, residual_variance``; sources constant within a target (always or
        never present) get NaN.
    """
    import statsmodels.api as sm

    rows = []
    multi = data[data["strategy"] != "ss_r"]
    for target, part in multi.groupby("target", sort=True):
        varying = [s for s in sources if s in part.columns and part[s].nunique() > 1]
        strategies = sorted(set(part["strategy"]))
        exog = pd.DataFrame({"const": 1.0}, index=part.index)
        for strategy in strategies[1:]:
            exog[strategy] = (part["strategy"] == strategy).astype(float)
        for source in varying:
            exog[source] = part[source].astype(float)
        fitted = None
        if varying and len(part) > exog.shape[1] and np.linalg.matrix_rank(exog.to_numpy()) == exog.shape[1]:
            fitted = sm.OLS(part["y_std"].to_numpy(), exog).fit()
        for source in sources:
            row = {"target": target, "source": source, "effect": np.nan, "se": np.nan, "presence": np.nan,
                   "component": np.nan, "percent": np.nan,
                   "residual_variance": float(fitted.scale) if fitted is not None else np.nan}
            if fitted is not None and source in varying:
                p = float(part[source].mean())
                beta, se = float(fitted.params[source]), float(fitted.bse[source])
                row.update(effect=beta, se=se, presence=p, component=max(0.0, beta ** 2 - se ** 2) * p * (1 - p))
            rows.append(row)
    table = pd.DataFrame(rows, columns=["target", "source", "effect", "se", "presence", "component", "percent",
                                        "residual_variance"])
    if table.empty:
        return table
    totals = table.groupby("target")["component"].transform(lambda c: c.sum(min_count=1))
    table["percent"] = np.where(totals > 0, 100 * table["component"] / totals, np.nan)
    return table


def single_source_association(*, data: pd.DataFrame, components: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Each source's standardised SS-R performance next to its variance component (Fig. 14).

    Returns:
        ``(pairs, r)``: one row per (source, target) having both numbers, columns ``source,
        target, ssr_mean_std, percent``; ``r`` is their Pearson correlation (NaN with < 3 pairs;
        the paper reports 0.38).
    """
    ssr = data[data["strategy"] == "ss_r"]
    performance = ssr.groupby(["sources", "target"])["y_std"].mean().rename("ssr_mean_std").reset_index()
    performance = performance.rename(columns={"sources": "source"})
    pairs = performance.merge(components[["source", "target", "percent"]], on=["source", "target"], how="inner")
    pairs = pairs.dropna(subset=["ssr_mean_std", "percent"]).reset_index(drop=True)
    r = float(np.corrcoef(pairs["ssr_mean_std"], pairs["percent"])[0, 1]) if len(pairs) >= 3 and \
        pairs["percent"].std() > 0 and pairs["ssr_mean_std"].std() > 0 else float("nan")
    return pairs, r


def main_effect_correlation(*, data: pd.DataFrame, sources: Sequence[str]) -> pd.DataFrame:
    """Absolute correlations between the main-effect columns of the runs' design — strategy
    (one 0/1 column per level), number of sources, and each source's 0/1 presence — one row per
    run. A stand-in for the alias matrix of Fig. 7 when the design does not supply one.

    Returns:
        Square frame (factors × factors) in [0, 1]; constant columns are left out.
    """
    runs = data.drop_duplicates("run_id")
    columns = {STRATEGY_LABELS[s]: (runs["strategy"] == s).astype(float) for s in STRATEGIES
               if (runs["strategy"] == s).any()}
    columns["n sources"] = runs["n_sources"].astype(float)
    columns.update({s: runs[s].astype(float) for s in sources if s in runs.columns})
    design = pd.DataFrame(columns)
    design = design.loc[:, design.std() > 0]
    return design.corr().abs()
