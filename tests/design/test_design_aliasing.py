"""The alias matrix of the main effects (Fig. 7) and the greedy's incremental version of it."""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest

from mtl_music.experiment import alias_matrix, max_aliasing
from mtl_music.experiment.aliasing import AliasTracker, encode, main_effects


def _table(rows):
    return pd.DataFrame({"strategy": [t for _, t in rows], "sources": ["+".join(s) for s, _ in rows]})


def test_an_orthogonal_design_has_no_aliasing():
    # a, b, c in/out full factorial (c always in, so it is constant), crossed with 2 strategies.
    rows = []
    for a, b, strategy in product((0, 1), (0, 1), ("ms_cr@4", "mss_cr")):
        rows.append((tuple(s for s, on in zip(("a", "b", "c"), (a, b, 1)) if on), strategy))
    matrix = alias_matrix(design=_table(rows), sources=["a", "b", "c"], strategies=["ms_cr@4", "mss_cr"])
    assert list(matrix.index) == list(matrix.columns) == ["a", "b", "c", "ms_cr@4", "mss_cr"]
    assert np.allclose(np.diag(matrix), 1.0)
    assert matrix.loc["a", "b"] == pytest.approx(0) and matrix.loc["a", "mss_cr"] == pytest.approx(0)
    assert matrix.loc["c"].drop("c").abs().max() == 0  # constant: aliases with nothing
    assert matrix.loc["ms_cr@4", "mss_cr"] == pytest.approx(1)  # indicators of one factor: not aliasing
    assert max_aliasing(design=_table(rows)) == pytest.approx(0)


def test_fully_aliased_effects_score_one():
    rows = [(("a", "b"), "mss_cr"), ((), "ms_cr@4"), (("a", "b"), "mss_cr"), ((), "ms_cr@4")]
    matrix = alias_matrix(design=_table(rows), sources=["a", "b"], strategies=["ms_cr@4", "mss_cr"])
    assert matrix.loc["a", "b"] == pytest.approx(1) and matrix.loc["a", "mss_cr"] == pytest.approx(1)


def test_matrix_is_the_absolute_correlation_of_the_model_matrix(paper_design):
    matrix = alias_matrix(design=paper_design)  # levels inferred from the table
    x = encode(effects=main_effects(sources=list(matrix.index[:8]), strategies=list(matrix.index[8:])),
               run_sources=[s.split("+") for s in paper_design["sources"]], run_strategies=list(paper_design["strategy"]))
    assert np.allclose(matrix.values, np.abs(np.corrcoef(x, rowvar=False)))
    assert np.allclose(matrix.values, matrix.values.T) and (matrix.values <= 1 + 1e-12).all()
    assert list(matrix.index[:8]) == list(paper_design.columns[5:13])  # sources in configuration order


def test_incremental_scores_equal_recomputation(paper_space, full_phase3):
    effects = main_effects(sources=paper_space.sources, strategies=paper_space.multi_source)
    runs = [(p.sources, p.strategy) for p in full_phase3[:40]]
    x = encode(effects=effects, run_sources=[s for s, _ in runs], run_strategies=[t for _, t in runs])
    tracker = AliasTracker(effects=effects, rows=x[:30])
    scored = tracker.max_aliasing_if_added(x[30:])
    for row, score in zip(x[30:], scored):
        alone = AliasTracker(effects=effects, rows=np.vstack([x[:30], row]))
        assert score == pytest.approx(alone.max_aliasing())
