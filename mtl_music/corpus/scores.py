"""Parsing one work with music21 and reading the notes and musical facts the renderer needs.

:func:`parse_work` parses a single work (one ABC tune's own text, or one corpus file) so that
a parse stays cheap (15 ms for a folk tune, 30-500 ms for a chorale or mass movement);
:func:`score_notes` turns the parsed score into flat note arrays in quarter-note units plus the
facts used as labels (meter, mode, number of voices, lyrics).
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mtl_music.corpus.catalog import Work, corpus_root
from mtl_music.errors import DataError

#: Works at most this long (quarter notes) get their repeats expanded.
SHORT_WORK_QL = 96.0
#: At most this many voices are rendered (one MIDI channel each, channel 9 = drums skipped).
MAX_VOICES = 8
_ABC_MODE = re.compile(r"^\s*[A-Ga-g][#b]?\s*(major|maj|minor|min|mix|m|ion|dor|phr|lyd|aeo|loc)?", re.IGNORECASE)
_MODE_NAMES = {"": "major", "maj": "major", "major": "major", "ion": "major", "m": "minor", "min": "minor",
               "minor": "minor", "aeo": "minor", "dor": "dorian", "phr": "phrygian", "lyd": "lydian",
               "mix": "mixolydian", "loc": "locrian"}


@dataclass(frozen=True)
class ScoreNotes:
    """A work's notes, flat, in quarter-note units (before any tempo is chosen).

    ``onsets``/``durations``: float64 ``(n,)`` quarter lengths from the start (repeats expanded
    where music21 can); ``pitches``: int16 ``(n,)`` MIDI keys; ``voices``: int16 ``(n,)`` voice
    index, 0 = highest part; ``strength``: float32 ``(n,)`` metric weight in [0, 1] (1 on the
    downbeat). ``length`` is the total length in quarter notes, ``beat`` the duration of the
    meter's beat in quarter notes (1.5 in 6/8, 2 in 2/2), ``meter`` its text ("" when the tune
    has none), ``mode`` "major"/"minor"/modal name (``mode_estimated`` when music21's key
    analysis had to guess it), ``tempo_qpm`` a printed metronome mark or ``None``, ``lyrics``
    the text sung in the score (longest part), ``""`` when it has none.
    """

    onsets: np.ndarray
    durations: np.ndarray
    pitches: np.ndarray
    voices: np.ndarray
    strength: np.ndarray
    length: float
    n_voices: int
    meter: str
    beat: float
    mode: str
    mode_estimated: bool
    tempo_qpm: float | None
    lyrics: str


@contextmanager
def _without_beaming():
    """music21's ABC translator beams every bar: 2/3 of an ABC parse, and beams do not sound.

    ``Stream.makeBeams`` is a no-op for the duration of one parse (process-wide: fine in the
    single-threaded render workers, where this runs).
    """
    from music21 import stream

    original = stream.Stream.makeBeams
    stream.Stream.makeBeams = lambda self, *args, **kwargs: None
    try:
        yield
    finally:
        stream.Stream.makeBeams = original


def parse_work(work: Work):
    """Parses one work with music21 and returns a ``music21.stream.Score``.

    ABC tunes are parsed from their own text (``format="abc"``, without beaming); other works from their corpus
    file, bypassing music21's pickle cache (``forceSource``) so parallel workers never race on it.
    Raises :class:`DataError` naming the work when music21 cannot parse it.
    """
    from music21 import converter, stream

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if work.abc:
                with _without_beaming():
                    parsed = converter.parse(work.abc, format="abc")
            else:
                parsed = converter.parse(corpus_root() / work.path, forceSource=True)
    except Exception as exc:  # music21 raises many unrelated types on malformed encodings
        raise DataError(f"music21 cannot parse {work.key} ({work.path}): {type(exc).__name__}: {exc}") from exc
    if isinstance(parsed, stream.Opus):
        scores = list(parsed.scores)
        if not scores:
            raise DataError(f"{work.key}: music21 returned an empty opus")
        parsed = scores[0]
    return parsed


def _expand_repeats(score):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return score.expandRepeats()
    except Exception:  # noqa: BLE001 - inconsistent repeat marks: keep the score as written
        return score


# Krumhansl-Kessler key profiles (major, minor), tonic first.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_mode(pitches: np.ndarray, durations: np.ndarray) -> str:
    """"major" or "minor" by the Krumhansl-Schmuckler key-finding algorithm.

    ``pitches`` int MIDI keys ``(n,)``, ``durations`` float ``(n,)``: the duration-weighted
    pitch-class histogram is correlated with the 24 rotated key profiles (what music21's
    ``analyze("key")`` does, on arrays, without walking the score again).
    """
    histogram = np.bincount(np.mod(pitches.astype(np.int64), 12), weights=durations, minlength=12)
    if not histogram.any():
        return ""
    best, best_mode = -np.inf, ""
    for profile, mode in ((_MAJOR_PROFILE, "major"), (_MINOR_PROFILE, "minor")):
        for tonic in range(12):
            r = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1]
            if r > best:
                best, best_mode = r, mode
    return best_mode


def _mode(score, work: Work, pitches: np.ndarray, durations: np.ndarray) -> tuple[str, bool]:
    """(mode, estimated): a mode written in the key, else an estimate from the notes.

    ABC ``K:`` with a mode suffix ("Gm", "Ador") is trusted. The Essen encodings carry only the
    key signature ("K: G" for a tune in E minor too), so their mode is estimated; in the other
    ABC collections the transcribers mark every non-major mode, so a bare key means major.
    """
    if work.abc:
        key_line = next((line[2:] for line in work.abc.splitlines() if line.startswith("K:")), "")
        match = _ABC_MODE.match(key_line)
        if match and match.group(1):
            return _MODE_NAMES.get(match.group(1).lower(), "major"), False
        if match and not work.collection.startswith("essen"):
            return "major", False
        return estimate_mode(pitches, durations), True
    from music21 import key

    found = score.recurse().getElementsByClass(key.Key).first()
    if found is not None and found.mode in ("major", "minor"):
        return found.mode, False
    return estimate_mode(pitches, durations), True


def _lyrics(parts) -> str:
    from music21 import text

    best = ""
    for part in parts:
        try:
            sung = text.assembleLyrics(part)
        except Exception:  # noqa: BLE001 - malformed lyric objects: no text for this part
            sung = ""
        if len(sung) > len(best):
            best = sung
    return best.strip()


def _merged_notes(flat) -> list[tuple[float, float, int]]:
    """(onset, duration, MIDI key) of a flat part with tied notes merged and grace notes dropped.

    Equivalent to music21's ``stripTies`` for this purpose at a fraction of its cost (it deep
    copies the part): a tie start opens a note per key, continue/stop extend and close it.
    """
    rows: list[tuple[float, float, int]] = []
    pending: dict[int, list[float]] = {}
    for element in flat.notes:
        duration = float(element.duration.quarterLength)
        if duration <= 0 or element.duration.isGrace:
            continue
        onset = float(element.offset)
        members = element.notes if element.isChord else (element,)
        for note in members:
            key = int(round(note.pitch.ps))
            tie = note.tie if note.tie is not None else element.tie
            kind = tie.type if tie is not None else None
            if kind in ("continue", "stop") and key in pending:
                pending[key][1] = onset + duration - pending[key][0]
                if kind == "stop":
                    start, length = pending.pop(key)
                    rows.append((start, length, key))
                continue
            if kind in ("start", "continue"):
                if key in pending:  # a tie start without its stop: close the open note
                    start, length = pending.pop(key)
                    rows.append((start, length, key))
                pending[key] = [onset, duration]
                continue
            rows.append((onset, duration, key))
    rows.extend((start, length, key) for key, (start, length) in pending.items())
    return rows


def score_notes(score, work: Work) -> ScoreNotes:
    """Flat notes and facts of a parsed ``score`` (see :class:`ScoreNotes`).

    Ties are merged, grace notes dropped, chords split into their pitches; at most
    :data:`MAX_VOICES` parts are kept (the highest and lowest first, inner parts last).
    Raises :class:`DataError` when the work has no playable notes.
    """
    from music21 import meter, spanner, stream, tempo

    # Short tunes are looped to fill the preview, which plays every strain anyway; repeats are
    # expanded only where first/second endings would otherwise sound back to back (expanding
    # deep-copies the score: 50-100 ms per tune).
    expanded = score
    if float(score.highestTime) <= SHORT_WORK_QL and score.recurse().getElementsByClass(spanner.RepeatBracket).first():
        expanded = _expand_repeats(score)
    parts = list(expanded.parts) if isinstance(expanded, stream.Score) and expanded.parts else [expanded]

    signature = expanded.recurse().getElementsByClass(meter.TimeSignature).first()
    meter_text = signature.ratioString if signature is not None else ""
    beat = float(signature.beatDuration.quarterLength) if signature is not None else 1.0
    bar = float(signature.barDuration.quarterLength) if signature is not None else 0.0
    mark = expanded.recurse().getElementsByClass(tempo.MetronomeMark).first()
    tempo_qpm = None
    if mark is not None and mark.number:
        try:
            tempo_qpm = float(mark.getQuarterBPM())
        except Exception:  # noqa: BLE001 - a mark without a usable referent
            tempo_qpm = None

    per_part = []
    for part in parts:
        measures = part.getElementsByClass(stream.Measure)
        first = measures.first() if measures else None
        # A pickup bar shifts the bar grid: downbeats are where offset + pickup hits a bar line.
        pickup = 0.0
        if first is not None and bar > 0:
            shortfall = bar - float(first.duration.quarterLength)
            pickup = shortfall if 0 < shortfall < bar else 0.0
        rows = _merged_notes(part.flatten())
        if rows:
            per_part.append((np.asarray(rows, dtype=np.float64), pickup))
    if not per_part:
        raise DataError(f"{work.key}: no playable notes after parsing ({work.path})")

    # Voice order: highest mean pitch first; keep the outer voices when there are too many.
    per_part.sort(key=lambda item: -float(item[0][:, 2].mean()))
    if len(per_part) > MAX_VOICES:
        keep = [0, len(per_part) - 1] + list(range(1, MAX_VOICES - 1))
        per_part = [per_part[i] for i in sorted(keep)]
    onsets, durations, pitches, voices, strength = [], [], [], [], []
    for voice, (rows, pickup) in enumerate(per_part):
        onsets.append(rows[:, 0])
        durations.append(rows[:, 1])
        pitches.append(rows[:, 2])
        voices.append(np.full(len(rows), voice))
        if bar > 0:
            in_bar = np.mod(rows[:, 0] + pickup, bar)
            on_beat = np.isclose(np.mod(in_bar, beat), 0.0) | np.isclose(np.mod(in_bar, beat), beat)
            weight = np.where(np.isclose(in_bar, 0.0) | np.isclose(in_bar, bar), 1.0, np.where(on_beat, 0.5, 0.0))
        else:
            weight = np.zeros(len(rows))
        strength.append(weight)
    onsets_all = np.concatenate(onsets)
    durations_all = np.concatenate(durations)
    order = np.lexsort((np.concatenate(voices), onsets_all))
    length = float(max(float(expanded.highestTime), float((onsets_all + durations_all).max())))
    pitches_all = np.clip(np.concatenate(pitches), 0, 127).astype(np.int16)
    mode, estimated = _mode(expanded, work, pitches_all, durations_all)
    return ScoreNotes(
        onsets=onsets_all[order],
        durations=durations_all[order],
        pitches=pitches_all[order],
        voices=np.concatenate(voices).astype(np.int16)[order],
        strength=np.concatenate(strength).astype(np.float32)[order],
        length=length,
        n_voices=len(per_part),
        meter=meter_text,
        beat=beat,
        mode=mode,
        mode_estimated=estimated,
        tempo_qpm=tempo_qpm,
        lyrics=_lyrics(parts) if not work.abc else "",
    )
