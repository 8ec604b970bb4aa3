"""The statistical analysis of the sweep (paper Sect. 5.2–5.3, Eq. 10–16, Table 6; SPEC R7.3).

Scores are standardised within target, ``y* = (y − mean_d) / sd_d`` over the learned runs of
target d (baselines excluded), so every target has mean 0 and variance 1 (paper Sect. 5.2).
The number of sources enters as ``n* = 0`` for SS-R and ``n* = n − 2`` otherwise, so intercepts
are each strategy's score in its simplest case (SS-R: n = 1; the others: n = 2).

Model 1 (Eq. 10–12), groups = target d::

    y*_i = β0_r + u0_rd + (β1_r + u1_rd)·n*_i + e_i,   u0_rd ~ N(0, σ²_0r), u1_rd ~ N(0, σ²_1r)

one fixed intercept per strategy, one fixed n* slope per multi-source strategy (SS-R has
n* ≡ 0, so no slope), and — footnote 10 — one random-intercept *variance* and one
random-slope variance per strategy (independent per-target deviations). In statsmodels this is
``mixedlm("y* ~ 0 + i_r... + n_r...", groups=target, re_formula="0", vc_formula={u0_r: "0 + i_r",
u1_r: "0 + n_r", ...})`` (``i_r``: 0/1 strategy r; ``n_r = i_r·n*``); we build exactly that model
through ``MixedLM``'s array interface, because the formula interface re-parses every variance
component per target with patsy, which made each bootstrap refit three times slower.

Model 2 (Eq. 13–16), with the ordinal network size r* (SS-R 0, MS-SR@FC 0.2, MS-CR@6 0.4,
MS-CR@4 0.6, MS-CR@2 0.8, MSS-CR 1)::

    y*_i = β0 + (β10 + u1_d)·r*_i + (β20 + u2_d)·n*_i + (β30 + u3_d)·r*_i·n*_i + e_i

a fixed overall intercept (no random intercept, as in Eq. 13) and independent random per-target
slopes.

Fallback. Each model has a list of random-effects structures, richest (the paper's) first; the
first one whose fit converges with finite fixed effects and likelihood is used (optimizers Powell
and L-BFGS, keeping the converged fit with the larger REML likelihood; Nelder–Mead only if neither
converges), and the report states which one and why the richer ones were dropped. Model 1:
per-strategy intercepts + slopes → per-strategy intercepts → one per-target intercept →
fixed effects only (OLS); model 2: slopes of r*, n*, r*·n* → r*, n* → r* → OLS. A variance
estimated at 0 (a *singular* fit, lme4's ``isSingular``) is kept, not dropped: a zero variance
component is the same model as one without that component, so refitting without it would give
the same fixed effects; the report lists such components.

Bootstrap. 95 % percentile intervals from B refits on data resampled *within target*: for each
target its runs' rows are drawn with replacement (same count), the fixed effects are refitted with
the structure chosen on the full data, Powell warm-started at the full-data estimates first
(replicates whose fit fails with every optimizer are dropped and counted). Every
replicate has its own seed from ``SeedSequence(seed).spawn(B)``, so the result does not depend on
``n_jobs``. Contrasts (pairwise strategy differences, the mean multi-source slope) are computed
per replicate, so their intervals carry the estimates' covariance.

Variance components (Table 6). Per target, over the non-SS-R runs, OLS of y* on strategy
(fixed, as a nuisance factor) and the 0/1 indicator of each source. A source with effect β and
presence share p contributes variance β²·p(1 − p) to the scores; we estimate it with the ANOVA
moment estimator ``max(0, β̂² − se(β̂)²)·p(1 − p)`` (β̂² is biased upward by its sampling variance)
and report each source's share of the sources' total, in percent — the same normalisation as
Table 6, whose columns sum to 100 over the 8 sources.

How this differs from the paper's lme4 fits
-------------------------------------------
* Software and optimizer: statsmodels ``MixedLM`` (REML, as lme4's default) with Powell and
  L-BFGS, not lme4's bobyqa / Nelder–Mead; convergence criteria differ, and statsmodels
  parameterises the variances differently, so variance estimates near 0 may differ slightly.
* Random effects: MixedLM has one grouping factor. Eq. 10–16 only need target, so the models
  themselves are as in the paper (per-strategy independent components via ``vc_formula``). Crossed
  random effects (one random factor per source, as lme4 would fit Table 6) are only possible in
  MixedLM by putting all rows in one group with 8 two-level variance components, which is slow and
  mostly lands on the boundary; hence the OLS moment estimator of the variance components above.
* Fallback: lme4 keeps singular fits and warns; we do too, but when an optimizer does not
  converge we drop to a simpler random structure instead of reporting a non-converged fit.
* Intervals: nonparametric case bootstrap of runs within target (conditional on the observed
  targets: the between-target variation of the random effects is not resampled), percentile
  intervals; the paper reports "bootstrap 95 % confidence intervals" without the scheme (lme4's
  ``bootMer`` is parametric by default) and no profile intervals are computed here. Pairwise
  p-values are two-sided bootstrap p-values, ``2·min(P*(Δ ≤ 0), P*(Δ ≥ 0))``, resolution 1/B.
* No Satterthwaite / Kenward–Roger degrees of freedom; model-based standard errors are reported
  for reference only.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mtl_music.analysis.collect import split_sources
from mtl_music.errors import DataError
from mtl_music.paper import STRATEGIES, STRATEGY_LABELS
from mtl_music.workers import WorkerPool

log = logging.getLogger(__name__)

#: The ordinal network size r* of Eq. 13 (paper Sect. 5.2, Fig. 5).
NETWORK_SIZE: dict[str, float] = {"ss_r": 0.0, "ms_sr@fc": 0.2, "ms_cr@6": 0.4, "ms_cr@4": 0.6,
                                  "ms_cr@2": 0.8, "mss_cr": 1.0}

#: Optimizers of ``MixedLM.fit(method=...)``. The point fit runs both and keeps the best
#: converged one; bootstrap refits take the first that converges, Powell first (L-BFGS often
#: stops short of the optimum when variances sit at the boundary).
OPTIMIZERS: tuple[str, ...] = ("powell", "lbfgs")

#: A variance below this fraction of the residual variance counts as "at the boundary" (0).
BOUNDARY_TOLERANCE = 1e-6


def safe_name(strategy: str) -> str:
    """``"ms_cr@2"`` → ``"ms_cr_2"``: a name patsy formulas accept."""
    return strategy.replace("@", "_").replace("-", "_")


def intercept_term(strategy: str) -> str:
    """Model 1's fixed-intercept column of ``strategy`` (``i_ms_cr_2``)."""
    return f"i_{safe_name(strategy)}"


