"""Phase 3: the greedy sequential fractional design (paper Sect. 4.3, Algorithm 2).

Candidates A: every (source subset of size n = 2..m-1, multi-source strategy) pair
(:func:`~mtl_music.experiment.factors.phase3_candidates`; 1230 in the paper). The design B starts
empty; each step

1. scores every remaining candidate o by the **unbalance** of B ∪ {o} and keeps the set O of
   those with the smallest;
2. scores every o in O by the **maximum absolute aliasing between main effects** of
   B ∪ {o} (:mod:`~mtl_music.experiment.aliasing`) and keeps the set P of those with the smallest
   (ties within 1e-9);
3. picks one run of P uniformly at random with a seeded ``numpy`` generator, appends it to B
   and removes it from A.

Each run is chosen as if it were the last one ("run as long as time permits"), so the design
of budget b is the first b runs of any longer one with the same seed.

**Unbalance.** For one factor it is max − min of the run counts of its levels (the paper's
footnote 7), over the levels not yet exhausted — a level is exhausted when no remaining
candidate has it (with 8 sources n = 7 has only 8 × 5 = 40 runs and runs out first; counting
it would leave every candidate equally "unbalanced" forever after and blind the criterion).
The factors:

* ``n``: the number of sources (levels 2..m-1);
* ``strategy``: the multi-source strategies;
* ``sources``: how many runs each source is in. A presence factor's own two levels cannot be
  balanced — a run of n sources has n "in" and m-n "out" — but when every source is in equally
  many runs, every presence factor has the same in/out split, the best subsets can do;
* ``strategy|n`` and ``sources|n``: the same two counts within each level of n (the largest
  unbalance over the levels of n), so that each n is covered by every strategy and source
  alike, which the per-n comparisons (Eqs. 10–12, Figs. 8–15) rely on.

Step 1 compares candidates in two stages: first by the maximum unbalance of ``n`` and
``strategy|n`` (the paper's "maximum unbalance between the levels of any factor" over these
two), then, among the minimal ones, by the unbalances of ``strategy``, ``sources`` and
``sources|n`` sorted in decreasing order, compared lexicographically (minimise the largest,
then the next, ...). Why not the paper's single maximum over all factors: measured on the
paper's 8 sources × 5 strategies, one maximum over (n, strategy, sources) leaves n unbalanced
by 3–4 and strategies within an n by 8–10 after 352 runs (the greedy walks into states where
every candidate breaks some factor, and then the maximum cannot tell a mild break from a bad
one); over all five factors it reaches 3 on most of them. The two stages keep n and
strategy|n within 1 always, strategy and sources within 2 and sources|n within 2–3 for those
352 runs (seeds 0–7).

Phases 1 and 2 add the same count to every source and to every multi-source strategy and only
exhausted levels of n (1 and m), so the counts here are phase 3's own. The aliasing is that of
the phase-3 runs too: with phases 1 and 2 in it, its maximum is the ``ss_r``-vs-source aliasing
that phase 1 builds in (0.28 in the paper's design; phase-3 runs barely move it), and the
criterion then trades everything else for slivers of it (measured: the final design's largest
source–source aliasing 0.24 instead of 0.18).

**What is guaranteed** (by induction; tested): after every step, the counts of the
non-exhausted levels of n differ by at most 1, and within every n the counts of the
non-exhausted strategies differ by at most 1 — a candidate of a least-run n with a least-run
strategy within that n always remains, since a level is only non-exhausted while it has a
remaining candidate. Each run also has the smallest second-stage unbalance, then the smallest
aliasing, any remaining candidate could give; how small that is depends on the candidate set,
not on the algorithm (see the numbers above).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtl_music.experiment.aliasing import AliasTracker, encode, main_effects
from mtl_music.experiment.factors import DesignSpace, phase3_candidates
from mtl_music.errors import ConfigError

#: Aliasing values closer than this are ties (float round-off must not decide between runs).
ALIASING_TIE = 1e-9

_BIG = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class GreedyPick:
    """One phase-3 run and how it was chosen.

    Attributes:
        sources: the run's sources (space order).
        strategy: the run's multi-source strategy.
        unbalance: factor → the design's unbalance with this run added (see the module doc).
        max_aliasing: the design's maximum cross-factor aliasing with this run added.
        n_balanced: |O|, the candidates of minimal unbalance.
        n_tied: |P|, those of O of minimal aliasing (the run was drawn among them).
    """

    sources: tuple[str, ...]
    strategy: str
    unbalance: dict[str, int]
    max_aliasing: float
    n_balanced: int
    n_tied: int


def _spread(counts: np.ndarray, active: np.ndarray) -> np.ndarray:
    """(..., L) counts and (..., L) active levels → (...,) max − min over the active ones (0 if none)."""
    hi = np.where(active, counts, -_BIG).max(axis=-1)
    lo = np.where(active, counts, _BIG).min(axis=-1)
    return np.where(active.any(axis=-1), hi - lo, 0)


def _max_over_other_blocks(spreads: np.ndarray) -> np.ndarray:
    """(B,) per-block spreads → (B,) the largest spread among the *other* blocks."""
    others = np.where(np.eye(len(spreads), dtype=bool), -1, spreads[None, :])
    return others.max(axis=1)


class BalanceTracker:
    """Level counts of the phase-3 design and the unbalance each candidate would leave.

    Args:
        presence: (K, m) bool, source i in candidate k.
        n_sources: (K,) int, the candidate's number of sources.
        strategy: (K,) int, index of the candidate's strategy among the S multi-source ones.
        n_strategies: S.
    """

    def __init__(self, *, presence: np.ndarray, n_sources: np.ndarray, strategy: np.ndarray, n_strategies: int):
        self.presence = presence.astype(np.int64)
        self.n_sources = n_sources
        self.strategy = strategy
        m = presence.shape[1]
        self.n_levels = m + 1  # n is used as an index; levels 0, 1 and m never occur in phase 3
        self.one_hot_n = np.eye(self.n_levels, dtype=np.int64)[n_sources]  # (K, m+1)
        self.one_hot_s = np.eye(n_strategies, dtype=np.int64)[strategy]  # (K, S)
        self.count_n = np.zeros(self.n_levels, dtype=np.int64)
        self.count_s = np.zeros(n_strategies, dtype=np.int64)
        self.count_src = np.zeros(m, dtype=np.int64)
        self.count_ns = np.zeros((self.n_levels, n_strategies), dtype=np.int64)
        self.count_nsrc = np.zeros((self.n_levels, m), dtype=np.int64)

    def add(self, k: int) -> None:
        n, s = self.n_sources[k], self.strategy[k]
        self.count_n[n] += 1
        self.count_s[s] += 1
        self.count_src += self.presence[k]
        self.count_ns[n, s] += 1
        self.count_nsrc[n] += self.presence[k]

    def spreads_if_added(self, candidates: np.ndarray, remaining: np.ndarray) -> dict[str, np.ndarray]:
        """(K',) candidate indices, (K,) bool still-remaining mask → factor name → (K',) its unbalance
        in the design + each candidate (``strategy|n`` and ``sources|n``: the largest over the blocks of n)."""
        # Levels with at least one remaining candidate (the others are exhausted).
        rest = remaining.astype(np.int64)
        active_n = (rest @ self.one_hot_n) > 0
        active_s = (rest @ self.one_hot_s) > 0
        active_src = (rest @ self.presence) > 0
        active_ns = (self.one_hot_n.T @ (rest[:, None] * self.one_hot_s)) > 0  # (m+1, S)
        active_nsrc = (self.one_hot_n.T @ (rest[:, None] * self.presence)) > 0  # (m+1, m)

        n = self.n_sources[candidates]
        s_row = self.one_hot_s[candidates]
        p_row = self.presence[candidates]
        # Within n: only the candidate's own block of n changes; the others keep their spread.
        other_ns = _max_over_other_blocks(_spread(self.count_ns, active_ns))[n]
        other_nsrc = _max_over_other_blocks(_spread(self.count_nsrc, active_nsrc))[n]
        return {
            "n": _spread(self.count_n[None, :] + self.one_hot_n[candidates], active_n[None, :]),
            "strategy": _spread(self.count_s[None, :] + s_row, active_s[None, :]),
            "sources": _spread(self.count_src[None, :] + p_row, active_src[None, :]),
            "strategy|n": np.maximum(other_ns, _spread(self.count_ns[n] + s_row, active_ns[n])),
            "sources|n": np.maximum(other_nsrc, _spread(self.count_nsrc[n] + p_row, active_nsrc[n])),
        }


#: First stage: the maximum of these unbalances (within 1 by construction, see above).
BALANCE_FIRST: tuple[str, ...] = ("n", "strategy|n")
#: Second stage: these unbalances sorted in decreasing order, compared lexicographically.
BALANCE_SECOND: tuple[str, ...] = ("strategy", "sources", "sources|n")


def most_balanced(spreads: dict[str, np.ndarray]) -> np.ndarray:
    """Factor → (K',) unbalances → (K',) bool: the candidates that win both stages."""
    first = np.stack([spreads[f] for f in BALANCE_FIRST]).max(axis=0)
    keep = first == first.min()
    # Rows of the decreasingly sorted second-stage unbalances: compare the largest, then the next.
    for row in -np.sort(-np.stack([spreads[f] for f in BALANCE_SECOND]), axis=0):
        keep &= row == row[keep].min()
    return keep


def greedy_phase3(
    *, space: DesignSpace, runs: int | None, seed: int
) -> list[GreedyPick]:
    """Chooses ``runs`` phase-3 runs with Algorithm 2.

    Args:
        space: the factors (phase 3 uses ``space.multi_source`` and n = 2..m-1).
        runs: the budget; ``None``: every candidate (the full factorial, in greedy order).
        seed: seed of the random choice among tied candidates.

    Returns:
        The chosen runs, in order (length ``runs``).

    Raises:
        ConfigError: a budget larger than the number of candidates, or a negative one.
    """
    candidates = phase3_candidates(space=space)
    total = len(candidates)
    runs = total if runs is None else int(runs)
    if runs > 0 and total == 0:
        raise ConfigError(
            f"phase3.runs={runs}, but phase 3 has no possible run: it needs at least 3 sources (n = 2..m-1) and a "
            f"multi-source strategy (have {len(space.sources)} sources, strategies {list(space.multi_source)}); "
            "set phase3.runs=0"
        )
    if runs < 0 or runs > total:
        raise ConfigError(
            f"phase3.runs={runs}: phase 3 has {total} possible runs ({len(space.sources)} sources, n = 2.."
            f"{len(space.sources) - 1}, {len(space.multi_source)} multi-source strategies); choose 0..{total}, "
            "or null for all of them"
        )
    if runs == 0:
        return []

    source_index = {s: i for i, s in enumerate(space.sources)}
    strategy_index = {s: i for i, s in enumerate(space.multi_source)}
    presence = np.zeros((total, len(space.sources)), dtype=bool)
    for k, (subset, _) in enumerate(candidates):
        presence[k, [source_index[s] for s in subset]] = True
    balance = BalanceTracker(
        presence=presence,
        n_sources=presence.sum(axis=1),
        strategy=np.array([strategy_index[s] for _, s in candidates]),
        n_strategies=len(space.multi_source),
    )
    effects = main_effects(sources=space.sources, strategies=space.multi_source)
    aliasing = AliasTracker(effects=effects)
    candidate_rows = encode(effects=effects, run_sources=[c[0] for c in candidates], run_strategies=[c[1] for c in candidates])

    rng = np.random.default_rng(seed)
    remaining = np.ones(total, dtype=bool)
    picks: list[GreedyPick] = []
    for _ in range(runs):
        left = np.flatnonzero(remaining)
        spreads = balance.spreads_if_added(left, remaining)
        keep = most_balanced(spreads)
        balanced = left[keep]
        alias = aliasing.max_aliasing_if_added(candidate_rows[balanced])
        keep_alias = alias <= alias.min() + ALIASING_TIE
        tied = balanced[keep_alias]
        chosen = int(rng.integers(len(tied)))
        k = int(tied[chosen])
        position = int(np.searchsorted(left, k))
        picks.append(GreedyPick(
            sources=candidates[k][0], strategy=candidates[k][1],
            unbalance={f: int(v[position]) for f, v in spreads.items()},
            max_aliasing=float(alias[keep_alias][chosen]), n_balanced=len(balanced), n_tied=len(tied),
        ))
        balance.add(k)
        aliasing.add(candidate_rows[k])
        remaining[k] = False
    return picks
