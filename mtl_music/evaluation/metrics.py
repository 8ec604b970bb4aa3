"""Metrics a target reports besides its task's own (``TargetIndex.extra_metrics``).

:data:`EXTRA_METRICS` maps a metric name to an :class:`ExtraMetric`, a callable
``(*, y_true, y_pred, classes) -> float`` scored on one repetition's test part:

* classification: ``y_true`` and ``y_pred`` are (n,) class names, ``classes`` the target's
  sorted class names;
* regression: ``y_true`` and ``y_pred`` are (n, k) values (``classes`` is empty).

Registered here:

* ``mirex_weighted`` (GiantSteps key): the MIREX key-detection score averaged over tracks,
  :func:`mirex_key_score` (correct 1, the fifth above 0.5, relative 0.3, parallel 0.2);
* ``r2_arousal`` / ``r2_valence`` (EMOMusic, a 2-D label ``[mean_arousal, mean_valence]``):
  R² of one dimension, :data:`EMOTION_DIMENSIONS` saying which column.

Key names are those of :func:`parse_key`: a tonic with an optional ``#``/``b`` and a mode
(``"C major"``, ``"Db minor"``, ``"F#m"``); :data:`KEYS` is the canonical spelling of the 24.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

#: Pitch classes in the canonical (sharp) spelling, C = 0.
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

#: The 24 keys, canonical spelling (``"<tonic> major"`` / ``"<tonic> minor"``), major keys first.
KEYS = tuple(f"{tonic} {mode}" for mode in ("major", "minor") for tonic in PITCH_CLASSES)

_NATURALS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
# "M"/"maj"/"major" is major, "m"/"min"/"minor" minor, nothing major ("C" is C major).
_MODES = {"": "major", "major": "major", "maj": "major", "M": "major",
          "minor": "minor", "min": "minor", "m": "minor"}
# The words are case-insensitive ("C Minor"); the one-letter "m" (minor) and "M" (major) are not.
_KEY = re.compile(r"^([A-Ga-g])\s*([#♯b♭]?)\s*(?:((?i:major|maj|minor|min))|(m|M))?$")


def parse_key(text: str) -> tuple[int, str] | None:
    """``(pitch class 0-11, "major" | "minor")`` of a key name, or ``None`` when it is not one key.

    Accepts enharmonic spellings (``"Db"``, ``"C#"``, ``"Cb"`` = B), ``major``/``maj``/``M`` and
    ``minor``/``min``/``m`` (the words in any case; the single letter ``m`` is minor and ``M``
    major; no mode is major), spaces between the parts. ``"-"``, ``""``, two keys
    (``"C major / A minor"``) and modes other than major/minor give ``None``.
    """
    match = _KEY.match(" ".join(str(text).split()))
    if match is None:
        return None
    tonic, accidental, word, letter = match.groups()
    return (_NATURALS[tonic.upper()] + _ACCIDENTALS[accidental]) % 12, _MODES[(word or "").lower() or letter or ""]


def canonical_key(text: str) -> str | None:
    """The :data:`KEYS` spelling of a key name (``"Db min"`` → ``"C# minor"``), ``None`` when
    :func:`parse_key` rejects it."""
    parsed = parse_key(text)
    return None if parsed is None else f"{PITCH_CLASSES[parsed[0]]} {parsed[1]}"


def mirex_key_score(*, reference: str, estimate: str) -> float:
    """The MIREX key-detection score of one estimate: 1 for the same key, 0.5 for the key a
    perfect fifth above with the same mode (C major → G major, A minor → E minor), 0.3 for the
    relative key (C major ↔ A minor), 0.2 for the parallel key (C major ↔ C minor), else 0.
    Only the ascending fifth counts, as in MIREX and ``mir_eval.key.weighted_score``.

    Raises ``ValueError`` when either name is not a key (:func:`parse_key`).
    """
    ref, est = parse_key(reference), parse_key(estimate)
    if ref is None or est is None:
        raise ValueError(f"mirex_key_score needs two key names; got reference={reference!r}, estimate={estimate!r}")
    (ref_tonic, ref_mode), (est_tonic, est_mode) = ref, est
    interval = (est_tonic - ref_tonic) % 12
    if ref_mode == est_mode:
        return 1.0 if interval == 0 else 0.5 if interval == 7 else 0.0
    if interval == 0:
        return 0.2
    # relative: the minor key a minor third below its major (C major -> A minor: +9 semitones)
    return 0.3 if interval == (9 if ref_mode == "major" else 3) else 0.0


def mirex_weighted(*, y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> float:
    """Mean :func:`mirex_key_score` over the (n,) reference and predicted key names."""
    del classes  # the names carry the keys
    pairs = zip(np.asarray(y_true), np.asarray(y_pred))
    scores = [mirex_key_score(reference=str(r), estimate=str(e)) for r, e in pairs]
    if not scores:
        raise ValueError("mirex_weighted on an empty test part")
    return float(np.mean(scores))


#: R² metric → the label column it scores (EMOMusic's ``label_column: [mean_arousal, mean_valence]``).
EMOTION_DIMENSIONS = {"r2_arousal": 0, "r2_valence": 1}


def _column_r2(column: int) -> Callable[..., float]:
    def r2(*, y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> float:
        from sklearn.metrics import r2_score

        del classes
        y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
        if y_true.ndim != 2 or y_pred.shape != y_true.shape or y_true.shape[1] <= column:
            raise ValueError(f"column {column}'s R² needs (n, k > {column}) labels and predictions; "
                             f"got {y_true.shape} and {y_pred.shape}")
        return float(r2_score(y_true[:, column], y_pred[:, column]))

    return r2


@dataclass(frozen=True)
class ExtraMetric:
    """A registered extra metric: ``task`` is the target task it applies to, ``function`` the score
    (``(*, y_true, y_pred, classes) -> float``); calling the metric calls it."""

    name: str
    task: str
    function: Callable[..., float]
    description: str

    def __call__(self, *, y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> float:
        return float(self.function(y_true=y_true, y_pred=y_pred, classes=tuple(classes)))


#: Name → extra metric (what ``TargetIndex.extra_metrics`` and a target's ``extra_metrics`` key may name).
EXTRA_METRICS: dict[str, ExtraMetric] = {
    "mirex_weighted": ExtraMetric("mirex_weighted", "classification", mirex_weighted,
                                  "MIREX weighted key score (correct 1, fifth 0.5, relative 0.3, parallel 0.2)"),
    **{name: ExtraMetric(name, "regression", _column_r2(column), f"R² of label column {column}")
       for name, column in EMOTION_DIMENSIONS.items()},
}
