"""The findings verdicts and the markdown helpers of mtl_music.analysis.report."""

from __future__ import annotations

import pandas as pd

from mtl_music.analysis import report
from mtl_music.paper import STRATEGIES, STRATEGY_LABELS


def _pairwise(differences: dict[tuple[str, str], tuple[float, float, float]]) -> pd.DataFrame:
    """Every pair of the six strategies; unspecified pairs are clearly positive."""
    rows = []
    for i, b in enumerate(STRATEGIES):
        for a in STRATEGIES[i + 1:]:
            est, low, high = differences.get((a, b), (1.0, 0.5, 1.5))
            rows.append({"comparison": f"{STRATEGY_LABELS[a]} − {STRATEGY_LABELS[b]}", "a": a, "b": b,
                         "estimate": est, "ci_low": low, "ci_high": high, "p_boot": 0.0, "n_boot": 200})
    return pd.DataFrame(rows)


def _effects(slopes=(0.15, 0.1, 0.2)) -> tuple[pd.DataFrame, pd.DataFrame]:
    effects1 = pd.DataFrame([{"term": f"i_{s}", "label": f"β0 {s}", "strategy": s, "estimate": 0.0, "ci_low": -0.1,
                              "ci_high": 0.1} for s in STRATEGIES]
                            + [{"term": "n_mss_cr", "label": "β1 MSS-CR", "strategy": "mss_cr", "estimate": slopes[0],
                                "ci_low": slopes[1], "ci_high": slopes[2]}])
    effects2 = pd.DataFrame([{"term": "rstar", "label": "β10", "strategy": "", "estimate": 1.5, "ci_low": 1.2,
                              "ci_high": 1.8},
                             {"term": "nstar", "label": "β20", "strategy": "", "estimate": 0.05, "ci_low": -0.01,
                              "ci_high": 0.1}])
    return effects1, effects2


def test_all_claims_hold_when_every_interval_is_positive():
    effects1, effects2 = _effects()
    findings = report.assess_findings(pairwise=_pairwise({}), effects1=effects1, effects2=effects2,
                                      mean_slope={"estimate": 0.15, "ci_low": 0.1, "ci_high": 0.2})
    assert [f.verdict for f in findings] == [report.HOLDS] * 3
    assert "p < 0.005" in findings[0].evidence[0]  # p = 0 shown as below the bootstrap's resolution
    assert any("β20" in line and report.INCONCLUSIVE in line for line in findings[2].evidence)


def test_reversed_and_spanning_intervals():
    effects1, effects2 = _effects()
    # MS-SR@FC significantly *worse* than SS-R; MS-CR@6 vs MS-SR@FC spans 0.
    pairwise = _pairwise({("ms_sr@fc", "ss_r"): (-0.5, -0.8, -0.2), ("ms_cr@6", "ms_sr@fc"): (0.1, -0.1, 0.3)})
    findings = report.assess_findings(pairwise=pairwise, effects1=effects1, effects2=effects2,
                                      mean_slope={"estimate": 0.05, "ci_low": -0.02, "ci_high": 0.12})
    assert findings[0].verdict == report.FAILS
    assert findings[1].verdict == report.FAILS
    assert findings[2].verdict == report.INCONCLUSIVE
    spanning = _pairwise({("ms_cr@6", "ms_sr@fc"): (0.1, -0.1, 0.3)})
    assert report.assess_findings(pairwise=spanning, effects1=effects1, effects2=effects2,
                                  mean_slope=None)[1].verdict == report.INCONCLUSIVE


def test_missing_strategies_are_not_testable():
    effects1, effects2 = _effects()
    pairwise = _pairwise({})
    no_ssr = pairwise[(pairwise["a"] != "ss_r") & (pairwise["b"] != "ss_r")]
    findings = report.assess_findings(pairwise=no_ssr, effects1=effects1[effects1["strategy"] != "ss_r"],
                                      effects2=effects2, mean_slope=None)
    assert [f.verdict for f in findings] == [report.UNTESTABLE] * 3


def test_markdown_table():
    text = report.markdown_table(pd.DataFrame({"a": ["x|y"], "b": [1.23456], "c": [float("nan")]}), digits=2)
    assert text.splitlines() == ["| a | b | c |", "|---|---|---|", "| x\\|y | 1.23 |  |"]