def slope_term(strategy: str) -> str:
    """Model 1's fixed-slope column of ``strategy`` (``n_ms_cr_2``)."""
    return f"n_{safe_name(strategy)}"


# ---------------------------------------------------------------------------- data

def standardise_scores(*, scores: pd.DataFrame) -> pd.DataFrame:
    """Adds the standardised score and the model columns to a per-(run, target) frame.

    Args:
        scores: one row per (run, target) of learned strategies, with at least ``run_id,
            strategy, target, score`` and ``n_sources`` (or ``sources``, ``+``-joined).

    Returns:
        A copy with ``y_std`` (y*), ``nstar`` (n*), ``rstar`` (r*), ``rn`` (r*·n*) and, per
        strategy present, ``i_<s>`` (0/1) and ``n_<s>`` (= i_<s>·n*). Targets with fewer than
        2 runs or no spread cannot be standardised and are dropped (logged).

    Raises:
        DataError: unknown strategies, or no target left.
    """
    data = scores.copy()
    unknown = sorted(set(data["strategy"]) - set(STRATEGIES))
    if unknown:
        raise DataError(f"strategies {unknown} are not learned strategies ({', '.join(STRATEGIES)}); "
                        f"baselines belong in the baseline frame")
    if "n_sources" not in data.columns:
        data["n_sources"] = data["sources"].map(lambda s: len(split_sources(s)))
    grouped = data.groupby("target")["score"]
    mean, sd, count = grouped.transform("mean"), grouped.transform("std"), grouped.transform("count")
    degenerate = sorted(set(data.loc[(count < 2) | ~(sd > 0), "target"]))
    if degenerate:
        log.warning("targets %s have < 2 runs or constant scores; left out of the models", degenerate)
        keep = ~data["target"].isin(degenerate)
        data, mean, sd = data[keep].copy(), mean[keep], sd[keep]
    if data.empty:
        raise DataError("no target has two or more runs with different scores; nothing to standardise")
    data["y_std"] = (data["score"] - mean) / sd
    data["nstar"] = np.where(data["strategy"] == "ss_r", 0, data["n_sources"] - 2).astype(float)
    data["rstar"] = data["strategy"].map(NETWORK_SIZE).astype(float)
    data["rn"] = data["rstar"] * data["nstar"]
    for strategy in STRATEGIES:
        if (data["strategy"] == strategy).any():
            data[intercept_term(strategy)] = (data["strategy"] == strategy).astype(float)
            data[slope_term(strategy)] = data[intercept_term(strategy)] * data["nstar"]
    return data.reset_index(drop=True)


