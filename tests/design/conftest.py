"""Shared fixtures of the experimental-design tests: designs built once per session."""

from __future__ import annotations

import pytest

from mtl_music.experiment import build_design, design_space, greedy_phase3
from mtl_music.paper import PAPER_SOURCES, STRATEGIES


@pytest.fixture(scope="session")
def paper_space():
    return design_space(sources=PAPER_SOURCES, strategies=STRATEGIES)


@pytest.fixture(scope="session")
def paper_design():
    """The default design: 48 + 25 + 352 runs (paper Sect. 4.3)."""
    return build_design(
        sources=PAPER_SOURCES, strategies=STRATEGIES, phase1_repeats=6, phase2_repeats=5, phase3_runs=352, seed=0
    )


@pytest.fixture(scope="session")
def full_phase3(paper_space):
    """All 1230 phase-3 candidates in greedy order (seed 0)."""
    return greedy_phase3(space=paper_space, runs=None, seed=0)
