"""Learning sources (paper Sect. 2.2–2.3, Tables 1–2): raw labels in the MSD-era public
formats, factorised into k-dimensional probability vectors z_t per track.

Training uses :func:`load_source_labels` (cached per dataset) and
:class:`~mtl_music.sources.self_pairs.SelfPairSampler`; ``python -m mtl_music.topics``
prints the strongest raw labels per topic (Table 2).
"""

from mtl_music.sources.base import CATEGORIES, LabelMatrix, ScalarLabels, SourceLabels, SourceReport
from mtl_music.sources.pipeline import LearningSource, available_sources, load_source_labels
from mtl_music.sources.plsa import PLSA
from mtl_music.sources.self_pairs import SelfPairSampler

__all__ = [
    "CATEGORIES",
    "LabelMatrix",
    "LearningSource",
    "PLSA",
    "ScalarLabels",
    "SelfPairSampler",
    "SourceLabels",
    "SourceReport",
    "available_sources",
    "load_source_labels",
]