# ---------------------------------------------------------------------------- model specs

@dataclass(frozen=True)
class RandomStructure:
    """One random-effects structure, groups = target.

    ``kind``: ``"vc"`` — independent variance components, one per ``(name, column)`` in
    ``components`` (each target gets its own coefficient on that column; statsmodels
    ``vc_formula={name: "0 + column"}`` with ``re_formula="0"``); ``"intercept"`` — one random
    intercept per target (``re_formula="1"``); ``"ols"`` — no random effects.
    """

    label: str
    kind: str
    components: tuple[tuple[str, str], ...] = ()

    def formula_text(self) -> str:
        """The equivalent statsmodels formula arguments, for the report."""
        if self.kind == "ols":
            return "OLS"
        if self.kind == "intercept":
            return 're_formula="1"'
        return 're_formula="0", vc_formula={' + ", ".join(f'"{n}": "0 + {c}"' for n, c in self.components) + "}"


@dataclass(frozen=True)
class ModelSpec:
    """Fixed-effect terms (columns of the data; ``Intercept`` is a column of ones), their
    labels, and random structures (richest first)."""

    name: str
    terms: tuple[str, ...]
    labels: Mapping[str, str]
    structures: tuple[RandomStructure, ...]

    @property
    def formula(self) -> str:
        """The fixed part as a formula (for the report)."""
        if self.terms and self.terms[0] == "Intercept":
            return "y* ~ 1" + "".join(f" + {t}" for t in self.terms[1:])
        return "y* ~ 0 + " + " + ".join(self.terms)


def strategy_model_spec(*, data: pd.DataFrame) -> ModelSpec:
    """Model 1 (Eq. 10–12) for the strategies in ``data``.

    A strategy's slope is estimable only where its n* varies; where it does not (e.g. only
    n = 8 runs) the slope and its random counterpart are left out.
    """
    present = [s for s in STRATEGIES if (data["strategy"] == s).any()]
    sloped = [s for s in present if s != "ss_r" and data.loc[data["strategy"] == s, "nstar"].nunique() > 1]
    terms = tuple([intercept_term(s) for s in present] + [slope_term(s) for s in sloped])
    labels = {intercept_term(s): f"β0 {STRATEGY_LABELS[s]}" for s in present}
    labels.update({slope_term(s): f"β1 {STRATEGY_LABELS[s]}" for s in sloped})
    intercepts = tuple((f"u0_{safe_name(s)}", intercept_term(s)) for s in present)
    slopes = tuple((f"u1_{safe_name(s)}", slope_term(s)) for s in sloped)
    structures = [
        RandomStructure("per-strategy random intercepts and n* slopes per target (Eq. 11–12)", "vc",
                        intercepts + slopes),
        RandomStructure("per-strategy random intercepts per target (random slopes dropped)", "vc", intercepts),
        RandomStructure("one random intercept per target", "intercept"),
        RandomStructure("fixed effects only (OLS)", "ols"),
    ]
    if not slopes:
        structures.pop(0)
    return ModelSpec(name="strategy", terms=terms, labels=labels, structures=tuple(structures))


