"""Every figure of mtl_music.analysis.figures from a small synthetic results table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mtl_music.analysis import figures, mixed_models, summaries
from mtl_music.errors import DataError

from tests.helpers.analysis import SOURCES, simulate_runs, simulate_scores

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tables():
    runs = simulate_runs(n_runs=24, seed=1)
    scores = simulate_scores(runs=runs, targets=3, seed=2, source_effects={0: {"bpm": 1.0}})
    data = mixed_models.standardize_scores(scores=scores)
    baselines = pd.DataFrame({"folder": ".", "baseline": ["rand", "mfcc"] * 3,
                              "target": np.repeat(sorted(set(data["target"])), 2), "metric": "accuracy",
                              "score": [0.3, 0.4] * 3, "n_repetitions": 2})
    effects1 = pd.DataFrame({"term": ["i_ss_r", "i_mss_cr", "n_mss_cr"], "label": ["β0 SS-R", "β0 MSS-CR", "β1 MSS-CR"],
                             "strategy": ["ss_r", "mss_cr", "mss_cr"], "estimate": [-1.0, 0.5, 0.16],
                             "ci_low": [-1.2, 0.3, 0.1], "ci_high": [-0.8, 0.7, 0.2]})
    effects2 = pd.DataFrame({"term": ["Intercept", "rstar"], "label": ["β0 intercept", "β10 network size r*"],
                             "strategy": "", "estimate": [-1.0, 1.5], "ci_low": [-1.1, 1.6], "ci_high": [-0.9, 1.9]})
    components = summaries.variance_components(data=data, sources=list(SOURCES))
    association, _ = summaries.single_source_association(data=data, components=components)
    counts = pd.DataFrame({"strategy": ["ss_r", "mss_cr", "mss_cr", "ms_sr@fc", "ms_sr@fc"],
                           "n_sources": [1, 2, 3, 2, 3], "n_params": [576482, 1152964, 1729446, 590000, 600000]})
    alias = summaries.main_effect_correlation(data=data, sources=list(SOURCES))
    return dict(data=data, baselines=baselines, effects1=effects1, effects2=effects2, components=components,
                association=association, counts=counts, alias=alias)


def _is_png(path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


def test_every_figure_is_a_png(tables, tmp_path):
    t = tables
    rng = np.random.default_rng(0)
    labels = np.repeat(["blues", "jazz", "rock"], 20)
    features = rng.normal(size=(60, 64)) + 3 * (labels[:, None] == "jazz")  # one separable class
    drawn = [
        figures.alias_matrix(alias=t["alias"], path=tmp_path / "fig7.png"),
        figures.single_source_performance(scores=t["data"], baselines=t["baselines"], path=tmp_path / "fig8.png"),
        figures.strategy_performance(scores=t["data"], baselines=t["baselines"], path=tmp_path / "fig9.png"),
        figures.performance_by_sources(data=t["data"], path=tmp_path / "fig10.png"),
        figures.strategy_effects(table=t["effects1"], path=tmp_path / "fig11.png"),
        figures.size_effects(table=t["effects2"], path=tmp_path / "fig12.png"),
        figures.variance_components_heatmap(components=t["components"], path=tmp_path / "table6.png"),
        figures.variance_vs_single_source(pairs=t["association"], path=tmp_path / "fig14.png"),
        figures.parameters_by_sources(counts=t["counts"], path=tmp_path / "sub" / "fig15.png"),
        figures.tsne_embedding(features=features, labels=labels, path=tmp_path / "fig16.png", perplexity=30),
    ]
    for path in drawn:
        assert _is_png(path), path
    assert drawn[8] == tmp_path / "sub" / "fig15.png"  # folders are created


def test_figures_reject_unusable_inputs(tables, tmp_path):
    with pytest.raises(DataError, match="no SS-R runs"):
        figures.single_source_performance(scores=tables["data"].query("strategy != 'ss_r'"), baselines=None,
                                          path=tmp_path / "x.png")
    with pytest.raises(DataError, match="lacks columns"):
        figures.performance_by_sources(data=tables["data"].drop(columns="y_std"), path=tmp_path / "x.png")
    with pytest.raises(DataError, match="do not match"):
        figures.tsne_embedding(features=np.zeros((10, 3)), labels=["a"] * 9, path=tmp_path / "x.png")
    with pytest.raises(DataError, match="empty"):
        figures.alias_matrix(alias=pd.DataFrame(), path=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
