"""The tiny demo-corpus configuration used by the corpus tests (composed from conf/)."""

from __future__ import annotations

from pathlib import Path

TINY = [
    "data.corpus.size=24",
    "data.corpus.num_workers=2",
    "data.corpus.progress=false",
    "data.corpus.crowd.n_users=60",
    "data.corpus.targets.region.classes=[china,luxembourg,lorraine,austria]",
    "data.corpus.targets.region.per_class=3",
    "data.corpus.targets.region.min_per_class=2",
    "data.corpus.targets.dance.classes=[reel,jig,hornpipe,strathspey]",
    "data.corpus.targets.dance.per_class=3",
    "data.corpus.targets.dance.min_per_class=2",
]


def tiny_cfg(data_root: Path, *extra: str):
    """``conf/prepare.yaml`` with ``data=demo`` shrunk to a tiny build into ``data_root``."""
    from mtl_music.config import compose

    return compose("prepare", [f"paths.data_root={data_root}", *TINY, *extra])
