"""What a trained head's outputs mean: each learning source's topic–label matrix, small enough
to travel inside a checkpoint (paper Fig. 16 explanations need it long after the label files
are gone).

* pLSA sources keep ``P(label | topic)`` for the labels that rank among the strongest
  ``max_labels_per_topic`` of some topic (the union over topics, full columns), so that
  ``P(label | track) = Σ_j P(topic j | track) · P(label | topic j)`` is exact for every kept
  label and the strongest labels of a track are always among them.
* GMM sources (bpm, year) keep their components: weight, mean, std in raw units.
* ``self`` has nothing to explain.

Stored as tensors and lists of strings only, so checkpoints still load with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mtl_music.sources.base import SourceLabels

#: Labels kept per topic (real MSD vocabularies run to 10^5–10^6 users or words).
MAX_LABELS_PER_TOPIC = 200

TOPICS = "topics"
MIXTURE = "mixture"


@dataclass(frozen=True)
class SourceVocabulary:
    """The meaning of one source head's k outputs.

    Attributes:
        name: the source (``tag``, ``bpm``, ...).
        category: its Table 1 category.
        kind: ``"topics"`` (pLSA) or ``"mixture"`` (GMM over a scalar).
        weights: ``(k, n_labels)`` float32 ``P(label | topic)`` for topics; ``(k, 3)`` float32
            ``weight, mean, std`` per component for a mixture.
        label_names: ``n_labels`` raw labels (tags, words, users, genres), or
            ``["weight", "mean", "std"]``.
    """

    name: str
    category: str
    kind: str
    weights: np.ndarray
    label_names: tuple[str, ...]

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @classmethod
    def from_labels(cls, labels: SourceLabels, *, max_labels_per_topic: int = MAX_LABELS_PER_TOPIC
                    ) -> "SourceVocabulary | None":
        """The vocabulary of a computed source; ``None`` for ``self``."""
        if labels.is_self or labels.topic_labels is None or labels.label_names is None:
            return None
        weights = np.asarray(labels.topic_labels, dtype=np.float32)
        names = list(labels.label_names)
        if labels.preprocess == "gmm":
            return cls(labels.name, labels.category, MIXTURE, weights, tuple(names))
        n = min(max_labels_per_topic, weights.shape[1])
        if n < weights.shape[1]:
            strongest = np.argpartition(-weights, n - 1, axis=1)[:, :n]
            kept = np.unique(strongest)
            weights, names = weights[:, kept], [names[i] for i in kept]
        return cls(labels.name, labels.category, TOPICS, np.ascontiguousarray(weights), tuple(names))

    def to_state(self) -> dict[str, Any]:
        """Checkpoint form: tensors, strings and lists only."""
        return {"name": self.name, "category": self.category, "kind": self.kind,
                "weights": torch.from_numpy(np.ascontiguousarray(self.weights)), "label_names": list(self.label_names)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "SourceVocabulary":
        weights = state["weights"]
        weights = weights.numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights, dtype=np.float32)
        return cls(str(state["name"]), str(state["category"]), str(state["kind"]), weights.astype(np.float32),
                   tuple(str(n) for n in state["label_names"]))

    def label_scores(self, topics: np.ndarray) -> np.ndarray:
        """``(k,)`` P(topic | track) -> ``(n_labels,)`` P(label | track) over the kept labels."""
        if self.kind != TOPICS:
            raise ValueError(f"source {self.name!r} is a {self.kind}; it has no label distribution")
        return np.asarray(topics, dtype=np.float64) @ self.weights.astype(np.float64)

    def expected_value(self, posterior: np.ndarray) -> float:
        """``(k,)`` component posterior -> Σ_j p_j · mean_j in raw units (bpm, year)."""
        if self.kind != MIXTURE:
            raise ValueError(f"source {self.name!r} has topics, not a mixture over values")
        return float(np.asarray(posterior, dtype=np.float64) @ self.weights[:, 1].astype(np.float64))
