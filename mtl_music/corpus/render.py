"""Score notes + a performance -> stereo PCM, offline, with tinysoundfont and TimGM6mb.sf2.

The General MIDI soundfont is the one inside the ``pretty_midi`` wheel; ``tinysoundfont``
synthesises into memory (``Synth.generate_simple``: no audio device, no sequencer thread).
One :class:`Renderer` (one synthesizer, soundfont loaded once) lives in each worker process.

Post-processing, stated: peak normalised to :data:`PEAK_DBFS` (-3 dBFS), 50 ms raised-cosine
fade in and 500 ms fade out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mtl_music.corpus.performance import Performance
from mtl_music.corpus.scores import ScoreNotes
from mtl_music.errors import AudioError, DataError

PEAK_DBFS = -3.0
FADE_IN_S = 0.05
FADE_OUT_S = 0.5
#: Renders quieter than this peak (before normalisation) are rejected as silent.
SILENCE_PEAK = 1e-4
_DRUM_CHANNEL = 9
_ONSET_JITTER_S = 0.006  # a player's timing spread (standard deviation)


def soundfont_path() -> Path:
    """``TimGM6mb.sf2`` inside the installed ``pretty_midi`` package."""
    try:
        import pretty_midi
    except ImportError as exc:  # pragma: no cover - pretty_midi is a hard dependency
        raise DataError("pretty_midi is not installed; the demo corpus uses its soundfont: pip install pretty_midi") from exc
    path = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise DataError(f"the General MIDI soundfont {path} is missing; reinstall pretty_midi (pip install --force-reinstall pretty_midi)")
    return path


def _channels(n: int) -> list[int]:
    channels = [c for c in range(16) if c != _DRUM_CHANNEL]
    if n > len(channels):
        raise DataError(f"a performance needs {n} MIDI channels; at most {len(channels)} are available")
    return channels[:n]


def note_events(notes: ScoreNotes, performance: Performance, *, duration: float, sample_rate: int,
                rng: np.random.Generator) -> np.ndarray:
    """The MIDI events of a preview as an int64 array ``(n_events, 5)``.

    Columns: sample index, kind (0 = note off, 1 = note on), channel slot (index into the
    performance's channels), key, velocity; sorted by time with offs before ons.
    """
    seconds_per_quarter = 60.0 / performance.qpm
    pass_seconds = notes.length * seconds_per_quarter + performance.gap
    rows = []
    for slot, voice in enumerate(performance.voice_of_channel):
        mine = notes.voices == voice
        onset_q, length_q = notes.onsets[mine], notes.durations[mine]
        keys = np.clip(notes.pitches[mine].astype(np.int64) + performance.transpose[slot], 0, 127)
        strength = notes.strength[mine]
        for rep in range(performance.loops):
            onset = onset_q * seconds_per_quarter + rep * pass_seconds - performance.start
            onset = onset + rng.normal(0.0, _ONSET_JITTER_S, onset.shape)
            offset = onset + np.maximum(length_q * seconds_per_quarter * performance.legato, 0.03)
            keep = (offset > 0.05) & (onset < duration)
            if not keep.any():
                continue
            velocity = performance.velocities[slot] + np.round(14 * strength[keep]) + rng.normal(0.0, 4.0, keep.sum())
            on_samples = np.round(np.maximum(onset[keep], 0.0) * sample_rate).astype(np.int64)
            off_samples = np.round(np.minimum(offset[keep], duration) * sample_rate).astype(np.int64)
            n = len(on_samples)
            velocity = np.clip(np.round(velocity), 1, 127).astype(np.int64)
            rows.append(np.stack([on_samples, np.ones(n, np.int64), np.full(n, slot), keys[keep], velocity], axis=1))
            rows.append(np.stack([off_samples, np.zeros(n, np.int64), np.full(n, slot), keys[keep], np.zeros(n, np.int64)], axis=1))
    if not rows:
        return np.zeros((0, 5), dtype=np.int64)
    events = np.concatenate(rows)
    return events[np.lexsort((events[:, 1], events[:, 0]))]


class Renderer:
    """One tinysoundfont synthesizer with the soundfont loaded once; one per worker process.

    Between previews the synthesizer is reset (all sounds off, all controllers reset, 100 ms
    rendered into a scratch buffer so releasing voices end): without this, voice state of
    the previous track leaked into the next (measured: up to 0.4 % of peak), which would make
    a track's audio depend on the worker's rendering order. With it, a track renders to the
    same samples whatever was rendered before (tested).
    """

    _FLUSH_S = 0.1

    def __init__(self, *, sample_rate: int = 22050, soundfont: Path | None = None) -> None:
        import tinysoundfont

        self.sample_rate = int(sample_rate)
        self.soundfont = Path(soundfont) if soundfont is not None else soundfont_path()
        # Gain -6 dB: up to 8 voices mix without clipping inside the synth; output is normalised anyway.
        self._synth = tinysoundfont.Synth(gain=-6.0, samplerate=self.sample_rate)
        self._sfid = self._synth.sfload(str(self.soundfont))
        self._used_channels: list[int] = []

    def _reset(self, performance: Performance) -> list[int]:
        synth = self._synth
        synth.sounds_off()
        for channel in self._used_channels:
            synth.control_change(channel, 121, 0)  # reset all controllers
        synth.generate_simple(int(self._FLUSH_S * self.sample_rate))
        channels = _channels(len(performance.programs))
        for channel, program, pan in zip(channels, performance.programs, performance.pans):
            synth.program_select(channel, self._sfid, 0, int(program))
            synth.control_change(channel, 7, 100)  # channel volume
            synth.control_change(channel, 10, int(round((pan + 1.0) * 63.5)))  # pan: 0 left, 127 right
            synth.pitchbend(channel, 8192)
        self._used_channels = sorted(set(self._used_channels) | set(channels))
        return channels

    def render(self, notes: ScoreNotes, performance: Performance, *, duration: float,
               rng: np.random.Generator) -> np.ndarray:
        """A ``duration``-second stereo preview: float32 ``(n_samples, 2)``, peak at -3 dBFS.

        Raises :class:`AudioError` when the result is silent (no note sounded in the window).
        """
        n_samples = int(round(duration * self.sample_rate))
        events = note_events(notes, performance, duration=duration, sample_rate=self.sample_rate, rng=rng)
        channels = self._reset(performance)
        synth = self._synth
        out = np.zeros(n_samples * 2, dtype=np.float32)
        position = 0
        for sample, kind, slot, key, velocity in events.tolist():
            sample = min(sample, n_samples)
            if sample > position:
                out[position * 2 : sample * 2] = np.frombuffer(synth.generate_simple(sample - position), dtype=np.float32)
                position = sample
            if kind == 1:
                synth.noteon(channels[slot], key, velocity)
            else:
                synth.noteoff(channels[slot], key)
        if position < n_samples:
            out[position * 2 :] = np.frombuffer(synth.generate_simple(n_samples - position), dtype=np.float32)
        audio = out.reshape(n_samples, 2)
        return finish(audio, sample_rate=self.sample_rate)


def finish(audio: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Peak normalisation to :data:`PEAK_DBFS` and raised-cosine fades; float32 ``(n, 2)``."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak < SILENCE_PEAK:
        raise AudioError(f"the rendered preview is silent (peak {peak:.1e}); the work has no notes in its window")
    audio = audio * np.float32(10 ** (PEAK_DBFS / 20) / peak)
    n_in = min(int(FADE_IN_S * sample_rate), len(audio))
    n_out = min(int(FADE_OUT_S * sample_rate), len(audio))
    audio[:n_in] *= (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n_in, dtype=np.float32)))[:, None]
    audio[len(audio) - n_out :] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, n_out, dtype=np.float32)))[:, None]
    return audio.astype(np.float32, copy=False)


def mono_mixdown(audio: np.ndarray) -> np.ndarray:
    """Mean of the two channels, peak normalised again to :data:`PEAK_DBFS`: float32 ``(n,)``."""
    mono = audio.mean(axis=1)
    peak = float(np.abs(mono).max())
    if peak < SILENCE_PEAK:
        raise AudioError(f"the mono mixdown is silent (peak {peak:.1e}): the channels cancel out")
    return (mono * np.float32(10 ** (PEAK_DBFS / 20) / peak)).astype(np.float32)
