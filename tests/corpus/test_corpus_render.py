"""Rendering notes to stereo PCM with tinysoundfont, and the performance choices."""

from __future__ import annotations

import numpy as np
import pytest

from mtl_music.corpus.catalog import Work
from mtl_music.corpus.performance import choose_performance
from mtl_music.corpus.render import PEAK_DBFS, Renderer, finish, mono_mixdown
from mtl_music.corpus.scores import ScoreNotes, estimate_mode
from mtl_music.errors import AudioError

SR = 22050


def _scale(n_voices: int = 1, length: float = 16.0) -> ScoreNotes:
    onsets, pitches, voices = [], [], []
    for voice in range(n_voices):
        for i in range(int(length)):
            onsets.append(float(i))
            pitches.append(72 - 7 * voice + [0, 2, 4, 5, 7, 9, 11, 12][i % 8])
            voices.append(voice)
    n = len(onsets)
    return ScoreNotes(
        onsets=np.array(onsets), durations=np.full(n, 1.0), pitches=np.array(pitches, dtype=np.int16),
        voices=np.array(voices, dtype=np.int16), strength=np.tile(np.array([1.0, 0.0, 0.5, 0.0], np.float32), n // 4 + 1)[:n],
        length=length, n_voices=n_voices, meter="4/4", beat=1.0, mode="major", mode_estimated=False, tempo_qpm=None,
        lyrics="",
    )


def _work(collection: str, tune_type: str) -> Work:
    return Work(key=f"test#{collection}", collection=collection, path="test", title="t", artist="a", year=1900,
                genres=("folk/test/x",), tune_type=tune_type)


@pytest.fixture(scope="module")
def renderer():
    return Renderer(sample_rate=SR)


def test_melody_is_looped_stereo_and_normalised(renderer):
    notes = _scale(1)
    performance = choose_performance(_work("oneills", "reel"), notes, rng=np.random.default_rng(0), duration=6.0)
    assert performance.loops >= 2 and abs(performance.pans[0]) >= 0.15
    audio = renderer.render(notes, performance, duration=6.0, rng=np.random.default_rng(1))
    assert audio.shape == (6 * SR, 2) and audio.dtype == np.float32
    assert np.isclose(np.abs(audio).max(), 10 ** (PEAK_DBFS / 20), atol=1e-3)
    assert np.abs(audio[:, 0] - audio[:, 1]).mean() > 1e-3  # panned: the channels differ
    assert np.abs(audio[: int(0.01 * SR)]).max() < np.abs(audio).max() * 0.5  # fade in


def test_polyphony_spreads_voices_and_render_is_deterministic(renderer):
    notes = _scale(4, length=64.0)
    work = _work("bach", "chorale")
    first = choose_performance(work, notes, rng=np.random.default_rng(3), duration=5.0)
    assert len(first.programs) == 4 and len(set(np.sign(first.pans))) == 2
    a = renderer.render(notes, first, duration=5.0, rng=np.random.default_rng(4))
    other = renderer.render(_scale(1), choose_performance(_work("oneills", "jig"), _scale(1), rng=np.random.default_rng(5),
                                                           duration=5.0), duration=5.0, rng=np.random.default_rng(6))
    b = renderer.render(notes, first, duration=5.0, rng=np.random.default_rng(4))
    assert np.array_equal(a, b), "a track must not depend on what the renderer played before"
    assert not np.array_equal(a, other)


def test_tempo_follows_the_printed_direction():
    notes = _scale(1)
    slow = Work(key="s", collection="oneills", path="p", title="t", artist="a", year=1903, genres=("folk/irish/air",),
                tune_type="air", tempo_word="Very slow")
    lively = Work(key="l", collection="oneills", path="p", title="t", artist="a", year=1903, genres=("folk/irish/air",),
                  tune_type="air", tempo_word="With spirit")
    bpm_slow = [choose_performance(slow, notes, rng=np.random.default_rng(i), duration=30.0).bpm for i in range(20)]
    bpm_lively = [choose_performance(lively, notes, rng=np.random.default_rng(i), duration=30.0).bpm for i in range(20)]
    assert max(bpm_slow) < min(bpm_lively)


def test_silence_is_rejected_and_mono_mixdown_is_normalised():
    with pytest.raises(AudioError, match="silent"):
        finish(np.zeros((SR, 2), dtype=np.float32), sample_rate=SR)
    stereo = np.stack([np.sin(np.arange(SR) * 0.05), 0.2 * np.sin(np.arange(SR) * 0.05)], axis=1).astype(np.float32)
    mono = mono_mixdown(stereo)
    assert mono.shape == (SR,) and np.isclose(np.abs(mono).max(), 10 ** (PEAK_DBFS / 20), atol=1e-4)


def test_estimate_mode_on_triads():
    c_major = np.array([60, 64, 67, 72, 65, 69, 67, 71, 74, 60])
    a_minor = np.array([57, 60, 64, 69, 62, 65, 64, 68, 71, 57])
    assert estimate_mode(c_major, np.ones(len(c_major))) == "major"
    assert estimate_mode(a_minor, np.ones(len(a_minor))) == "minor"
