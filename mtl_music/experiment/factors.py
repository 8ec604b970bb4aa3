"""The factors of the experiment (paper Sect. 4.3) and the runs of its two complete phases.

A run is one representation to train: a strategy (``conf/arch/<name>.yaml``) and a set of
learning sources (``conf/source/<name>.yaml``). The factors are

* **strategy**, categorical: ``ss_r``, ``ms_sr@fc``, ``ms_cr@6``, ``ms_cr@4``, ``ms_cr@2``,
  ``mss_cr`` in the paper (any ``conf/arch`` option here);
* **presence of each source**, one binary factor per source (in / out of the run);
* **number of sources** n, derived: the sum of the presence factors;
* **repeat**: the same (strategy, sources) trained again with another seed.

A strategy whose arch config says ``strategy: ss_r`` trains one network on exactly one
source ("single-source"); every other strategy needs two or more ("multi-source"). Hence the
paper's three phases: (1) every single-source strategy × every source × repeats, (2) every
multi-source strategy × all m sources × repeats, (3) a greedy fraction of the multi-source
strategies × the source subsets of size n = 2..m-1 (:mod:`mtl_music.experiment.greedy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from math import comb
from typing import Sequence

from mtl_music.config import group_options, load_option
from mtl_music.errors import ConfigError
from mtl_music.paper import SINGLE_SOURCE_STRATEGY

#: Columns of the design table; a source of the same name would shadow one (see :func:`design_space`).
RESERVED_COLUMNS: tuple[str, ...] = ("run_id", "phase", "strategy", "n_sources", "sources", "repeat", "seed", "overrides")
#: Phase 3 enumerates every (subset, strategy) pair; past this many the sources are too many for it.
MAX_PHASE3_CANDIDATES = 2_000_000


@dataclass(frozen=True)
class DesignSpace:
    """The levels of the design's factors, in configuration order.

    Attributes:
        sources: the m learning sources (binary presence factors).
        strategies: every strategy (the levels of the strategy factor).
        single_source: the strategies that take exactly one source (``ss_r``).
        multi_source: the strategies that take two or more.
    """

    sources: tuple[str, ...]
    strategies: tuple[str, ...]
    single_source: tuple[str, ...]
    multi_source: tuple[str, ...]

    @property
    def n_phase3_candidates(self) -> int:
        """Runs phase 3 can choose from: (C(m,2) + … + C(m,m-1)) × multi-source strategies."""
        m = len(self.sources)
        return sum(comb(m, n) for n in range(2, m)) * len(self.multi_source)


@dataclass(frozen=True)
class Run:
    """One experimental run before it gets a run id and a seed (see :mod:`.table`)."""

    phase: int
    strategy: str
    sources: tuple[str, ...]  # in the design space's source order
    repeat: int = 0


def _check_names(names: Sequence[str], *, key: str, group: str) -> tuple[str, ...]:
    names = tuple(str(n) for n in names)
    valid = group_options(group)
    if not names:
        raise ConfigError(f"{key} is empty; give at least one. Valid {group} options: {', '.join(valid)}")
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(
            f"unknown {group} option(s) {', '.join(repr(n) for n in unknown)} in {key}. "
            f"Valid {group} options: {', '.join(valid)}"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError(f"{key} names {', '.join(repr(n) for n in duplicated)} more than once; list each once")
    return names


def is_single_source(strategy: str) -> bool:
    """Whether ``conf/arch/<strategy>.yaml`` is a single-source strategy (``strategy: ss_r``)."""
    return str(load_option("arch", strategy).get("strategy")) == SINGLE_SOURCE_STRATEGY


def design_space(*, sources: Sequence[str], strategies: Sequence[str]) -> DesignSpace:
    """Checks the names against ``conf/source`` and ``conf/arch`` and splits the strategies.

    Raises:
        ConfigError: an unknown, repeated or clashing name (the message lists the valid ones),
            or phase 3 too large to enumerate.
    """
    source_names = _check_names(sources, key="sources", group="source")
    strategy_names = _check_names(strategies, key="strategies", group="arch")
    # Source and strategy names label the columns of the table and of the alias matrix.
    clashes = sorted(set(source_names) & (set(strategy_names) | set(RESERVED_COLUMNS)))
    if clashes:
        raise ConfigError(
            f"source name(s) {', '.join(repr(n) for n in clashes)} clash with a strategy or a design-table "
            f"column ({', '.join(RESERVED_COLUMNS)}); rename the source's YAML file"
        )
    space = DesignSpace(
        sources=source_names,
        strategies=strategy_names,
        single_source=tuple(s for s in strategy_names if is_single_source(s)),
        multi_source=tuple(s for s in strategy_names if not is_single_source(s)),
    )
    if space.n_phase3_candidates > MAX_PHASE3_CANDIDATES:
        raise ConfigError(
            f"{len(source_names)} sources give {space.n_phase3_candidates} phase-3 candidate runs, too many to "
            f"enumerate (at most {MAX_PHASE3_CANDIDATES}); use fewer sources"
        )
    return space


def phase1_runs(*, space: DesignSpace, repeats: int) -> list[Run]:
    """Phase 1: every single-source strategy on every source, ``repeats`` times.

    Repeat-major order: stopping the sweep early still leaves whole repeats of all sources.
    """
    return [
        Run(phase=1, strategy=strategy, sources=(source,), repeat=r)
        for r in range(repeats)
        for strategy in space.single_source
        for source in space.sources
    ]


def phase2_runs(*, space: DesignSpace, repeats: int) -> list[Run]:
    """Phase 2: every multi-source strategy on all m sources together, ``repeats`` times."""
    if len(space.sources) < 2:
        return []  # a multi-source strategy cannot train on one source
    return [
        Run(phase=2, strategy=strategy, sources=space.sources, repeat=r)
        for r in range(repeats)
        for strategy in space.multi_source
    ]


def phase3_candidates(*, space: DesignSpace) -> list[tuple[tuple[str, ...], str]]:
    """Every phase-3 run: (source subset of size n, multi-source strategy) for n = 2..m-1.

    A fixed order (n, then the subset in ``itertools.combinations`` order of the space's
    sources, then the strategy) so that the greedy's seeded random choice is reproducible.
    Paper: 8 sources, 5 strategies → 246 subsets × 5 = 1230 candidates.
    """
    m = len(space.sources)
    return [
        (subset, strategy)
        for n in range(2, m)
        for subset in combinations(space.sources, n)
        for strategy in space.multi_source
    ]
