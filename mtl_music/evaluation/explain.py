"""Why a track sits where it does in the representation (paper Fig. 16): each learning source's
head, applied to the track's slices, predicts that source's topic distribution; the stored
topic–label matrix (:mod:`mtl_music.sources.vocabulary`) turns it into the track's strongest raw
labels (tags, words, genres, users) or, for bpm and year, an expected value in raw units.

Every architecture keeps a head per non-self source (MS-CR, MSS-CR, MS-SR@FC and SS-R alike),
so every trained checkpoint can be explained; ``self`` has no labels and is left out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import torch

from mtl_music.paper import SELF_SOURCE
from mtl_music.sources.vocabulary import MIXTURE, SourceVocabulary


@dataclass(frozen=True)
class SourceExplanation:
    """One source's reading of one track.

    Attributes:
        source: the source name.
        topics: ``(k,)`` the head's predicted distribution, averaged over the track's slices.
        strongest_topics: ``(topic index, probability)`` pairs, most probable first.
        labels: topic sources: the strongest raw labels ``(label, P(label | track))``; empty
            for mixtures and for checkpoints without a stored vocabulary.
        value: mixture sources (bpm, year): the expected raw value ``Σ_j p_j · mean_j``.
    """

    source: str
    topics: tuple[float, ...]
    strongest_topics: tuple[tuple[int, float], ...]
    labels: tuple[tuple[str, float], ...] = ()
    value: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["strongest_topics"] = [list(pair) for pair in self.strongest_topics]
        out["labels"] = [list(pair) for pair in self.labels]
        return out

    def describe(self) -> str:
        """One line, e.g. ``tag: folk (0.21), reel (0.12)  [topics 7: 0.41, 2: 0.20]``."""
        topics = ", ".join(f"{j}: {p:.2f}" for j, p in self.strongest_topics)
        if self.value is not None:
            head = f"≈ {self.value:.1f}"
        elif self.labels:
            head = ", ".join(f"{name} ({p:.3f})" for name, p in self.labels)
        else:
            head = "(no stored vocabulary: topics only)"
        return f"{self.source}: {head}  [topics {topics}]"


def explainable_sources(module) -> list[str]:
    """The sources whose heads can be read: every source of the network but ``self``."""
    return [s for s in module.source_names if s != SELF_SOURCE]


@torch.no_grad()
def head_distributions(module, slices: torch.Tensor, *, batch_slices: int = 128) -> dict[str, np.ndarray]:
    """``(n_slices, 2, T, M)`` standardised slices -> ``{source: (k,) mean softmax over slices}``.

    One trunk pass per batch serves every head (``forward_all``); call on a module in eval mode.
    """
    sources = explainable_sources(module)
    if not sources:
        return {}
    sums = {s: None for s in sources}
    device = module.band_mean.device
    for chunk in slices.split(batch_slices):
        logits = module.head_logits(chunk.to(device), sources=sources)
        for s, value in logits.items():
            total = torch.softmax(value.double(), dim=1).sum(0)
            sums[s] = total if sums[s] is None else sums[s] + total
    return {s: (total / len(slices)).cpu().numpy() for s, total in sums.items()}


def explain_distribution(source: str, topics: np.ndarray, vocabulary: SourceVocabulary | None, *,
                         top_labels: int = 5, top_topics: int = 3) -> SourceExplanation:
    """A :class:`SourceExplanation` from a source's ``(k,)`` predicted distribution."""
    topics = np.asarray(topics, dtype=np.float64)
    order = np.argsort(-topics, kind="stable")[:top_topics]
    strongest = tuple((int(j), float(topics[j])) for j in order)
    as_tuple = tuple(float(p) for p in topics)
    if vocabulary is None:
        return SourceExplanation(source, as_tuple, strongest)
    if vocabulary.k != len(topics):
        raise ValueError(f"source {source!r}: the head has {len(topics)} outputs but its stored vocabulary {vocabulary.k}")
    if vocabulary.kind == MIXTURE:
        return SourceExplanation(source, as_tuple, strongest, value=vocabulary.expected_value(topics))
    scores = vocabulary.label_scores(topics)
    n = min(top_labels, len(scores))
    best = np.argsort(-scores, kind="stable")[:n]
    return SourceExplanation(source, as_tuple, strongest,
                             labels=tuple((vocabulary.label_names[i], float(scores[i])) for i in best))


def explain_slices(module, slices: torch.Tensor, *, top_labels: int = 5, top_topics: int = 3,
                   batch_slices: int = 128) -> dict[str, SourceExplanation]:
    """Every explainable source's reading of one track given as ``(n_slices, 2, T, M)``
    standardised slices (what :mod:`mtl_music.embed` feeds the representation)."""
    distributions = head_distributions(module, slices, batch_slices=batch_slices)
    vocabularies = getattr(module, "source_vocabularies", {}) or {}
    return {s: explain_distribution(s, p, vocabularies.get(s), top_labels=top_labels, top_topics=top_topics)
            for s, p in distributions.items()}


def missing_vocabularies(module) -> list[str]:
    """Explainable sources of ``module`` whose checkpoint stores no vocabulary (trained before
    vocabularies were stored): they get topic distributions only."""
    have = getattr(module, "source_vocabularies", {}) or {}
    return [s for s in explainable_sources(module) if s not in have]


def describe_tracks(ids: Sequence[str], explanations: Sequence[dict[str, SourceExplanation]]) -> list[str]:
    """Printable lines: a track id, then one indented line per source."""
    lines = []
    for track_id, per_source in zip(ids, explanations):
        lines.append(track_id)
        lines.extend(f"    {e.describe()}" for e in per_source.values())
    return lines
