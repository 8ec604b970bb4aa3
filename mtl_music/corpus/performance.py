"""How one work is performed in its preview: instruments, stereo placement, tempo, window.

Every choice is drawn from a generator seeded by (corpus seed, track id), so a track sounds
the same in every build whatever the corpus size or worker order. The distributions are
stated here and in ``docs/data_card.md``:

* **instrument family** per collection (:data:`COLLECTION_FAMILIES`); the target material uses
  its training counterpart's distribution for every class, so the instrument never gives a
  region or dance type away. Polyphony: one General MIDI program per voice, by register.
  A melody (one voice) is doubled with probability :data:`DOUBLING_P` by a second family
  panned to the other side.
* **pan**: a melody sits off-centre (|pan| 0.15-0.7, side at random); voices of polyphony are
  spread evenly over a random width 0.4-1.0 with a little jitter, so the channels differ.
* **tempo**: a base rate (printed metronome mark, else the tune type's or collection's rate in
  beats of the notated meter, scaled by a printed direction such as "Slow"), times a
  log-normal factor (sigma 0.08, clipped to +/-15 %).
* **window**: works longer than the preview start at a random beat; shorter ones loop with a
  one-beat pause between passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtl_music.corpus.catalog import Work
from mtl_music.corpus.scores import ScoreNotes

# Instrument families: General MIDI programs (0-based) from the highest register to the lowest.
FAMILY_PROGRAMS: dict[str, tuple[tuple[int, ...], ...]] = {
    "fiddle": ((110, 40),),
    "flute": ((73,),),
    "tin whistle": ((78,),),
    "accordion": ((21, 23),),
    "piano": ((0, 1),),
    "guitar": ((24, 25),),
    "harp": ((46,),),
    "uilleann pipes": ((109,),),
    "banjo": ((105,),),
    "clarinet": ((71,),),
    "harmonica": ((22,),),
    "voice": ((53, 52),),
    "organ": ((19,), (19, 20), (19, 20), (19,)),
    "choir": ((52,), (52, 53), (53, 52), (52,)),
    "strings": ((40, 48), (40, 41), (41, 42), (42, 43)),
    "winds": ((68, 73), (71, 68), (71, 70), (70,)),
    "recorders": ((74,), (74, 73), (74, 71), (70,)),
    "viols": ((40, 41), (41,), (42, 41), (42, 43)),
    "lute and harpsichord": ((24, 6), (24,), (6, 24), (6,)),
    "harp and lute": ((46,), (24, 46), (24,), (46,)),
}
# Families whose notes are held to their full written length (bowed, blown, sung).
LEGATO_FAMILIES = frozenset({"organ", "choir", "strings", "winds", "recorders", "viols", "voice", "accordion", "harmonica"})

_FOLK_GERMAN = {"piano": 0.2, "accordion": 0.2, "guitar": 0.15, "voice": 0.1, "clarinet": 0.1, "flute": 0.1,
                "fiddle": 0.1, "harmonica": 0.05}
_FOLK_IRISH = {"fiddle": 0.35, "flute": 0.15, "tin whistle": 0.1, "accordion": 0.1, "uilleann pipes": 0.1, "harp": 0.1,
               "piano": 0.05, "banjo": 0.05}
COLLECTION_FAMILIES: dict[str, dict[str, float]] = {
    "essen_german": _FOLK_GERMAN,
    "essen_regional": _FOLK_GERMAN,
    "oneills": _FOLK_IRISH,
    "ryans": _FOLK_IRISH,
    "bach": {"organ": 0.45, "choir": 0.3, "strings": 0.15, "winds": 0.1},
    "palestrina": {"choir": 0.55, "viols": 0.2, "recorders": 0.15, "organ": 0.1},
    "monteverdi": {"choir": 0.45, "viols": 0.25, "lute and harpsichord": 0.2, "recorders": 0.1},
    "trecento": {"recorders": 0.3, "choir": 0.3, "viols": 0.25, "harp and lute": 0.15},
}
DOUBLING_P = 0.35

# Base tempo in beats of the notated meter per minute (music21's beat: 1.5 quarters in 6/8).
TACTUS_BPM: dict[str, float] = {
    "song": 92.0, "air": 72.0, "jig": 112.0, "slip jig": 112.0, "slide": 130.0, "march": 110.0, "waltz": 150.0,
    "polka": 130.0, "set dance": 100.0, "chorale": 72.0, "mass": 60.0, "madrigal": 66.0, "mass movement": 66.0,
    "motet": 66.0, "ballata": 72.0,
}
# Dance types notated in 4/4 or 2/2 alike: their base rate is fixed in quarter notes per minute.
QUARTER_BPM: dict[str, float] = {"reel": 210.0, "hornpipe": 165.0, "strathspey": 130.0, "clog": 160.0,
                                 "highland fling": 140.0, "walkaround": 180.0, "schottische": 140.0}
# Printed directions (O'Neill's airs) -> factor on the base rate.
TEMPO_WORD_FACTORS: tuple[tuple[str, float], ...] = (
    ("very slow", 0.7), ("slow", 0.8), ("mournful", 0.8), ("plaintive", 0.85), ("tender", 0.85),
    ("with feeling", 0.85), ("with expression", 0.85), ("moderate", 1.0), ("grace", 1.0), ("distinct", 1.0),
    ("cheerful", 1.15), ("gaily", 1.15), ("playful", 1.15), ("lively", 1.3), ("spirit", 1.3), ("animat", 1.3),
    ("bold", 1.2), ("quick", 1.3), ("fast", 1.35),
)
TEMPO_SIGMA = 0.08
TEMPO_CLIP = 0.15
#: Octave errors of the reported tempo (like the Echo Nest estimate): P(halved), P(doubled).
OCTAVE_ERROR_P = (0.015, 0.015)


@dataclass(frozen=True)
class Performance:
    """The choices for one rendering.

    ``programs``/``pans``/``velocities``: per MIDI channel used (length = voices + doubling);
    ``voice_of_channel`` maps each channel to the score voice it plays and
    ``transpose`` its octave shift; ``pans`` in [-1, 1]; ``qpm`` the rendering tempo in quarter
    notes per minute; ``bpm`` the tempo in beats of the notated meter (``qpm / beat``);
    ``reported_bpm`` the value written to ``tempo.tsv`` (``bpm`` with a rare octave error);
    ``start`` the window start in seconds of the (looped) performance; ``loops`` how many passes
    of the work the window needs; ``legato`` the fraction of a written duration a note sounds.
    """

    family: str
    families: tuple[str, ...]
    programs: tuple[int, ...]
    pans: tuple[float, ...]
    velocities: tuple[int, ...]
    voice_of_channel: tuple[int, ...]
    transpose: tuple[int, ...]
    qpm: float
    bpm: float
    reported_bpm: float
    start: float
    loops: int
    legato: float
    gap: float


def _draw_family(distribution: dict[str, float], rng: np.random.Generator, *, exclude: str = "") -> str:
    names = [name for name in distribution if name != exclude]
    weights = np.array([distribution[name] for name in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _program(family: str, voice: int, n_voices: int, rng: np.random.Generator) -> int:
    registers = FAMILY_PROGRAMS[family]
    register = 0 if n_voices == 1 else int(round(voice * (len(registers) - 1) / (n_voices - 1)))
    choices = registers[register]
    return int(choices[int(rng.integers(len(choices)))])


def base_bpm(work: Work, notes: ScoreNotes) -> float:
    """The base rate in beats of the notated meter, before the per-track random factor."""
    if notes.tempo_qpm:
        return notes.tempo_qpm / notes.beat
    if work.tune_type in QUARTER_BPM:
        return QUARTER_BPM[work.tune_type] / notes.beat
    bpm = TACTUS_BPM.get(work.tune_type, 90.0)
    word = work.tempo_word.lower()
    for stem, factor in TEMPO_WORD_FACTORS:
        if stem in word:
            bpm *= factor
            break
    # Beats of 3 quarters or more (6/4, 3/1…) are whole-bar pulses: slow them like a 6/8 beat.
    return bpm * (1.5 / notes.beat) if notes.beat > 2.0 else bpm


def choose_performance(work: Work, notes: ScoreNotes, *, rng: np.random.Generator, duration: float) -> Performance:
    """Draws the instruments, pans, tempo and window of one ``duration``-second preview."""
    distribution = COLLECTION_FAMILIES[work.collection]
    family = _draw_family(distribution, rng)
    n_voices = notes.n_voices
    families: list[str] = []
    programs, pans, velocities, voice_of_channel, transpose = [], [], [], [], []
    if n_voices == 1:
        side = 1.0 if rng.random() < 0.5 else -1.0
        families.append(family)
        programs.append(_program(family, 0, 1, rng))
        pans.append(side * float(rng.uniform(0.15, 0.7)))
        velocities.append(int(rng.integers(85, 111)))
        voice_of_channel.append(0)
        transpose.append(0)
        if rng.random() < DOUBLING_P:
            second = _draw_family(distribution, rng, exclude=family)
            families.append(second)
            programs.append(_program(second, 0, 1, rng))
            pans.append(-side * float(rng.uniform(0.3, 0.9)))
            velocities.append(int(rng.integers(60, 86)))
            voice_of_channel.append(0)
            transpose.append(-12 if np.median(notes.pitches) >= 72 else 0)
    else:
        width = float(rng.uniform(0.4, 1.0))
        positions = np.linspace(-width, width, n_voices) + rng.uniform(-0.1, 0.1, n_voices)
        if rng.random() < 0.5:
            positions = positions[::-1]
        for voice in range(n_voices):
            families.append(family)
            programs.append(_program(family, voice, n_voices, rng))
            pans.append(float(np.clip(positions[voice], -1.0, 1.0)))
            velocities.append(int(rng.integers(75, 101)))
            voice_of_channel.append(voice)
            transpose.append(0)

    factor = float(np.clip(rng.lognormal(0.0, TEMPO_SIGMA), 1.0 - TEMPO_CLIP, 1.0 + TEMPO_CLIP))
    bpm = float(np.clip(base_bpm(work, notes) * factor, 30.0, 300.0))
    qpm = bpm * notes.beat
    u = rng.random()
    reported = bpm / 2 if u < OCTAVE_ERROR_P[0] else (bpm * 2 if u < sum(OCTAVE_ERROR_P) else bpm)

    seconds_per_quarter = 60.0 / qpm
    beat_seconds = notes.beat * seconds_per_quarter
    work_seconds = notes.length * seconds_per_quarter
    if work_seconds >= duration + beat_seconds:
        n_beats = int((work_seconds - duration) // beat_seconds)
        start, loops, gap = float(rng.integers(0, n_beats + 1)) * beat_seconds, 1, 0.0
    else:
        gap = beat_seconds  # one beat of silence between passes, like a player breathing
        loops = int(np.ceil(duration / (work_seconds + gap))) + 1
        start = 0.0
    return Performance(
        family=family,
        families=tuple(families),
        programs=tuple(programs),
        pans=tuple(pans),
        velocities=tuple(velocities),
        voice_of_channel=tuple(voice_of_channel),
        transpose=tuple(transpose),
        qpm=qpm,
        bpm=bpm,
        reported_bpm=float(reported),
        start=start,
        loops=loops,
        legato=0.97 if family in LEGATO_FAMILIES else 0.85,
        gap=gap,
    )
