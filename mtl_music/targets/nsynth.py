"""NSynth (Engel et al. 2017): instrument family or pitch classification, the dataset's own split.

Layout under ``root``: the three extracted archives ``nsynth-{train,valid,test}/``, each with
``examples.json`` (a dict ``note_str`` → fields, among them ``note_str``, ``pitch`` (MIDI
0-127), ``instrument_family_str`` (``bass``, ``brass``, ``flute``, ``guitar``, ``keyboard``,
``mallet``, ``organ``, ``reed``, ``string``, ``synth_lead``, ``vocal``: 11 families)) and
``audio/<note_str>.wav`` (4-second notes at 16 kHz).

Two targets share this loader: ``nsynth_instrument`` (``label_field: instrument_family_str``)
and ``nsynth_pitch`` (``label_field: pitch``, the class the zero-padded MIDI number ``"021"`` so
that classes sort numerically). ``pitch_range: [low, high]`` keeps only notes of those pitches
(inclusive): MARBLE restricts the pitch task to the 88 piano keys, 21-108. Track id: ``note_str``
(unique over the three parts: their instruments are disjoint). Split: the part's (``train``,
``valid``, ``test``); ``splits()`` folds valid into train. Notes without audio are logged and
left out.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mtl_music.errors import ConfigError
from mtl_music.targets.base import Split, TargetIndex, TargetTrack, predefined_splits, sorted_classes
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("nsynth-{train,valid,test}/examples.json (note_str -> {pitch, instrument_family_str, ...}) and "
          "nsynth-{train,valid,test}/audio/<note_str>.wav")

#: Split name → the extracted archive's folder.
PART_DIRS = {"train": "nsynth-train", "valid": "nsynth-valid", "test": "nsynth-test"}

LABEL_FIELDS = ("instrument_family_str", "pitch")

#: MIDI pitches a note may have.
MIDI_RANGE = (0, 127)


def pitch_class_name(pitch: int) -> str:
    """The class name of a MIDI pitch: zero-padded to 3 digits (``21`` → ``"021"``)."""
    return f"{int(pitch):03d}"


def _pitch_range(options: TargetOptions) -> tuple[int, int] | None:
    value = options.value("pitch_range", None)
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                   for v in value)
            or not MIDI_RANGE[0] <= value[0] <= value[1] <= MIDI_RANGE[1]):
        raise ConfigError(f"{options.key('pitch_range')}={value!r} must be [low, high] MIDI pitches with "
                          f"{MIDI_RANGE[0]} <= low <= high <= {MIDI_RANGE[1]} (e.g. [21, 108], the piano keys), "
                          "or null")
    return value[0], value[1]


def read_examples(path: Path, *, options: TargetOptions) -> dict[str, dict]:
    """The ``examples.json`` dict of one part. Raises :class:`~mtl_music.errors.DataError`
    when it is missing, not JSON, or not a dict of dicts."""
    if not path.is_file():
        raise options.layout_error(f"{path} does not exist")
    try:
        examples = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise options.layout_error(f"{path} cannot be read as JSON ({err})") from err
    if not isinstance(examples, dict) or not all(isinstance(v, dict) for v in examples.values()):
        raise options.layout_error(f"{path} is not a JSON object of note_str -> fields")
    return examples


def load_index(cfg: Any) -> TargetIndex:
    """Reads NSynth (keys: ``name``, ``root``, ``label_field``, ``pitch_range``).

    Returns a classification :class:`TargetIndex` of the notes with audio (and a pitch in
    ``pitch_range``), sorted by ``note_str``, each with its part's split.
    """
    options = TargetOptions(cfg, dataset="NSynth", layout=LAYOUT)
    root = options.root()
    label_field = str(options.value("label_field"))
    if label_field not in LABEL_FIELDS:
        raise ConfigError(f"{options.key('label_field')}={label_field!r} must be one of {', '.join(LABEL_FIELDS)}")
    pitch_range = _pitch_range(options)
    tracks: list[TargetTrack] = []
    out_of_range, missing, unlabelled = 0, [], []
    for split, part in PART_DIRS.items():
        part_dir = root / part
        examples = read_examples(part_dir / "examples.json", options=options)
        audio_dir = part_dir / "audio"
        # one listing instead of a stat per note (the train part has 289,205)
        on_disk = {p.name for p in audio_dir.iterdir()} if audio_dir.is_dir() else set()
        for key, fields in examples.items():
            note = str(fields.get("note_str", key))
            pitch = fields.get("pitch")
            if not isinstance(pitch, int) or (label_field == "instrument_family_str"
                                              and not fields.get("instrument_family_str")):
                unlabelled.append(note)
                continue
            if pitch_range is not None and not pitch_range[0] <= pitch <= pitch_range[1]:
                out_of_range += 1
                continue
            if f"{note}.wav" not in on_disk:
                missing.append(f"{part}/audio/{note}.wav")
                continue
            label = pitch_class_name(pitch) if label_field == "pitch" else str(fields["instrument_family_str"])
            tracks.append(TargetTrack(track_id=note, path=audio_dir / f"{note}.wav", label=label, split=split))
    if out_of_range:
        log.info("target %s: %d note(s) with a pitch outside %s are left out (%s)", options.name, out_of_range,
                 list(pitch_range), options.key("pitch_range"))
    for what, items in (("lack a pitch or instrument_family_str", unlabelled),
                        (f"have no audio under {root}", missing)):
        if items:
            log.warning("target %s: %d note(s) %s and are left out (e.g. %s)", options.name, len(items), what,
                        ", ".join(items[:5]))
    if not tracks:
        raise options.layout_error(f"no note of {root}/nsynth-*/examples.json has its audio"
                                   + (f" and a pitch in {list(pitch_range)}" if pitch_range else ""))
    tracks.sort(key=lambda t: t.track_id)
    return TargetIndex(name=options.name, loader="nsynth", task="classification", metric="accuracy", tracks=tracks,
                       classes=sorted_classes([t.label for t in tracks]), extra_metrics=options.extra_metrics())


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """NSynth's split, ``n_repetitions`` times: train = train + valid, test = test.
    ``seed`` is unused (the split is fixed; repetitions differ by the probe's seed)."""
    return predefined_splits(index, n_repetitions=n_repetitions)
