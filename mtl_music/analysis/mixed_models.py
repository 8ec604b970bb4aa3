"""The mixed models of the sweep analysis (paper Sect. 5.2, Eq. 10–16; SPEC R7.3): standardized
scores, the two model specifications and their fits with the random-structure fallback.

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

How this differs from the paper's lme4 fits
-------------------------------------------
* Software and optimizer: statsmodels ``MixedLM`` (REML, as lme4's default) with Powell and
  L-BFGS, not lme4's bobyqa / Nelder–Mead; convergence criteria differ, and statsmodels
  parameterises the variances differently, so variance estimates near 0 may differ slightly.
* Random effects: MixedLM has one grouping factor. Eq. 10–16 only need target, so the models
  themselves are as in the paper (per-strategy independent components via ``vc_formula``). Crossed
  random effects (one random factor per source, as lme4 would fit Table 6) are only possible in
  MixedLM by putting all rows in one group with 8 two-level variance components, which is slow and
  mostly lands on the boundary; hence the OLS moment estimator of the variance components
  (:mod:`mtl_music.analysis.summaries`).
* Fallback: lme4 keeps singular fits and warns; we do too, but when an optimizer does not
  converge we drop to a simpler random structure instead of reporting a non-converged fit.
* No Satterthwaite / Kenward–Roger degrees of freedom; model-based standard errors are reported
  for reference only.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from mtl_music.analysis.collect import split_sources
from mtl_music.errors import DataError
from mtl_music.paper import STRATEGIES, STRATEGY_LABELS

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


# ---------------------------------------------------------------------------- standardized scores

def standardize_scores(*, scores: pd.DataFrame) -> pd.DataFrame:
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


class FitFailed(Exception):
    """A structure could not be fitted (reason in the message)."""


def _exog(data: pd.DataFrame, terms: Sequence[str]) -> pd.DataFrame:
    exog = pd.DataFrame({t: (np.ones(len(data)) if t == "Intercept" else data[t].to_numpy(dtype=float))
                         for t in terms}, index=data.index)
    if np.linalg.matrix_rank(exog.to_numpy()) < exog.shape[1]:
        raise FitFailed("the fixed-effects design is rank deficient (a strategy or n* level has no variation)")
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


def fit_structure(data: pd.DataFrame, spec: ModelSpec, structure: RandomStructure,
                   attempts: Sequence[tuple[str, object]] = tuple((o, None) for o in OPTIMIZERS), *,
                   best_of_all: bool = False, last_resort: str | None = "nm"):
    """One structure; returns ``(statsmodels result, optimizer, warning texts)`` or raises FitFailed.

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
        raise FitFailed("; ".join(reasons))
    return max(fits, key=lambda f: f[0].llf)


def fit_model(*, data: pd.DataFrame, spec: ModelSpec) -> ModelFit:
    """Fits ``spec`` to ``data`` (from :func:`standardize_scores`) with the first random structure
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
            result, optimizer, texts = fit_structure(data, spec, structure, best_of_all=True)
        except FitFailed as err:
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
