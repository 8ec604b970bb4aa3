"""The data types of learning sources: what readers return, what a source's preprocessing
produces (:class:`SourceLabels`), and the :class:`SourceReport` of everything odd in the input.

Paper Sect. 2.2–2.3 and Table 1: each learning source t turns its raw labels y_t into a
k-dimensional probability vector z_t per track (pLSA topics or GMM posteriors); ``self``
has no labels at all (a same/different-track test on pairs of crops).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

#: Table 1's categories, as the ``category`` key of a source YAML spells them.
CATEGORIES = ("self", "feature", "metadata", "crowd", "professional", "combination")

#: How many example lines/ids of each kind of problem a report keeps.
MAX_EXAMPLES = 20


@dataclass
class SourceReport:
    """Counts and first examples of the problems met while reading and preprocessing a source.

    ``issues`` maps a kind to ``{"count": int, "examples": [str, ...]}``; kinds used:

    * ``malformed``: lines (or SQLite rows) that could not be parsed; examples carry the line number
    * ``duplicates``: (track, label) entries seen more than once (summed) or scalar values given
      twice for one track (averaged)
    * ``empty_rows``: tracks whose label row is all zeros (excluded from the source)
    * ``missing_values``: scalar values that mean "unknown" (bpm <= 0, year 0; excluded)
    * ``unmapped``: ids that cannot be joined to a track (e.g. a taste song id without a track)

    ``counts`` holds plain totals (lines read, tracks kept, ...) and ``fit`` what the
    factorisation reports (iterations, log-likelihood history, convergence).
    """

    source: str
    counts: dict[str, int] = field(default_factory=dict)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: str, example: str | None = None, *, count: int = 1) -> None:
        """Count ``count`` problems of ``kind``, keeping ``example`` while there is room."""
        entry = self.issues.setdefault(kind, {"count": 0, "examples": []})
        entry["count"] += int(count)
        if example is not None and len(entry["examples"]) < MAX_EXAMPLES:
            entry["examples"].append(example)

    def add_many(self, kind: str, examples: list[str], *, count: int) -> None:
        """Count ``count`` problems of ``kind`` at once; ``examples`` are the first few of them."""
        if count <= 0:
            return
        entry = self.issues.setdefault(kind, {"count": 0, "examples": []})
        entry["count"] += int(count)
        room = MAX_EXAMPLES - len(entry["examples"])
        entry["examples"].extend(examples[: max(room, 0)])

    def count(self, kind: str) -> int:
        """How many problems of ``kind`` were met (0 when none)."""
        return int(self.issues.get(kind, {}).get("count", 0))

    def examples(self, kind: str) -> list[str]:
        return list(self.issues.get(kind, {}).get("examples", []))

    def log_warnings(self, logger: logging.Logger, *, first: int = 5) -> None:
        """One warning per kind of problem, with the first ``first`` examples (line numbers)."""
        for kind, entry in self.issues.items():
            shown = "; ".join(entry["examples"][:first])
            more = " ..." if entry["count"] > first else ""
            logger.warning("source %r: %d %s (%s%s)", self.source, entry["count"], kind.replace("_", " "), shown, more)

    def to_json(self) -> str:
        return json.dumps({"source": self.source, "counts": self.counts, "issues": self.issues, "fit": self.fit})

    @classmethod
    def from_json(cls, text: str) -> "SourceReport":
        data = json.loads(text)
        return cls(source=data["source"], counts=data["counts"], issues=data["issues"], fit=data["fit"])


@dataclass
class LabelMatrix:
    """What a sparse-label reader returns: an entity × label matrix.

    ``matrix`` is scipy CSR ``(n_rows, n_labels)`` float64, non-negative, no all-zero rows
    removed yet. ``row_ids`` ``(n_rows,)`` str names the rows. The rows are tracks unless
    ``track_ids``/``track_rows`` are given: then the factorisation runs over the rows (songs
    for taste, artists for artist) and track ``track_ids[i]`` gets the z of row ``track_rows[i]``.
    """

    matrix: sp.csr_matrix
    row_ids: np.ndarray
    label_names: list[str]
    track_ids: np.ndarray | None = None
    track_rows: np.ndarray | None = None


@dataclass
class ScalarLabels:
    """What a scalar reader returns: one finite value per track (missing values already removed).

    ``track_ids`` ``(n,)`` str, ``values`` ``(n,)`` float64.
    """

    track_ids: np.ndarray
    values: np.ndarray


@dataclass
class SourceLabels:
    """A learning source's labels for the tracks it covers, ready for training.

    Attributes:
        name: the source name (``tag``, ``bpm``, ...).
        category: its Table 1 category (see :data:`CATEGORIES`).
        track_ids: ``(n,)`` str, the tracks that have labels; ``None`` for ``self`` (every
            track of the dataset).
        z: ``(n, k)`` float32, each row a probability distribution (pLSA P(topic|track) or GMM
            posterior); ``None`` for ``self``.
        topic_labels: for pLSA sources ``(k, n_labels)`` float32, row j = P(label | topic j);
            for GMM sources ``(k, 3)`` float32 with columns ``weight, mean, std`` of component
            j in the units of the raw values (components sorted by mean); ``None`` for ``self``.
        label_names: the raw label of each column of ``topic_labels`` (tags, words, users,
            genres), or ``["weight", "mean", "std"]`` for GMM sources.
        report: what was odd in the input (:class:`SourceReport`).
    """

    name: str
    category: str
    track_ids: np.ndarray | None
    z: np.ndarray | None
    topic_labels: np.ndarray | None
    label_names: list[str] | None
    report: SourceReport
    preprocess: str = ""

    @property
    def is_self(self) -> bool:
        """True for the ``self`` source, whose pool is every track of the dataset."""
        return self.z is None

    @property
    def k(self) -> int:
        """Dimension of z (2 for ``self``: same / different)."""
        return 2 if self.z is None else int(self.z.shape[1])

    def __len__(self) -> int:
        return 0 if self.track_ids is None else int(len(self.track_ids))
