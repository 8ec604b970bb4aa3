"""Tiny demo-corpus builds shared by the build tests (written into pytest's tmp folders)."""

from __future__ import annotations

import pytest

from tests.helpers.corpus_config import tiny_cfg


@pytest.fixture(scope="session")
def built_a(tmp_path_factory):
    """(cfg, report) of a tiny build."""
    from mtl_music.corpus.demo import build

    cfg = tiny_cfg(tmp_path_factory.mktemp("corpus_a"))
    return cfg, build(cfg)


@pytest.fixture(scope="session")
def built_b(tmp_path_factory, built_a):
    """(cfg, report) of the same tiny build in another folder (determinism, resume)."""
    from mtl_music.corpus.demo import build

    cfg = tiny_cfg(tmp_path_factory.mktemp("corpus_b"))
    return cfg, build(cfg)
