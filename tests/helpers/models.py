"""Constants and helpers of the network tests (imported by the test modules)."""

from __future__ import annotations

from mtl_music.paper import PAPER_SOURCES, SELF_SOURCE

#: Labelled (non-self) sources of the paper.
LABELLED = tuple(s for s in PAPER_SOURCES if s != SELF_SOURCE)


def sources_dict(names, k: int = 50) -> dict[str, int]:
    """``{name: k}`` for every name, in order."""
    return {name: k for name in names}
