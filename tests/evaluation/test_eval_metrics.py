"""evaluation.metrics: key parsing, the MIREX weighted key score, per-dimension R², the registry
and TargetIndex's check of the extra metrics a target names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mtl_music.errors import ConfigError
from mtl_music.evaluation.metrics import (
    EXTRA_METRICS,
    KEYS,
    canonical_key,
    mirex_key_score,
    parse_key,
)
from mtl_music.targets import TargetIndex, TargetTrack


@pytest.mark.parametrize(("reference", "estimate", "score"), [
    ("C major", "C major", 1.0),
    ("C major", "G major", 0.5),      # the fifth above
    ("C major", "A minor", 0.3),      # relative
    ("C major", "C minor", 0.2),      # parallel
    ("A minor", "E minor", 0.5),
    ("A minor", "C major", 0.3),
    ("A minor", "A major", 0.2),
    ("C major", "F major", 0.0),      # the fifth below does not count (MIREX, mir_eval)
    ("C major", "E minor", 0.0),
    ("C major", "D major", 0.0),
    ("Db major", "C# major", 1.0),    # enharmonic
    ("F# minor", "Db minor", 0.5),
    ("Eb major", "Cm", 0.3),
    ("Bb min", "F minor", 0.5),
])
def test_mirex_key_score_on_hand_made_pairs(reference, estimate, score):
    assert mirex_key_score(reference=reference, estimate=estimate) == score


def test_key_parsing_and_canonical_spelling():
    assert len(KEYS) == len(set(KEYS)) == 24
    assert {canonical_key(k) for k in ("Db", "C#", "c# major", "C#M", "Dbmaj", "C♯")} == {"C# major"}
    assert {canonical_key(k) for k in ("Eb minor", "D#m", "eb min", "D# Minor", "E♭ minor")} == {"D# minor"}
    assert canonical_key("Cb") == "B major" and canonical_key("E#m") == "F minor" and canonical_key("B#") == "C major"
    assert all(canonical_key(k) == k for k in KEYS)
    assert parse_key("  A   minor ") == (9, "minor")
    for unusable in ("-", "", "C major / A minor", "E dorian", "H major", "C majr", "?"):
        assert parse_key(unusable) is None and canonical_key(unusable) is None
    with pytest.raises(ValueError, match="two key names"):
        mirex_key_score(reference="C major", estimate="-")


def test_registry_entries_are_callables_with_the_probe_signature():
    assert set(EXTRA_METRICS) == {"mirex_weighted", "r2_arousal", "r2_valence"}
    assert EXTRA_METRICS["mirex_weighted"].task == "classification"
    y_true = np.array(["C major", "A minor", "C major", "G major"], dtype=object)
    y_pred = np.array(["C major", "E minor", "C minor", "B major"], dtype=object)
    score = EXTRA_METRICS["mirex_weighted"](y_true=y_true, y_pred=y_pred, classes=("A minor", "C major", "G major"))
    assert score == pytest.approx((1 + 0.5 + 0.2 + 0) / 4)

    rng = np.random.default_rng(0)
    y = rng.normal(size=(20, 2))
    pred = np.column_stack([y[:, 0], rng.normal(size=20)])  # arousal perfect, valence noise
    assert EXTRA_METRICS["r2_arousal"](y_true=y, y_pred=pred, classes=()) == pytest.approx(1.0)
    assert EXTRA_METRICS["r2_valence"](y_true=y, y_pred=pred, classes=()) < 0.5
    with pytest.raises(ValueError, match="column 1"):
        EXTRA_METRICS["r2_valence"](y_true=y[:, 0], y_pred=pred[:, 0], classes=())


def _index(task: str, extra, name: str = "t") -> TargetIndex:
    label = "C major" if task == "classification" else (1.0, 2.0)
    return TargetIndex(name=name, loader="folder", task=task, metric={"classification": "accuracy"}.get(task, "r2"),
                       tracks=[TargetTrack(track_id="a", path=Path("a.wav"), label=label, split=None)],
                       classes=("C major",) if task == "classification" else (), extra_metrics=extra)


def test_target_index_lists_and_checks_its_extra_metrics():
    index = _index("classification", ["mirex_weighted"])
    assert index.extra_metrics == ("mirex_weighted",) and index.metrics == ("accuracy", "mirex_weighted")
    assert _index("regression", ("r2_arousal", "r2_valence")).metrics == ("r2", "r2_arousal", "r2_valence")
    with pytest.raises(ConfigError, match=r"target\.gk\.extra_metrics: unknown extra metric 'mirex'; known: mirex_weighted"):
        _index("classification", ("mirex",), name="gk")
    with pytest.raises(ConfigError, match="'r2_arousal' scores regression targets, this one is classification"):
        _index("classification", ("r2_arousal",))
    with pytest.raises(ConfigError, match="listed twice"):
        _index("regression", ("r2_arousal", "r2_arousal"))
