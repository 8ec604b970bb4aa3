"""Aliasing between the main effects of a design (paper Sect. 4.3, footnotes 6 and 8, Fig. 7).

Model matrix of the main effects, one row per run, no intercept column:

* one column per source, effect coding: +1 when the source is in the run, -1 when it is out;
* one column per strategy level, indicator coding: 1 when the run uses that strategy, else 0.

The aliasing between two columns i and j is the absolute correlation of the two columns over
the runs, |corr(x_i, x_j)|. This is the alias matrix of Goos & Jones (the paper's [83],
Sect. 2.3.7), A = (X1ᵀX1)⁻¹ X1ᵀ X2, for the one-term model X1 = [1, x_i] with X2 = x_j — the
bias that an unmodelled effect j puts on the estimate of effect i — made symmetric and
scale-free by standardising both columns; it runs from 0 (orthogonal: no aliasing) to 1 (the
two effects cannot be told apart), as the paper's footnote 6 describes. Correlations do not
depend on the affine coding of a column (±1 or 0/1 give the same value). The strategy uses one
indicator per level rather than sum-to-zero contrasts because contrast columns depend on which
level is the reference; indicators give one row per level for Fig. 7 and a value that does not.

Indicators of the same factor are correlated by construction (a run has exactly one strategy),
so **the maximum aliasing between main effects** is taken over pairs of columns that belong
to *different* factors: source–source and source–strategy. The number of sources n is left
out of the matrix: it is the sum of the source columns, not a separate effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

#: A column whose variance is below this is constant over the runs: it aliases with nothing.
_ZERO_VARIANCE = 1e-12


@dataclass(frozen=True)
class MainEffects:
    """The columns of the main-effect model matrix.

    Attributes:
        labels: (p,) column names: the sources, then the strategy levels.
        factor: (p,) the factor of each column: ``i`` for source i, ``m`` for every strategy.
        sources: the m sources, in column order.
        strategies: the strategy levels, in column order.
    """

    labels: tuple[str, ...]
    factor: np.ndarray
    sources: tuple[str, ...]
    strategies: tuple[str, ...]

    @property
    def cross_factor(self) -> np.ndarray:
        """(p, p) bool: the pairs of columns of different factors (what the maximum runs over)."""
        return self.factor[:, None] != self.factor[None, :]


def main_effects(*, sources: Sequence[str], strategies: Sequence[str]) -> MainEffects:
    """The main-effect columns for these sources and strategy levels."""
    sources, strategies = tuple(sources), tuple(strategies)
    m = len(sources)
    return MainEffects(
        labels=sources + strategies,
        factor=np.array(list(range(m)) + [m] * len(strategies)),
        sources=sources,
        strategies=strategies,
    )


def encode(*, effects: MainEffects, run_sources: Sequence[Sequence[str]], run_strategies: Sequence[str]) -> np.ndarray:
    """Model matrix of main effects.

    Args:
        effects: the columns (:func:`main_effects`).
        run_sources: (N,) the sources of each run.
        run_strategies: (N,) the strategy of each run.

    Returns:
        (N, p) float64: ±1 source columns, then 0/1 strategy indicators.
    """
    source_index = {s: i for i, s in enumerate(effects.sources)}
    strategy_index = {s: i for i, s in enumerate(effects.strategies)}
    m = len(effects.sources)
    x = np.zeros((len(run_strategies), len(effects.labels)))
    x[:, :m] = -1.0
    for row, (names, strategy) in enumerate(zip(run_sources, run_strategies)):
        for name in names:
            x[row, source_index[name]] = 1.0
        x[row, m + strategy_index[strategy]] = 1.0
    return x


def _correlations(count: int | np.ndarray, sums: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Correlations from moments; batched over leading axes.

    Args:
        count: runs N (scalar, or (K,)).
        sums: (..., p) column sums.
        gram: (..., p, p) XᵀX.

    Returns:
        (..., p, p) correlations, 0 where a column is constant, 1 on the diagonal.
    """
    count = np.asarray(count, dtype=float)[..., None]
    mean = sums / count
    cov = gram / count[..., None] - mean[..., :, None] * mean[..., None, :]
    std = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0.0, None))
    denom = std[..., :, None] * std[..., None, :]
    corr = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > _ZERO_VARIANCE)
    p = sums.shape[-1]
    corr[..., np.arange(p), np.arange(p)] = 1.0
    return corr