def size_model_spec(*, data: pd.DataFrame) -> ModelSpec:
    """Model 2 (Eq. 13–16): intercept, r*, n*, r*·n*, random per-target slopes.

    Terms whose column is constant (one strategy only, or no n* variation) are left out.
    """
    varying = [t for t in ("rstar", "nstar", "rn") if data[t].nunique() > 1]
    if "rn" in varying and not {"rstar", "nstar"} <= set(varying):
        varying.remove("rn")
    terms = ("Intercept", *varying)
    names = {"Intercept": "β0 intercept", "rstar": "β10 network size r*", "nstar": "β20 number of sources n*",
             "rn": "β30 r*·n*"}
    components = [(f"u_{t}", t) for t in varying]
    structures = []
    for keep in range(len(varying), 0, -1):
        label = ("independent random slopes of " + ", ".join(names[t].split(" ", 1)[1] for t in varying[:keep])
                 + " per target" + (" (Eq. 14–16)" if keep == 3 else ""))
        structures.append(RandomStructure(label, "vc", tuple(components[:keep])))
    structures += [RandomStructure("one random intercept per target", "intercept"),
                   RandomStructure("fixed effects only (OLS)", "ols")]
    return ModelSpec(name="size", terms=terms, labels={t: names[t] for t in terms}, structures=tuple(structures))


# ---------------------------------------------------------------------------- fitting

@dataclass
class ModelFit:
    """A fitted model.

    Attributes:
        spec: what was fitted.
        structure: the random structure used (``spec.structures`` member).
        dropped: ``(structure label, why)`` for each richer structure that failed.
        params: fixed effects, indexed by term (``spec.terms``).
        bse: model-based standard errors (NaN where statsmodels gives none).
        variances: random-effect variances by component (plus ``residual``).
        boundary: components estimated at 0 (a singular fit).
        optimizer: the optimizer that converged (``"ols"`` for the OLS fallback).
        llf: the REML log-likelihood (OLS: the log-likelihood).
        n_obs, n_groups: observations and targets.
    """

    spec: ModelSpec
    structure: RandomStructure
    dropped: list[tuple[str, str]]
    params: pd.Series
    bse: pd.Series
    variances: pd.Series
    boundary: list[str]
    optimizer: str
    llf: float
    n_obs: int
    n_groups: int
    warnings: list[str] = field(default_factory=list)
    start_params: object = None  # statsmodels MixedLMParams of this fit: the bootstrap's warm start


class _FitFailed(Exception):
    """A structure could not be fitted (reason in the message)."""


def _exog(data: pd.DataFrame, terms: Sequence[str]) -> pd.DataFrame:
    exog = pd.DataFrame({t: (np.ones(len(data)) if t == "Intercept" else data[t].to_numpy(dtype=float))
                         for t in terms}, index=data.index)
    if np.linalg.matrix_rank(exog.to_numpy()) < exog.shape[1]:
        raise _FitFailed("the fixed-effects design is rank deficient (a strategy or n* level has no variation)")
    return exog


