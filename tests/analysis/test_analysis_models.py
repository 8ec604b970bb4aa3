"""Mixed models, bootstrap and variance components (mtl_music.analysis.mixed_models, .bootstrap,
.summaries) on planted data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtl_music.analysis import bootstrap, mixed_models, summaries
from mtl_music.errors import DataError

from tests.helpers.analysis import PLANTED_INTERCEPTS, PLANTED_SLOPES, SOURCES, STRATEGIES, simulate_runs, simulate_scores


def _planted_data(*, n_runs=60, targets=6, noise=0.25, seed=0, **kwargs) -> pd.DataFrame:
    """Standardised-model columns, with y* = the planted y (so the planted values are the truth)."""
    runs = simulate_runs(n_runs=n_runs, seed=seed)
    scores = simulate_scores(runs=runs, targets=targets, noise=noise, seed=seed + 1, **kwargs)
    data = mixed_models.standardize_scores(scores=scores)
    data["y_std"] = data["y_planted"]
    return data


def test_standardize_scores_within_target_and_codes_n_and_r():
    runs = simulate_runs(n_runs=24)
    scores = simulate_scores(runs=runs, targets=3)
    scores = pd.concat([scores, scores.iloc[:1].assign(target="lonely")])  # 1 run: cannot be standardised
    data = mixed_models.standardize_scores(scores=scores)

    assert "lonely" not in set(data["target"])
    per_target = data.groupby("target")["y_std"]
    np.testing.assert_allclose(per_target.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(per_target.std(), 1, atol=1e-12)
    ssr = data[data["strategy"] == "ss_r"]
    assert (ssr["nstar"] == 0).all() and (ssr["rstar"] == 0).all()
    multi = data[data["strategy"] != "ss_r"]
    np.testing.assert_array_equal(multi["nstar"], multi["n_sources"] - 2)
    assert data.loc[data["strategy"] == "ms_cr@2", "rstar"].unique().tolist() == [0.8]
    np.testing.assert_array_equal(data["n_mss_cr"], data["i_mss_cr"] * data["nstar"])
    with pytest.raises(DataError, match="not learned strategies"):
        mixed_models.standardize_scores(scores=scores.assign(strategy="mfcc"))


def test_strategy_model_recovers_planted_effects():
    # 5 targets x 48 runs and 4 replicates keep this under ~10 s (each refit of the 11-variance
    # model is ~1 s of Powell iterations).
    data = _planted_data(n_runs=48, targets=5, noise=0.2, u0_sd=0.05, u1_sd=0.01)
    fit = mixed_models.fit_strategy_model(data=data)
    assert fit.structure == fit.spec.structures[0], fit.dropped  # the paper's structure converges here
    boot = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=4, seed=0)
    table = summaries.fixed_effects_table(fit=fit, boot=boot)

    truth = {mixed_models.intercept_term(s): v for s, v in PLANTED_INTERCEPTS.items()}
    truth |= {mixed_models.slope_term(s): v for s, v in PLANTED_SLOPES.items()}
    assert set(table["term"]) == set(truth)
    for row in table.itertuples():
        tolerance = 0.2 if row.term.startswith("i_") else 0.04  # about 3 standard errors
        assert abs(row.estimate - truth[row.term]) < tolerance, row
        # Few replicates: the interval is rough, so it may miss the truth by a little.
        assert row.ci_low - tolerance / 2 <= truth[row.term] <= row.ci_high + tolerance / 2, row
    assert boot.n_failed == 0 and len(boot.replicates) == 4


def test_size_model_recovers_planted_effects():
    rng = np.random.default_rng(3)
    runs = simulate_runs(n_runs=60, seed=3)
    beta = {"Intercept": -0.8, "rstar": 1.5, "nstar": 0.1, "rn": 0.05}
    rows = []
    for d in range(6):
        u = rng.normal(0, [0.05, 0.01, 0.01])
        for run in runs.itertuples():
            r = mixed_models.NETWORK_SIZE[run.strategy]
            n = 0 if run.strategy == "ss_r" else run.n_sources - 2
            y = (beta["Intercept"] + (beta["rstar"] + u[0]) * r + (beta["nstar"] + u[1]) * n
                 + (beta["rn"] + u[2]) * r * n + rng.normal(0, 0.15))
            rows.append({**run._asdict(), "target": f"t{d}", "metric": "r2", "score": y})
    data = mixed_models.standardize_scores(scores=pd.DataFrame(rows).drop(columns="Index"))
    data["y_std"] = data["score"]  # fit on the planted scale

    fit = mixed_models.fit_size_model(data=data)
    boot = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=8, seed=1)
    table = summaries.fixed_effects_table(fit=fit, boot=boot).set_index("term")
    assert list(table.index) == ["Intercept", "rstar", "nstar", "rn"]
    for term, value in beta.items():
        tolerance = 0.15 if term in ("Intercept", "rstar") else 0.05
        assert abs(table.loc[term, "estimate"] - value) < tolerance, (term, table.loc[term].to_dict())
        assert table.loc[term, "ci_low"] - tolerance / 2 <= value <= table.loc[term, "ci_high"] + tolerance / 2


def test_fallback_to_simpler_structure_is_recorded(monkeypatch):
    data = _planted_data(n_runs=24, targets=3)
    real = mixed_models.fit_structure

    def no_random_slopes(data, spec, structure, *args, **kwargs):
        if any(name.startswith("u1_") for name, _ in structure.components):
            raise mixed_models.FitFailed("powell: did not converge")
        return real(data, spec, structure, *args, **kwargs)

    monkeypatch.setattr(mixed_models, "fit_structure", no_random_slopes)
    fit = mixed_models.fit_strategy_model(data=data)
    assert fit.structure.label.startswith("per-strategy random intercepts per target")
    assert fit.dropped == [(fit.spec.structures[0].label, "powell: did not converge")]
    assert all(not name.startswith("u1_") for name in fit.variances.index)


def test_one_target_is_fitted_by_ols():
    data = _planted_data(n_runs=24, targets=1)
    fit = mixed_models.fit_size_model(data=data)
    assert fit.structure.kind == "ols" and fit.optimizer == "ols"
    assert all(why.startswith("one target") for _, why in fit.dropped) and len(fit.dropped) == 4


def test_constant_n_drops_that_strategy_slope_and_rank_deficiency_is_an_error():
    data = _planted_data(n_runs=24, targets=3)
    data.loc[data["strategy"] == "ms_sr@fc", ["nstar", "n_ms_sr_fc"]] = 6.0  # only n = 8 runs
    spec = mixed_models.strategy_model_spec(data=data)
    assert "n_ms_sr_fc" not in spec.terms and "i_ms_sr_fc" in spec.terms
    # SS-R's n* is always 0, so an SS-R slope column is all zeros.
    ols_only = mixed_models.ModelSpec(name="broken", terms=("i_ss_r", "n_ss_r"), labels={"i_ss_r": "x", "n_ss_r": "y"},
                                structures=(mixed_models.RandomStructure("OLS", "ols"),))
    with pytest.raises(DataError, match="rank deficient"):
        mixed_models.fit_model(data=data, spec=ols_only)


def test_bootstrap_is_seeded_and_independent_of_n_jobs():
    data = _planted_data(n_runs=24, targets=3)
    fit = mixed_models.fit_size_model(data=data)
    first = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=4, seed=5)
    again = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=4, seed=5, n_jobs=2)
    other = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=4, seed=6)
    pd.testing.assert_frame_equal(first.replicates, again.replicates)
    assert not np.allclose(first.replicates.to_numpy(), other.replicates.to_numpy())
    # Resampling keeps every target's size.
    sample = bootstrap.resample_within_target(data, np.random.default_rng(0))
    assert sample.groupby("target").size().equals(data.groupby("target").size())


def test_contrasts_pairwise_and_p_values_from_known_replicates():
    data = _planted_data(n_runs=24, targets=3)
    spec = mixed_models.strategy_model_spec(data=data)
    spec = mixed_models.ModelSpec(name=spec.name, terms=spec.terms, labels=spec.labels,
                            structures=(mixed_models.RandomStructure("OLS", "ols"),))
    fit = mixed_models.fit_model(data=data, spec=spec)
    replicates = pd.DataFrame(0.0, index=range(100), columns=list(spec.terms))
    replicates["i_mss_cr"] = np.linspace(1, 2, 100)       # always above i_ms_cr_2 + 0
    replicates["i_ms_cr_2"] = np.linspace(-0.5, 1.5, 100)  # straddles i_ss_r = 0
    boot = bootstrap.Bootstrap(replicates=replicates, n_boot=100, n_failed=0, seed=0)

    pairs = summaries.pairwise_comparisons(fit=fit, boot=boot).set_index("comparison")
    assert len(pairs) == 15  # 6 strategies, every pair once
    row = pairs.loc["MSS-CR − SS-R"]
    assert row["ci_low"] == pytest.approx(np.quantile(np.linspace(1, 2, 100), 0.025))
    assert row["p_boot"] == 0.0
    straddling = pairs.loc["MS-CR@2 − SS-R"]
    assert straddling["ci_low"] < 0 < straddling["ci_high"]
    assert straddling["p_boot"] == pytest.approx(2 * 25 / 100)  # 25 of 100 replicates ≤ 0
    assert row["estimate"] == pytest.approx(fit.params["i_mss_cr"] - fit.params["i_ss_r"])
    mean_slope = summaries.mean_multisource_slope(fit=fit, boot=boot)
    slopes = [t for t in spec.terms if t.startswith("n_")]
    assert mean_slope["estimate"] == pytest.approx(fit.params[slopes].mean())


def test_variance_components_single_out_the_planted_source():
    runs = simulate_runs(n_runs=90, seed=2)
    scores = simulate_scores(runs=runs, targets=2, noise=0.2, seed=4,
                             source_effects={0: {"bpm": 1.5}, 1: {"tag": 0.8, "artist": 0.8}})
    data = mixed_models.standardize_scores(scores=scores)
    table = summaries.variance_components(data=data, sources=list(SOURCES))
    wide = table.pivot(index="source", columns="target", values="percent")
    assert wide["target0"].idxmax() == "bpm" and wide.loc["bpm", "target0"] > 80
    assert set(wide["target1"].nlargest(2).index) == {"tag", "artist"}
    np.testing.assert_allclose(wide.sum(), 100)
    assert (table["component"].dropna() >= 0).all()
    pairs, r = summaries.single_source_association(data=data, components=table)
    assert set(pairs.columns) == {"source", "target", "ssr_mean_std", "percent"} and np.isfinite(r)


def test_main_effect_correlation_is_symmetric_in_unit_range():
    data = _planted_data(n_runs=24, targets=2)
    corr = summaries.main_effect_correlation(data=data, sources=list(SOURCES))
    assert corr.shape[0] == corr.shape[1] and {"SS-R", "n sources", "tag"} <= set(corr.index)
    np.testing.assert_allclose(corr.to_numpy(), corr.to_numpy().T)
    assert ((corr >= 0) & (corr <= 1 + 1e-12)).all().all()
    assert set(STRATEGIES) == set(mixed_models.NETWORK_SIZE)
