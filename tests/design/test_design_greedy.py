"""Phase 3, Algorithm 2: what the greedy guarantees, reproducibility, aliasing vs random runs.

The balance checks recount the design from its runs and the candidate set built here with
itertools, independently of the greedy's own bookkeeping.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from mtl_music.experiment import design_space, greedy_phase3, max_aliasing
from mtl_music.experiment.factors import phase3_candidates
from mtl_music.paper import PAPER_SOURCES


def _spread(counts: Counter, levels: set) -> int:
    """max − min count over ``levels`` (0 when fewer than two)."""
    values = [counts[level] for level in levels]
    return max(values) - min(values) if len(values) > 1 else 0


def balance_trace(picks, *, sources, strategies):
    """After every step: the unbalance of each factor over its non-exhausted levels.

    Returns a DataFrame, one row per step, columns n, strategy|n, strategy, sources, sources|n.
    """
    candidates = {(s, t) for n in range(2, len(sources)) for s in combinations(sources, n) for t in strategies}
    remaining = set(candidates)
    chosen: list = []
    rows = []
    for pick in picks:
        run = (pick.sources, pick.strategy)
        assert run in remaining  # each candidate at most once
        remaining.discard(run)
        chosen.append(run)
        n_levels = {len(s) for s, _ in remaining}
        row = {
            "n": _spread(Counter(len(s) for s, _ in chosen), n_levels),
            "strategy": _spread(Counter(t for _, t in chosen), {t for _, t in remaining}),
            "sources": _spread(Counter(x for s, _ in chosen for x in s), {x for s, _ in remaining for x in s}),
        }
        row["strategy|n"] = max(
            [_spread(Counter(t for s, t in chosen if len(s) == n), {t for s, t in remaining if len(s) == n})
             for n in n_levels], default=0)
        row["sources|n"] = max(
            [_spread(Counter(x for s, _ in chosen if len(s) == n for x in s),
                     {x for s, _ in remaining if len(s) == n for x in s}) for n in n_levels], default=0)
        rows.append(row)
    return pd.DataFrame(rows)


def test_n_and_strategy_within_n_stay_within_one_at_every_step(paper_space, full_phase3):
    """The guarantee: every prefix of the whole 1230-run sequence, exhaustion of n = 7 included."""
    trace = balance_trace(full_phase3, sources=paper_space.sources, strategies=paper_space.multi_source)
    assert trace["n"].max() <= 1
    assert trace["strategy|n"].max() <= 1
    # The greedy's own bookkeeping agrees with the recount.
    recorded = pd.DataFrame([p.unbalance for p in full_phase3])
    assert (recorded[trace.columns].values >= trace.values).all()  # recorded: before exhaustion updates
    assert (recorded[["n", "strategy|n"]].values <= 1).all()


def test_guarantee_holds_for_another_space():
    space = design_space(sources=["self", "bpm", "tag", "taste", "year"], strategies=["ms_cr@4", "mss_cr", "ms_sr@fc"])
    picks = greedy_phase3(space=space, runs=None, seed=3)
    trace = balance_trace(picks, sources=space.sources, strategies=space.multi_source)
    assert trace["n"].max() <= 1 and trace["strategy|n"].max() <= 1


def test_papers_352_runs_are_balanced_everywhere_within_two_or_three(paper_space, full_phase3):
    """Not guaranteed — measured (seeds 0–7: ≤ 2 for strategy and sources, ≤ 3 for sources|n);
    kept as a regression check of the second stage."""
    trace = balance_trace(full_phase3[:352], sources=paper_space.sources, strategies=paper_space.multi_source)
    assert trace["strategy"].max() <= 2 and trace["sources"].max() <= 2
    assert trace["sources|n"].max() <= 3
    # Nothing exhausted at 352 but n = 7 (40 runs).
    n_counts = Counter(len(p.sources) for p in full_phase3[:352])
    assert n_counts[7] == 40 and max(n_counts.values()) - min(n_counts[n] for n in range(2, 7)) <= 1


def test_same_seed_same_design_other_seed_other_design(paper_space, full_phase3):
    again = greedy_phase3(space=paper_space, runs=100, seed=0)
    other = greedy_phase3(space=paper_space, runs=100, seed=1)
    runs = [(p.sources, p.strategy) for p in again]
    assert runs == [(p.sources, p.strategy) for p in full_phase3[:100]]  # also: a shorter budget is a prefix
    assert runs != [(p.sources, p.strategy) for p in other]


def _as_table(runs) -> pd.DataFrame:
    return pd.DataFrame({"strategy": [t for _, t in runs], "sources": ["+".join(s) for s, _ in runs]})


def test_greedy_aliasing_is_lower_than_random_runs(paper_space, full_phase3):
    levels = dict(sources=paper_space.sources, strategies=paper_space.multi_source)
    greedy = max_aliasing(design=_as_table([(p.sources, p.strategy) for p in full_phase3[:50]]), **levels)
    assert greedy == pytest.approx(full_phase3[49].max_aliasing)
    candidates = phase3_candidates(space=paper_space)
    rng = np.random.default_rng(0)
    random = [
        max_aliasing(design=_as_table([candidates[i] for i in rng.choice(len(candidates), 50, replace=False)]), **levels)
        for _ in range(10)
    ]
    assert greedy < np.mean(random)
    # With a few greedy seeds too, the mean is lower by a clear margin (measured 0.23 vs 0.36).
    seeds = [greedy_phase3(space=paper_space, runs=50, seed=s)[-1].max_aliasing for s in (1, 2)]
    assert np.mean([greedy, *seeds]) < np.mean(random) - 0.05


def test_every_run_comes_once_and_has_two_to_m_minus_1_sources(full_phase3):
    runs = [(p.sources, p.strategy) for p in full_phase3]
    assert len(set(runs)) == len(runs) == 1230
    assert all(2 <= len(s) <= len(PAPER_SOURCES) - 1 for s, _ in runs)
