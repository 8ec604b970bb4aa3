"""NSynth: examples.json per part, instrument family or pitch classes, the pitch range, the own split."""

from __future__ import annotations

import logging

import pytest

from mtl_music.errors import ConfigError, DataError
from mtl_music.targets import nsynth

from tests.helpers.target_files import NSYNTH_FAMILIES, nsynth_notes, target_node, write_nsynth


def test_instrument_family_with_the_predefined_split(targets_root, caplog):
    with caplog.at_level(logging.WARNING, logger="mtl_music.targets.nsynth"):
        index = nsynth.load_index(target_node("nsynth_instrument", targets_root))
    notes = {e["note_str"]: (e["instrument_family_str"], part) for part, examples in nsynth_notes().items()
             for e in examples if e["note_str"] != "keyboard_electronic_020-063-100"}
    assert {t.track_id: (t.label, t.split) for t in index.tracks} == notes  # every pitch: no range
    assert index.classes == NSYNTH_FAMILIES and "have no audio" in caplog.text
    assert index.tracks[0].path.parent.name == "audio" and index.tracks[0].path.parent.parent.name.startswith("nsynth-")


def test_pitch_classes_are_padded_midi_numbers_in_the_piano_range(targets_root):
    index = nsynth.load_index(target_node("nsynth_pitch", targets_root))
    assert index.classes == ("040", "041", "042", "043", "060", "061", "062", "063")
    assert all(t.track_id.split("-")[1] == t.label for t in index.tracks)
    everything = nsynth.load_index(target_node("nsynth_pitch", targets_root, pitch_range=None))
    assert everything.classes[0] == "009" and everything.classes[-1] == "115"  # sorted numerically
    low = nsynth.load_index(target_node("nsynth_pitch", targets_root, pitch_range=[0, 41]))
    assert low.classes == ("009", "040", "041")


def test_bad_options_and_missing_parts(targets_root, tmp_path):
    with pytest.raises(ConfigError, match=r"target\.nsynth_pitch\.pitch_range=\[108, 21\] must be \[low, high\]"):
        nsynth.load_index(target_node("nsynth_pitch", targets_root, pitch_range=[108, 21]))
    with pytest.raises(ConfigError, match=r"target\.nsynth_pitch\.label_field='velocity' must be one of"):
        nsynth.load_index(target_node("nsynth_pitch", targets_root, label_field="velocity"))
    write_nsynth(tmp_path / "nsynth")
    (tmp_path / "nsynth" / "nsynth-valid" / "examples.json").write_text("{not json")
    with pytest.raises(DataError, match=r"nsynth-valid/examples\.json cannot be read as JSON"):
        nsynth.load_index(target_node("nsynth_pitch", tmp_path))