def _mixed_model(data: pd.DataFrame, exog: pd.DataFrame, structure: RandomStructure):
    """statsmodels ``MixedLM`` through its array interface. Same model as the formula call in
    :meth:`RandomStructure.formula_text`, but the formula interface re-parses every variance
    component per target with patsy (≈ 0.5 s per fit), which dominated the bootstrap."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    endog = data["y_std"].astype(float)
    groups = data["target"].to_numpy()
    if structure.kind == "intercept":
        return MixedLM(endog, exog, groups, exog_re=np.ones((len(data), 1)))
    labels = sorted(set(groups))
    members = [groups == g for g in labels]
    names = [name for name, _ in structure.components]
    colnames = [[[column] for _ in labels] for _, column in structure.components]
    mats = [[data[column].to_numpy(dtype=float)[m][:, None] for m in members] for _, column in structure.components]
    # exog_re with no column: no random intercept (None would add one).
    return MixedLM(endog, exog, groups, exog_re=np.zeros((len(data), 0)), exog_vc=VCSpec(names, colnames, mats))


def _fit_structure(data: pd.DataFrame, spec: ModelSpec, structure: RandomStructure,
                   attempts: Sequence[tuple[str, object]] = tuple((o, None) for o in OPTIMIZERS), *,
                   best_of_all: bool = False, last_resort: str | None = "nm"):
    """One structure; returns ``(statsmodels result, optimizer, warning texts)`` or raises _FitFailed.

    Args:
        attempts: ``(optimizer, start parameters or None)`` tried in order.
        best_of_all: run every attempt and keep the converged fit with the largest REML
            likelihood (statsmodels' L-BFGS sometimes reports convergence short of the optimum
            when variances sit at the boundary); otherwise the first converged fit is kept.
        last_resort: an optimizer tried only when no attempt converged (Nelder–Mead: robust,
            but ~8x slower than Powell).
    """
    import statsmodels.api as sm

    exog = _exog(data, spec.terms)
    if structure.kind == "ols":
        return sm.OLS(data["y_std"].astype(float), exog).fit(), "ols", []
    model = _mixed_model(data, exog, structure)
    reasons, fits = [], []
    for optimizer, start in [*attempts, *([(last_resort, None)] if last_resort else [])]:
        if fits and optimizer == last_resort:
            break
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model.fit(reml=True, method=[optimizer], maxiter=5000, start_params=start)
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as err:
                reasons.append(f"{optimizer}: {err}")
                continue
        fe = np.asarray(result.fe_params, dtype=float)
        if result.converged and np.all(np.isfinite(fe)) and np.isfinite(result.llf):
            fits.append((result, optimizer, sorted({str(w.message) for w in caught})))
            if not best_of_all:
                break
        else:
            reasons.append(f"{optimizer}: " + ("did not converge" if not result.converged else "non-finite estimates"))
    if not fits:
        raise _FitFailed("; ".join(reasons))
    return max(fits, key=lambda f: f[0].llf)


def fit_model(*, data: pd.DataFrame, spec: ModelSpec) -> ModelFit:
    """Fits ``spec`` to ``data`` (from :func:`standardise_scores`) with the first random structure
    that converges; see the module docstring.

    Raises:
        DataError: not even the OLS fit is possible (rank-deficient design).
    """
    dropped = []
    n_groups = data["target"].nunique()
    for structure in spec.structures:
        if structure.kind != "ols" and n_groups < 2:
            # statsmodels may even "converge" here, but one target identifies no per-target variance.
            dropped.append((structure.label, "one target: per-target random effects are not identifiable"))
            continue
        try:
            result, optimizer, texts = _fit_structure(data, spec, structure, best_of_all=True)
        except _FitFailed as err:
            dropped.append((structure.label, str(err)))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # sqrt of a negative variance in a singular fit's SEs
            return _to_fit(result, spec=spec, structure=structure, dropped=dropped, optimizer=optimizer,
                           texts=texts, n_groups=n_groups)
    raise DataError(f"model {spec.name} cannot be fitted: " + "; ".join(f"{label}: {why}" for label, why in dropped))


def fit_strategy_model(*, data: pd.DataFrame) -> ModelFit:
    """Model 1 (Eq. 10–12); see :func:`strategy_model_spec`."""
    return fit_model(data=data, spec=strategy_model_spec(data=data))


def fit_size_model(*, data: pd.DataFrame) -> ModelFit:
    """Model 2 (Eq. 13–16); see :func:`size_model_spec`."""
    return fit_model(data=data, spec=size_model_spec(data=data))


def _to_fit(result, *, spec: ModelSpec, structure: RandomStructure, dropped, optimizer: str, texts: list[str],
            n_groups: int) -> ModelFit:
    if optimizer == "ols":
        params, bse = result.params, result.bse
        variances = pd.Series({"residual": float(result.scale)})
    else:
        params = result.fe_params
        bse = pd.Series(np.asarray(result.bse_fe, dtype=float), index=result.fe_params.index)
        values = {}
        if structure.kind == "intercept":
            values["u_target"] = float(np.asarray(result.cov_re, dtype=float).ravel()[0])
        else:
            values.update(zip([n for n, _ in structure.components], np.asarray(result.vcomp, dtype=float)))
        values["residual"] = float(result.scale)
        variances = pd.Series(values)
    scale = float(variances["residual"])
    boundary = [n for n, v in variances.items() if n != "residual" and v <= BOUNDARY_TOLERANCE * max(scale, 1e-12)]
    return ModelFit(spec=spec, structure=structure, dropped=list(dropped), params=params.reindex(spec.terms),
                    bse=bse.reindex(spec.terms), variances=variances, boundary=boundary, optimizer=optimizer,
                    llf=float(result.llf), n_obs=int(result.nobs), n_groups=int(n_groups), warnings=texts,
                    start_params=getattr(result, "params_object", None))


# ---------------------------------------------------------------------------- bootstrap

@dataclass
class Bootstrap:
    """Fixed effects refitted on resampled data.

    Attributes:
        replicates: ``(n_ok, n_terms)`` frame, one row per successful replicate.
        n_boot: replicates attempted; ``n_failed`` = ``n_boot − n_ok``.
        seed: the root seed.
    """

    replicates: pd.DataFrame
    n_boot: int
    n_failed: int
    seed: int


def resample_within_target(data: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Draws each target's rows with replacement, as many as it has (runs resampled within target)."""
    positions = [rng.choice(index, size=len(index), replace=True)
                 for index in data.groupby("target", sort=True).indices.values()]
    return data.iloc[np.concatenate(positions)].reset_index(drop=True)