def correlation_matrix(x: np.ndarray) -> np.ndarray:
    """(N, p) model matrix → (p, p) correlations of its columns (constant columns: 0)."""
    return _correlations(len(x), x.sum(axis=0), x.T @ x)


class AliasTracker:
    """Running moments of a growing design, to score many candidate next runs at once.

    The greedy asks, for every candidate row r, the maximum cross-factor aliasing of the design
    with r appended. Keeping N, Σx and XᵀX makes that an O(p²) update per candidate instead of
    recomputing the correlation of the whole design.
    """

    def __init__(self, *, effects: MainEffects, rows: np.ndarray | None = None):
        p = len(effects.labels)
        self.effects = effects
        self.count = 0
        self.sums = np.zeros(p)
        self.gram = np.zeros((p, p))
        if rows is not None and len(rows):
            self.add(rows)

    def add(self, rows: np.ndarray) -> None:
        """Appends (N, p) rows (or one (p,) row) to the design."""
        rows = np.atleast_2d(rows)
        self.count += len(rows)
        self.sums += rows.sum(axis=0)
        self.gram += rows.T @ rows

    def max_aliasing(self) -> float:
        """The design's maximum absolute aliasing between columns of different factors."""
        if self.count == 0:
            return 0.0
        corr = _correlations(self.count, self.sums, self.gram)
        return float(np.abs(corr[self.effects.cross_factor]).max(initial=0.0))

    def max_aliasing_if_added(self, rows: np.ndarray) -> np.ndarray:
        """(K, p) candidate rows → (K,) maximum cross-factor aliasing of the design plus each one."""
        sums = self.sums[None, :] + rows
        gram = self.gram[None, :, :] + rows[:, :, None] * rows[:, None, :]
        corr = _correlations(np.full(len(rows), self.count + 1), sums, gram)
        return np.abs(corr[:, self.effects.cross_factor]).max(axis=1, initial=0.0)


def _split_sources(joined) -> list[str]:
    """A ``+``-joined ``sources`` cell → names (an empty cell, or NaN from a csv: none)."""
    return [name for name in str(joined).split("+") if name] if isinstance(joined, str) else []


def _design_levels(design: pd.DataFrame, sources: Sequence[str] | None, strategies: Sequence[str] | None):
    if sources is None:
        # Order of first appearance: phase 1 lists the sources in configuration order.
        sources = list(dict.fromkeys(s for joined in design["sources"] for s in _split_sources(joined)))
    if strategies is None:
        strategies = list(dict.fromkeys(design["strategy"]))
    return main_effects(sources=sources, strategies=strategies)


def _model_matrix(design: pd.DataFrame, effects: MainEffects) -> np.ndarray:
    return encode(
        effects=effects,
        run_sources=[_split_sources(joined) for joined in design["sources"]],
        run_strategies=list(design["strategy"]),
    )


def alias_matrix(
    *, design: pd.DataFrame, sources: Sequence[str] | None = None, strategies: Sequence[str] | None = None
) -> pd.DataFrame:
    """The absolute aliasing between every pair of main-effect columns (Fig. 7).

    Args:
        design: a design table (:func:`mtl_music.design.build_design` or ``design.csv``):
            columns ``strategy`` and ``sources`` (``+``-joined); any subset of its rows.
        sources: the source columns, in order; ``None``: those of the table, in order of first
            appearance.
        strategies: the strategy levels, in order; ``None``: those of the table.

    Returns:
        (p, p) DataFrame indexed both ways by the labels (sources, then strategies), values in
        [0, 1], 1 on the diagonal. Entries between two strategy levels are the indicator
        coding's own correlation, not aliasing; :func:`max_aliasing` leaves them out.
    """
    effects = _design_levels(design, sources, strategies)
    corr = np.abs(correlation_matrix(_model_matrix(design, effects)))
    return pd.DataFrame(corr, index=list(effects.labels), columns=list(effects.labels))


def max_aliasing(
    *, design: pd.DataFrame, sources: Sequence[str] | None = None, strategies: Sequence[str] | None = None
) -> float:
    """The maximum absolute aliasing between main effects of different factors (a scalar)."""
    effects = _design_levels(design, sources, strategies)
    tracker = AliasTracker(effects=effects, rows=_model_matrix(design, effects))
    return tracker.max_aliasing()
