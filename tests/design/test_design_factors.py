"""Factors, name checks, and the two complete phases (paper Sect. 4.3, phases 1 and 2)."""

from __future__ import annotations

from collections import Counter
from math import comb

import pytest

from mtl_music.experiment import build_design, design_space
from mtl_music.experiment.factors import phase3_candidates
from mtl_music.paper import PAPER_SOURCES
from mtl_music.errors import ConfigError

MULTI = ("ms_sr@fc", "ms_cr@6", "ms_cr@4", "ms_cr@2", "mss_cr")


def test_strategies_split_into_single_and_multi_source(paper_space):
    assert paper_space.single_source == ("ss_r",)
    assert paper_space.multi_source == MULTI


def test_phase3_has_the_papers_1230_candidates(paper_space):
    candidates = phase3_candidates(space=paper_space)
    assert len(candidates) == paper_space.n_phase3_candidates == 1230
    assert len(set(candidates)) == 1230
    assert {len(s) for s, _ in candidates} == set(range(2, 8))
    assert Counter(len(s) for s, _ in candidates)[4] == comb(8, 4) * 5


@pytest.mark.parametrize(
    ("sources", "strategies", "named"),
    [
        (["tag", "nope"], ["ss_r"], "'nope'"),
        (["tag", "bpm"], ["ms_cr@3"], "'ms_cr@3'"),
    ],
)
def test_unknown_names_list_the_valid_choices(sources, strategies, named):
    with pytest.raises(ConfigError, match=named) as err:
        design_space(sources=sources, strategies=strategies)
    message = str(err.value)
    valid = "cdr_tag" if "nope" in named else "ms_cr@4"
    assert valid in message and "Valid" in message


def test_repeated_or_empty_names_are_refused():
    with pytest.raises(ConfigError, match="more than once"):
        design_space(sources=["tag", "tag"], strategies=["ss_r"])
    with pytest.raises(ConfigError, match="empty"):
        design_space(sources=[], strategies=["ss_r"])


def test_phases_1_and_2_are_complete(paper_design):
    phase1 = paper_design[paper_design["phase"] == 1]
    phase2 = paper_design[paper_design["phase"] == 2]
    assert len(phase1) == 48 and len(phase2) == 25
    assert set(phase1["strategy"]) == {"ss_r"} and (phase1["n_sources"] == 1).all()
    # Every source × every repeat exactly once.
    assert Counter(zip(phase1["sources"], phase1["repeat"])) == Counter(
        {(s, r): 1 for s in PAPER_SOURCES for r in range(6)}
    )
    assert (phase2["sources"] == "+".join(PAPER_SOURCES)).all() and (phase2["n_sources"] == 8).all()
    assert Counter(zip(phase2["strategy"], phase2["repeat"])) == Counter({(s, r): 1 for s in MULTI for r in range(5)})


def test_table_columns_agree(paper_design):
    assert list(paper_design["run_id"]) == [f"r{i:03d}" for i in range(425)]
    assert list(paper_design["seed"]) == list(range(425))  # every run its own seed
    for row in paper_design.itertuples(index=False):
        names = row.sources.split("+")
        assert [s for s in PAPER_SOURCES if getattr(row, s)] == names
        assert row.n_sources == len(names)


def test_without_a_single_source_strategy_phase_1_is_empty():
    design = build_design(sources=["tag", "bpm", "self"], strategies=["mss_cr"], phase1_repeats=3,
                          phase2_repeats=1, phase3_runs=2, seed=0)
    assert list(design["phase"]) == [2, 3, 3]


def test_bad_budgets_are_refused():
    with pytest.raises(ConfigError, match="choose 0..1230"):
        build_design(sources=PAPER_SOURCES, strategies=MULTI, phase1_repeats=0, phase2_repeats=0,
                     phase3_runs=1231, seed=0)
    with pytest.raises(ConfigError, match="at least 3 sources"):
        build_design(sources=["tag", "bpm"], strategies=MULTI, phase1_repeats=0, phase2_repeats=1,
                     phase3_runs=1, seed=0)
    with pytest.raises(ConfigError, match="negative"):
        build_design(sources=["tag", "bpm"], strategies=MULTI, phase1_repeats=-1, phase2_repeats=1,
                     phase3_runs=0, seed=0)