def _replicate_batch(data: pd.DataFrame, spec: ModelSpec, structure: RandomStructure, attempts: Sequence[tuple],
                     seeds: Sequence[np.random.SeedSequence]) -> list[np.ndarray | None]:
    out = []
    for seed in seeds:
        sample = resample_within_target(data, np.random.default_rng(seed))
        try:
            result, optimizer, _ = _fit_structure(sample, spec, structure, attempts)
        except _FitFailed:
            out.append(None)
            continue
        params = result.params if optimizer == "ols" else result.fe_params
        out.append(pd.Series(params).reindex(spec.terms).to_numpy(dtype=float))
    return out


def bootstrap_fixed_effects(*, data: pd.DataFrame, fit: ModelFit, n_boot: int = 200, seed: int = 0,
                            n_jobs: int = 1) -> Bootstrap:
    """Refits ``fit``'s model (same random structure) on ``n_boot`` within-target resamples.

    Args:
        data: the frame the model was fitted on.
        fit: from :func:`fit_model`.
        n_boot: number of replicates B.
        seed: root seed; replicate b uses ``SeedSequence(seed).spawn(n_boot)[b]``.
        n_jobs: worker processes (1: in this process). Results do not depend on it.

    Returns:
        :class:`Bootstrap` with a ``(B_ok, n_terms)`` replicate frame.
    """
    if n_boot < 1:
        raise DataError(f"bootstrap samples={n_boot}: need at least 1")
    seeds = np.random.SeedSequence(int(seed)).spawn(int(n_boot))
    # Powell warm-started at the full-data estimates first: cold Powell starts sometimes wander
    # into singular regions on resampled data (measured: 2 of 10 refits), warm ones rarely do.
    attempts = [("powell", fit.start_params), *((o, None) for o in OPTIMIZERS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # per-replicate optimizer chatter; failures are counted
        if n_jobs <= 1:
            results = _replicate_batch(data, fit.spec, fit.structure, attempts, seeds)
        else:
            chunks = [seeds[i::n_jobs] for i in range(n_jobs)]
            with WorkerPool(n_jobs, task=f"the {fit.spec.name} model's bootstrap") as pool:
                futures = [pool.submit(_replicate_batch, data, fit.spec, fit.structure, attempts, c) for c in chunks]
                parts = [pool.result(f, in_flight=f"refitting replicates {i}::{n_jobs}") for i, f in enumerate(futures)]
            results = [None] * n_boot
            for i, part in enumerate(parts):
                results[i::n_jobs] = part
    ok = [r for r in results if r is not None]
    replicates = pd.DataFrame(np.vstack(ok) if ok else np.empty((0, len(fit.spec.terms))), columns=list(fit.spec.terms))
    failed = n_boot - len(ok)
    if failed:
        log.warning("%s model: %d of %d bootstrap refits failed and were dropped", fit.spec.name, failed, n_boot)
    return Bootstrap(replicates=replicates, n_boot=int(n_boot), n_failed=failed, seed=int(seed))


# ---------------------------------------------------------------------------- summaries

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
        data: from :func:`standardise_scores`, with one 0/1 column per source.
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
