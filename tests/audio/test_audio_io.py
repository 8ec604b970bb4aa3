import struct

import numpy as np
import pytest
import soundfile as sf

from mtl_music.audio import decode_audio, is_silent, load_audio, peak_dbfs, to_stereo
from mtl_music.errors import AudioError, MtlMusicError

from tests.helpers.folder_dataset import music_like, write_track


@pytest.mark.parametrize(
    "name, kwargs, rate",
    [
        ("a.wav", {}, 22050),
        ("a.flac", {}, 44100),
        ("a.ogg", {"format": "OGG", "subtype": "VORBIS"}, 44100),
        ("a.opus", {"format": "OGG", "subtype": "OPUS"}, 48000),
        ("a.mp3", {"format": "MP3"}, 44100),
    ],
)
def test_formats_load_as_stereo_float32_at_target_rate(tmp_path, name, kwargs, rate):
    path = write_track(tmp_path / name, 2.0, sr=rate, **kwargs)
    decoded = decode_audio(path, sample_rate=22050)
    assert decoded.samples.dtype == np.float32 and decoded.samples.shape[0] == 2
    assert decoded.samples.flags.c_contiguous
    assert decoded.source_rate == rate and decoded.sample_rate == 22050
    assert decoded.resampled == (rate != 22050)
    # Lossy codecs add encoder delay/padding; the length is within a few ms of 2 s.
    assert abs(decoded.samples.shape[1] - 2 * 22050) < 0.1 * 22050
    assert peak_dbfs(decoded.samples) > -20


def test_resampling_keeps_the_signal(tmp_path):
    sr = 44100
    t = np.arange(2 * sr) / sr
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    sf.write(tmp_path / "tone.wav", np.stack([tone, tone], 1), sr, subtype="FLOAT")
    out = load_audio(tmp_path / "tone.wav", sample_rate=22050)
    assert out.shape == (2, 2 * 22050)
    ref = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(2 * 22050) / 22050)
    assert np.max(np.abs(out[0, 1000:-1000] - ref[1000:-1000])) < 1e-3


def test_mono_is_duplicated_and_stereo_kept(tmp_path):
    write_track(tmp_path / "m.wav", 1.0, channels=1)
    mono = decode_audio(tmp_path / "m.wav")
    assert mono.source_channels == 1 and mono.samples.shape == (2, 22050)
    np.testing.assert_array_equal(mono.samples[0], mono.samples[1])
    data = music_like(1.0, channels=2)
    sf.write(tmp_path / "s.wav", data, 22050, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(tmp_path / "s.wav"), data.T)


def test_more_than_two_channels_follow_the_stated_rule(tmp_path):
    data = music_like(1.0, channels=4, seed=3)
    sf.write(tmp_path / "quad.wav", data, 22050, subtype="FLOAT")
    out = load_audio(tmp_path / "quad.wav")
    centre = data[:, 2:].mean(axis=1)
    np.testing.assert_allclose(out[0], (data[:, 0] + centre) / 2, atol=1e-6)
    np.testing.assert_allclose(out[1], (data[:, 1] + centre) / 2, atol=1e-6)
    assert to_stereo(data.T).shape == (2, data.shape[0])


def test_offset_and_duration_read_only_that_part(tmp_path):
    data = music_like(3.0, seed=1)
    sf.write(tmp_path / "x.flac", data, 22050)
    whole = load_audio(tmp_path / "x.flac")
    part = load_audio(tmp_path / "x.flac", offset=1.0, duration=0.5)
    assert part.shape == (2, 11025)
    np.testing.assert_array_equal(part, whole[:, 22050 : 22050 + 11025])
    assert load_audio(tmp_path / "x.flac", offset=5.0).shape == (2, 0)


def test_missing_corrupt_and_rateless_files_raise_audio_error_naming_the_file(tmp_path):
    with pytest.raises(AudioError, match="nope.wav.*does not exist"):
        load_audio(tmp_path / "nope.wav")
    (tmp_path / "junk.mp3").write_bytes(b"\x00garbage" * 300)
    with pytest.raises(AudioError, match="junk.mp3"):
        load_audio(tmp_path / "junk.mp3")
    good = write_track(tmp_path / "cut.flac", 2.0).read_bytes()
    (tmp_path / "cut.flac").write_bytes(good[: len(good) // 2])
    with pytest.raises(AudioError, match="cut.flac"):
        load_audio(tmp_path / "cut.flac")
    # A WAV whose header gives 0 Hz: the rate cannot be determined.
    wav = bytearray(write_track(tmp_path / "r.wav", 0.5, subtype="PCM_16").read_bytes())
    wav[24:28] = struct.pack("<I", 0)
    wav[28:32] = struct.pack("<I", 0)
    (tmp_path / "r0.wav").write_bytes(bytes(wav))
    with pytest.raises(AudioError, match="r0.wav.*sample rate"):
        load_audio(tmp_path / "r0.wav")
    assert issubclass(AudioError, MtlMusicError)


def test_silence_check():
    assert is_silent(np.zeros((2, 100), np.float32))
    assert is_silent(np.full((2, 100), 1e-4, np.float32))  # -80 dBFS
    assert not is_silent(music_like(0.5).T)
    assert peak_dbfs(np.zeros((2, 0))) == float("-inf")
