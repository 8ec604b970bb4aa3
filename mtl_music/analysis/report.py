"""``report.md`` and the CSV tables of an analysis, and the findings computed from the fits.

The "Findings" section states, from the fitted numbers, whether the paper's three main claims
(Sect. 5.2, 6) hold in this sweep. Each claim is a set of *links*, each a bootstrap interval that
the claim says is positive:

* multi-source > single-source: β0_r − β0_SS-R for every multi-source strategy r (model 1);
* the order MSS-CR and MS-CR@2 > MS-CR@6 > MS-SR@FC > SS-R (paper Sect. 6, RQ2): β0 differences
  MSS-CR − MS-CR@6, MS-CR@2 − MS-CR@6, MS-CR@6 − MS-SR@FC, MS-SR@FC − SS-R (model 1);
* more sources help: the mean n* slope of the multi-source strategies (model 1); the paper's
  model 2 β20 and each strategy's slope are given as evidence.

Verdict: *holds* when every link's interval lies above 0; *does not hold* when some link's
interval lies below 0 (the opposite is supported); otherwise *inconclusive (CI spans 0)*; *not
testable* when a strategy the claim needs has no runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mtl_music.analysis.collect import Collected, order_sources
from mtl_music.analysis.bootstrap import Bootstrap
from mtl_music.analysis.mixed_models import ModelFit
from mtl_music.paper import STRATEGIES, STRATEGY_LABELS

HOLDS, FAILS, INCONCLUSIVE, UNTESTABLE = "holds", "does not hold", "inconclusive (CI spans 0)", "not testable"

#: The chain of RQ2 (paper Sect. 6): (better, worse) strategy pairs.
ORDER_LINKS: tuple[tuple[str, str], ...] = (("mss_cr", "ms_cr@6"), ("ms_cr@2", "ms_cr@6"), ("ms_cr@6", "ms_sr@fc"),
                                            ("ms_sr@fc", "ss_r"))


@dataclass
class Analysis:
    """Everything the report shows; assembled by :func:`mtl_music.analyze.analyze`.

    Frames: ``data`` (standardised scores), ``effects1`` / ``effects2`` (fixed-effect tables),
    ``pairwise`` (model 1 intercept differences), ``components`` (Table 6, long), ``means``
    (per target and strategy), ``association`` (Fig. 14 pairs) with Pearson ``association_r``,
    ``parameters`` (Fig. 15 counts, or ``None``).
    """

    collected: Collected
    data: pd.DataFrame
    fit1: ModelFit
    boot1: Bootstrap
    fit2: ModelFit
    boot2: Bootstrap
    effects1: pd.DataFrame
    effects2: pd.DataFrame
    pairwise: pd.DataFrame
    mean_slope: dict | None
    components: pd.DataFrame
    means: pd.DataFrame
    association: pd.DataFrame
    association_r: float
    alias: pd.DataFrame | None
    alias_source: str
    parameters: pd.DataFrame | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    figure_notes: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


@dataclass
class Finding:
    """One claim: its verdict and the numbers behind it (one line per link/evidence)."""

    claim: str
    verdict: str
    evidence: list[str]


# ---------------------------------------------------------------------------- findings

def _fmt_interval(row: Mapping) -> str:
    return f"{row['estimate']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"


def _fmt_p(row: Mapping) -> str:
    """``p = 0.032``, or ``p < 1/B`` when no replicate crossed 0 (the bootstrap's resolution)."""
    p, n = float(row.get("p_boot", np.nan)), row.get("n_boot")
    if p == 0 and n:
        return f"p < {1 / int(n):.2g}"
    return f"p = {p:.3f}"


def _link_status(row: Mapping) -> str:
    low, high = float(row["ci_low"]), float(row["ci_high"])
    if math.isnan(low) or math.isnan(high):
        return INCONCLUSIVE
    if low > 0:
        return HOLDS
    if high < 0:
        return FAILS
    return INCONCLUSIVE


def _verdict(statuses: Sequence[str]) -> str:
    if not statuses:
        return UNTESTABLE
    if any(s == FAILS for s in statuses):
        return FAILS
    if all(s == HOLDS for s in statuses):
        return HOLDS
    return INCONCLUSIVE


def _difference(pairwise: pd.DataFrame, better: str, worse: str) -> dict | None:
    row = pairwise[(pairwise["a"] == better) & (pairwise["b"] == worse)]
    if len(row):
        return row.iloc[0].to_dict()
    row = pairwise[(pairwise["a"] == worse) & (pairwise["b"] == better)]
    if len(row):  # stored the other way round: negate
        r = row.iloc[0]
        return {"estimate": -r["estimate"], "ci_low": -r["ci_high"], "ci_high": -r["ci_low"], "p_boot": r["p_boot"],
                "n_boot": r.get("n_boot")}
    return None


def assess_findings(*, pairwise: pd.DataFrame, effects1: pd.DataFrame, effects2: pd.DataFrame,
                    mean_slope: Mapping | None) -> list[Finding]:
    """The three claims of the paper, judged on this sweep's fits (module docstring)."""
    present = set(pairwise["a"]) | set(pairwise["b"]) | set(effects1.loc[effects1["strategy"] != "", "strategy"])
    findings = []

    # 1. multi-source > single-source
    multi = [s for s in STRATEGIES[1:] if s in present]
    if "ss_r" not in present or not multi:
        missing = "SS-R" if "ss_r" not in present else "multi-source strategies"
        findings.append(Finding("Multi-source representations outperform single-source ones (SS-R)", UNTESTABLE,
                                [f"no runs of {missing}"]))
    else:
        statuses, evidence = [], []
        for strategy in multi:
            diff = _difference(pairwise, strategy, "ss_r")
            status = _link_status(diff)
            statuses.append(status)
            evidence.append(f"β0 {STRATEGY_LABELS[strategy]} − β0 SS-R = {_fmt_interval(diff)} "
                            f"({_fmt_p(diff)}): {status}")
        findings.append(Finding("Multi-source representations outperform single-source ones (SS-R)",
                                _verdict(statuses), evidence))

    # 2. strategy order
    missing = sorted({s for pair in ORDER_LINKS for s in pair} - present)
    claim = "Strategy order MSS-CR and MS-CR@2 > MS-CR@6 > MS-SR@FC > SS-R (less sharing is better)"
    evidence = []
    size = effects2[effects2["term"] == "rstar"]
    if len(size):
        row = size.iloc[0]
        evidence.append(f"(model 2) network-size slope β10 = {_fmt_interval(row)}: {_link_status(row)}")
    if missing:
        findings.append(Finding(claim, UNTESTABLE,
                                [f"no runs of {', '.join(STRATEGY_LABELS[s] for s in missing)}", *evidence]))
    else:
        statuses, lines = [], []
        for better, worse in ORDER_LINKS:
            diff = _difference(pairwise, better, worse)
            status = _link_status(diff)
            statuses.append(status)
            lines.append(f"β0 {STRATEGY_LABELS[better]} − β0 {STRATEGY_LABELS[worse]} = {_fmt_interval(diff)} "
                         f"({_fmt_p(diff)}): {status}")
        tie = _difference(pairwise, "mss_cr", "ms_cr@2")
        if tie is not None:
            lines.append(f"(for reference; the paper finds no difference) β0 MSS-CR − β0 MS-CR@2 = "
                         f"{_fmt_interval(tie)} ({_fmt_p(tie)})")
        findings.append(Finding(claim, _verdict(statuses), lines + evidence))

    # 3. number of sources
    claim = "The number of learning sources has a positive effect"
    evidence = []
    for row in effects1[effects1["term"].str.startswith("n_")].to_dict("records"):
        evidence.append(f"(model 1) slope {row['label']} = {_fmt_interval(row)}: {_link_status(row)}")
    nstar = effects2[effects2["term"] == "nstar"]
    if len(nstar):
        row = nstar.iloc[0]
        evidence.append(f"(model 2) β20 = {_fmt_interval(row)}: {_link_status(row)} (the paper's quantity: the "
                        f"n* slope at r* = 0; with the interaction the slope at r* is β20 + β30·r*)")
    if mean_slope is None:
        findings.append(Finding(claim, UNTESTABLE, ["no multi-source strategy has runs with different numbers of "
                                                    "sources", *evidence]))
    else:
        status = _link_status(mean_slope)
        findings.append(Finding(claim, status, [f"mean n* slope of the multi-source strategies (model 1) = "
                                                f"{_fmt_interval(mean_slope)} per added source: {status}", *evidence]))
    return findings


# ---------------------------------------------------------------------------- tables

def markdown_table(frame: pd.DataFrame, *, digits: int = 3, max_rows: int = 60) -> str:
    """A GitHub markdown table (no ``tabulate`` dependency); floats rounded to ``digits``."""
    if frame.empty:
        return "(empty)"

    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value).replace("|", "\\|")

    shown = frame.head(max_rows)
    lines = ["| " + " | ".join(str(c) for c in shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    if len(frame) > max_rows:
        lines.append(f"\n({len(frame) - max_rows} more rows in the CSV)")
    return "\n".join(lines)


def table6(components: pd.DataFrame) -> pd.DataFrame:
    """Variance components as in Table 6: sources × targets, percent."""
    if components.empty:
        return pd.DataFrame()
    wide = components.pivot(index="source", columns="target", values="percent")
    return wide.reindex(order_sources(list(wide.index)))


def random_effects_table(fits: Sequence[ModelFit]) -> pd.DataFrame:
    """Variance estimates of both models: ``model, component, variance, at_boundary``."""
    rows = []
    for fit in fits:
        for name, value in fit.variances.items():
            rows.append({"model": fit.spec.name, "component": name, "variance": float(value),
                         "at_boundary": name in fit.boundary})
    return pd.DataFrame(rows, columns=["model", "component", "variance", "at_boundary"])


def write_tables(*, analysis: Analysis, output_dir: Path) -> dict[str, Path]:
    """The CSV tables; returns name → path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "scores": analysis.data,
        "baselines": analysis.collected.baselines,
        "strategy_means": analysis.means,
        "fixed_effects_model1": analysis.effects1,
        "fixed_effects_model2": analysis.effects2,
        "pairwise_model1": analysis.pairwise,
        "random_effects": random_effects_table([analysis.fit1, analysis.fit2]),
        "variance_components": analysis.components,
        "variance_components_table6": table6(analysis.components),
        "bootstrap_model1": analysis.boot1.replicates,
        "bootstrap_model2": analysis.boot2.replicates,
    }
    if analysis.parameters is not None:
        tables["parameters"] = analysis.parameters
    if analysis.alias is not None:
        tables["alias"] = analysis.alias
    paths = {}
    for name, frame in tables.items():
        path = output_dir / f"{name}.csv"
        keep_index = name in ("variance_components_table6", "alias")
        frame.to_csv(path, index=keep_index)
        paths[name] = path
    return paths


# ---------------------------------------------------------------------------- report

def _model_section(title: str, fit: ModelFit, boot: Bootstrap, effects: pd.DataFrame, equations: str) -> list[str]:
    lines = [f"## {title}", "", equations, "",
             f"- fixed part: `{fit.spec.formula}`; groups: target ({fit.n_groups}); {fit.n_obs} observations",
             f"- random structure used: **{fit.structure.label}** (`{fit.structure.formula_text()}`), "
             + (f"optimizer {fit.optimizer}, REML log-likelihood {fit.llf:.2f}" if fit.optimizer != "ols"
                else f"log-likelihood {fit.llf:.2f}")]
    for label, why in fit.dropped:
        lines.append(f"- fallback: *{label}* was dropped — {why}")
    if fit.boundary:
        lines.append(f"- singular fit: variance(s) of {', '.join(fit.boundary)} estimated at 0 (kept: a zero "
                     f"variance is the same model without that term)")
    lines.append(f"- bootstrap: {boot.n_boot} within-target resamples of the runs (seed {boot.seed}), "
                 f"{boot.n_boot - boot.n_failed} refits converged" +
                 (f", {boot.n_failed} failed and were dropped" if boot.n_failed else ""))
    lines += ["", markdown_table(effects[["label", "estimate", "se_model", "ci_low", "ci_high", "p_boot"]]), ""]
    variances = pd.DataFrame({"component": fit.variances.index, "variance": fit.variances.to_numpy()})
    lines += ["Variance estimates:", "", markdown_table(variances, digits=4), ""]
    return lines


def _figure_line(analysis: Analysis, key: str, caption: str, output_dir: Path) -> list[str]:
    if key in analysis.figures:
        rel = Path(analysis.figures[key]).relative_to(output_dir).as_posix()
        return [f"![{caption}]({rel})", "", f"*{caption}*", ""]
    note = analysis.figure_notes.get(key, "not drawn")
    return [f"*{caption}: not drawn — {note}*", ""]


def write_report(*, analysis: Analysis, output_dir: str | Path) -> Path:
    """Writes ``report.md`` and the CSV tables into ``output_dir`` (figures must already be
    there, in ``analysis.figures``); returns the report's path."""
    output_dir = Path(output_dir)
    tables = write_tables(analysis=analysis, output_dir=output_dir)
    collected, data = analysis.collected, analysis.data
    findings = assess_findings(pairwise=analysis.pairwise, effects1=analysis.effects1, effects2=analysis.effects2,
                               mean_slope=analysis.mean_slope)
    pd.DataFrame([{"claim": f.claim, "verdict": f.verdict, "evidence": " | ".join(f.evidence)} for f in findings]
                 ).to_csv(output_dir / "findings.csv", index=False)

    runs = data.drop_duplicates("run_id")
    per_strategy = runs.groupby("strategy").size().reindex([s for s in STRATEGIES if s in set(runs["strategy"])])
    metrics = data.groupby("target")["metric"].first()
    lines = [f"# Analysis of {collected.runs_dir}", "",
             "Re-analysis of Kim et al., *One deep music representation to rule them all?*, Sect. 5 "
             "(Eq. 10–16, Figs. 7–16, Table 6), on this sweep's transfer results.", "",
             "## Data", "",
             f"- {len(runs)} runs × {data['target'].nunique()} targets = {len(data)} observations "
             f"(score = mean over the evaluation's repetitions)",
             "- runs per strategy: " + ", ".join(f"{STRATEGY_LABELS[s]} {n}" for s, n in per_strategy.items()),
             "- targets (metric): " + ", ".join(f"{t} ({m})" for t, m in metrics.items()),
             f"- learning sources seen: {', '.join(collected.sources)}",
             "- baselines: " + (", ".join(sorted(set(collected.baselines["baseline"])))
                                if not collected.baselines.empty else "none"),
             "- scores standardised within target over the learned runs: y* = (y − mean_d) / sd_d; "
             "n* = 0 for SS-R, n − 2 otherwise"]
    if "phase" in data.columns and data["phase"].notna().any():
        phases = runs.groupby("phase").size()
        lines.append("- runs per design phase: " + ", ".join(f"{p}: {n}" for p, n in phases.items()))
    for note in [*collected.notes, *analysis.notes]:
        lines.append(f"- note: {note}")
    lines.append("")

    lines += ["## Findings", "",
              "Computed from the fitted numbers (bootstrap 95 % intervals; *holds*: every interval above 0, "
              "*does not hold*: some interval below 0, *inconclusive*: an interval spans 0).", ""]
    for number, finding in enumerate(findings, start=1):
        lines.append(f"{number}. **{finding.claim}: {finding.verdict}.**")
        lines += [f"   - {line}" for line in finding.evidence]
    lines.append("")

    lines += _model_section(
        "Model 1: strategy intercepts and number-of-sources slopes (Eq. 10–12)", analysis.fit1, analysis.boot1,
        analysis.effects1,
        "y*_i = β0_r + u0_rd + (β1_r + u1_rd)·n*_i + e_i, with per-strategy variances σ²_0r, σ²_1r of the "
        "per-target deviations (footnote 10).")
    lines += _figure_line(analysis, "fig11", "Fig. 11: model 1 fixed effects with bootstrap 95 % intervals",
                          output_dir)
    lines += ["### Pairwise strategy comparisons (model 1 intercepts)", "",
              markdown_table(analysis.pairwise[["comparison", "estimate", "ci_low", "ci_high", "p_boot"]]), ""]
    if analysis.mean_slope is not None:
        lines += [f"Mean n* slope over the multi-source strategies: {_fmt_interval(analysis.mean_slope)} "
                  f"(paper: about +0.16 per source for the best strategies).", ""]

    lines += _model_section(
        "Model 2: network size r*, number of sources n* and their interaction (Eq. 13–16)", analysis.fit2,
        analysis.boot2, analysis.effects2,
        "y*_i = β0 + (β10 + u1_d)·r*_i + (β20 + u2_d)·n*_i + (β30 + u3_d)·r*_i·n*_i + e_i, with r* = 0 (SS-R), "
        "0.2 (MS-SR@FC), 0.4 (MS-CR@6), 0.6 (MS-CR@4), 0.8 (MS-CR@2), 1 (MSS-CR).")
    lines += _figure_line(analysis, "fig12", "Fig. 12: model 2 fixed effects with bootstrap 95 % intervals",
                          output_dir)

    lines += ["## Variance components per source (Table 6)", "",
              "Per target, non-SS-R runs: OLS of y* on strategy (nuisance) and the 0/1 presence of every source; a "
              "source with effect β and presence share p contributes β²·p(1 − p), estimated as "
              "max(0, β̂² − se²)·p(1 − p); shown as percent of the sources' total (the paper's Table 6 comes from "
              "an lme4 variance-component model; see the method notes). A blank cell: the source never varies "
              "among that target's non-SS-R runs, or no source's effect exceeds its sampling error there.", "",
              markdown_table(table6(analysis.components).reset_index(), digits=1), ""]
    lines += _figure_line(analysis, "table6", "Table 6 as a heat map", output_dir)
    r = analysis.association_r
    lines += [f"Pearson correlation between a source's variance component and its standardised SS-R performance: "
              f"{'n/a' if math.isnan(r) else f'{r:.2f}'} over {len(analysis.association)} (source, target) pairs "
              f"(paper: 0.38).", ""]
    lines += _figure_line(analysis, "fig14", "Fig. 14: variance component vs SS-R performance", output_dir)

    lines += ["## Performance", "", "Mean raw score per target and strategy (full table: `strategy_means.csv`):", ""]
    wide = analysis.means.pivot(index="target", columns="strategy", values="mean")
    wide = wide[[s for s in STRATEGIES if s in wide.columns]].rename(columns=STRATEGY_LABELS)
    lines += [markdown_table(wide.reset_index()), ""]
    lines += _figure_line(analysis, "fig8", "Fig. 8: SS-R performance per source, with baselines", output_dir)
    lines += _figure_line(analysis, "fig9", "Fig. 9: performance per strategy", output_dir)
    lines += _figure_line(analysis, "fig10", "Fig. 10: standardised performance by number of sources", output_dir)

    lines += ["## Design", "", f"Alias matrix: {analysis.alias_source}.", ""]
    lines += _figure_line(analysis, "fig7", "Fig. 7: aliasing among main effects", output_dir)
    lines += ["## Compactness", ""]
    lines += _figure_line(analysis, "fig15", "Fig. 15: network parameters by number of sources", output_dir)
    lines += ["## Representation", ""]
    lines += _figure_line(analysis, "fig16", "Fig. 16: t-SNE of a target's representation, coloured by class",
                          output_dir)
    lines += ["The paper's Fig. 16 also overlays the strongest predicted topics of each source's z_t; that part "
              "is not drawn (it needs the per-source output layers and the topic terms, which the analysis "
              "does not load).", ""]

    lines += ["## Method notes: how this differs from the paper's lme4 fits", "",
              "- statsmodels MixedLM (REML) with Powell / L-BFGS optimizers instead of lme4; the richest random "
              "structure that converges is used (fallbacks listed above); singular fits are kept and flagged.",
              "- One grouping factor (target): Eq. 10–16 need no more, but Table 6 uses an OLS moment estimator "
              "instead of crossed random effects per source.",
              "- Intervals: percentile bootstrap over runs resampled within target, conditional on the observed "
              "targets (random-effect variation between targets is not resampled); bootstrap p-values "
              "2·min(P*(Δ≤0), P*(Δ≥0)) with resolution 1/B; model-based SEs for reference only.",
              f"- Bootstrap B = {analysis.settings.get('n_boot')}, seed = {analysis.settings.get('seed')}.", ""]
    lines += ["## Files", ""] + [f"- `{p.name}`" for p in tables.values()] + ["- `findings.csv`"]
    lines += [f"- `{Path(p).relative_to(output_dir).as_posix()}`" for p in analysis.figures.values()]
    path = output_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
