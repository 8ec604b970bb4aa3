"""Audio deformations (robustness protocol): each kind's measured effect, layout, determinism,
names and config errors, and the MFCC baseline's deformed features."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from mtl_music.audio.deform import (
    Deformation,
    decode_mp3,
    deformation_seed,
    deformations_from,
    encode_mp3,
    mp3_bitrates,
)
from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.settings import EvaluationSettings

SR = 22050


def music(seconds=2.0, channels=2, seed=0):
    """Band-limited noise plus a tone: (channels, n) float32 within [-1, 1]."""
    n = int(seconds * SR)
    rng = np.random.default_rng(seed)
    noise = sosfiltfilt(butter(6, 5000, fs=SR, output="sos"), rng.standard_normal((channels, n)), axis=-1)
    t = np.arange(n) / SR
    return (0.15 * noise + 0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def sine(freq, seconds=2.0, amplitude=0.5):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def best_lag(x, y, *, max_lag):
    """The lag (samples y is late) of the largest cross-correlation within ±max_lag."""
    n = 1 << int(np.ceil(np.log2(x.size + y.size)))
    xc = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    return int(lags[np.argmax(xc[lags])])


def db(power_ratio):
    return 10 * np.log10(power_ratio)


def power(x):
    return float(np.mean(np.square(x, dtype=np.float64)))


def test_noise_reaches_the_snr_and_leaves_silence_alone(caplog):
    x = music()
    for snr in (20, 10, 0, -5):
        y = Deformation("noise", snr).apply(x, sample_rate=SR, seed=3)
        assert abs(db(power(x) / power(y - x)) - snr) < 0.1
    silent = np.zeros((2, SR), np.float32)
    with caplog.at_level("INFO", logger="mtl_music.audio.deform"):
        np.testing.assert_array_equal(Deformation("noise", 10).apply(silent, sample_rate=SR, seed=0), silent)
    assert "silent" in caplog.text


def test_gain_is_exact_then_clips():
    x = music()
    quiet = Deformation("gain", -12).apply(x, sample_rate=SR, seed=0)
    np.testing.assert_allclose(quiet, x * 10 ** (-12 / 20), rtol=1e-6)
    loud = Deformation("gain", 6).apply(x * 2, sample_rate=SR, seed=0)
    expected = np.clip(x * 2 * 10 ** (6 / 20), -1, 1)
    np.testing.assert_allclose(loud, expected, rtol=1e-6)
    assert loud.max() == 1.0 and loud.min() == -1.0


def test_lowpass_attenuates_above_and_keeps_below():
    for cutoff in (4000, 1000):
        deform = Deformation("lowpass", cutoff)
        above = sine(2 * cutoff)
        below = sine(cutoff / 4)
        core = slice(SR // 4, -SR // 4)  # away from the edges' transients
        assert db(power(above[core]) / power(deform.apply(above, sample_rate=SR, seed=0)[core])) >= 30
        assert abs(db(power(below[core]) / power(deform.apply(below, sample_rate=SR, seed=0)[core]))) < 1


def test_codec_is_close_but_lossy_at_its_bitrate():
    x = music(seconds=3.0)
    for kbps in (64, 32):
        data = encode_mp3(audio=x, sample_rate=SR, kbps=kbps)
        achieved = len(data) * 8 / (x.shape[1] / SR) / 1000
        assert abs(achieved - kbps) <= 0.15 * kbps, (kbps, achieved)
        y = Deformation("codec", f"mp3@{kbps}").apply(x, sample_rate=SR, seed=0)
        assert y.shape == x.shape and not np.array_equal(y, x)
        # close (64 kbit/s: measured 15 dB, 32: 8 dB on this wide-band stereo noise) and aligned: no delay left
        assert db(power(x) / power(y - x)) > (12 if kbps == 64 else 5), kbps
        assert best_lag(x[0], y[0], max_lag=1200) == 0
        np.testing.assert_array_equal(decode_mp3(data, sample_rate=SR, length=x.shape[1]), y)
    assert 64 in mp3_bitrates(22050) and 320 in mp3_bitrates(44100) and 160 not in mp3_bitrates(11025)


def test_time_stretch_changes_the_length_by_the_rate():
    x = music()
    for rate in (0.8, 1.25):
        y = Deformation("time_stretch", rate).apply(x, sample_rate=SR, seed=0)
        assert y.shape == (2, round(x.shape[1] / rate))


def test_pitch_shift_moves_a_sine_peak():
    x = sine(440.0)
    n_fft = 1 << 16
    for semitones in (2, -2):
        y = Deformation("pitch_shift", semitones).apply(x, sample_rate=SR, seed=0)
        assert y.shape == x.shape
        spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size), n=n_fft))
        peak = np.argmax(spectrum) * SR / n_fft
        assert abs(peak / (440.0 * 2 ** (semitones / 12)) - 1) < 0.005, (semitones, peak)


@pytest.mark.parametrize("kind,strength", [("noise", 10), ("gain", -12), ("lowpass", 4000), ("codec", "mp3@64"),
                                           ("time_stretch", 1.25), ("pitch_shift", 2)])
def test_layout_dtype_and_determinism(kind, strength):
    stereo = music(seconds=1.0)
    deform = Deformation(kind, strength)
    y = deform.apply(stereo, sample_rate=SR, seed=7)
    assert y.ndim == 2 and y.shape[0] == 2 and y.dtype == np.float32 and np.isfinite(y).all()
    np.testing.assert_array_equal(deform.apply(stereo, sample_rate=SR, seed=7), y)
    mono = deform.apply(stereo[0], sample_rate=SR, seed=7)
    assert mono.ndim == 1 and mono.dtype == np.float32 and mono.shape[0] == y.shape[1]
    if kind == "noise":
        assert not np.array_equal(deform.apply(stereo, sample_rate=SR, seed=8), y)


def test_names_keys_and_seeds():
    cases = {("noise", 10): ("noise:snr=10", "noise_snr10"), ("gain", -12): ("gain:db=-12", "gain_dbm12"),
             ("lowpass", 4000): ("lowpass:hz=4000", "lowpass_hz4000"), ("codec", "mp3@64"): ("codec:mp3@64", "codec_mp3_64"),
             ("time_stretch", 0.8): ("time_stretch:rate=0.8", "time_stretch_rate0p8"),
             ("pitch_shift", 2): ("pitch_shift:semitones=2", "pitch_shift_semitones2"),
             ("pitch_shift", -2.5): ("pitch_shift:semitones=-2.5", "pitch_shift_semitonesm2p5")}
    for (kind, strength), (name, key) in cases.items():
        deform = Deformation(kind, strength)
        assert (deform.name, deform.key) == (name, key)
    assert Deformation("noise", 10.0) == Deformation("noise", 10)
    import pickle

    assert pickle.loads(pickle.dumps(Deformation("codec", "mp3@64"))) == Deformation("codec", "mp3@64")  # to workers
    noise = Deformation("noise", 10)
    assert deformation_seed("t1", noise) == deformation_seed("t1", Deformation("noise", 10))  # stable
    assert len({deformation_seed("t1", noise), deformation_seed("t2", noise),
                deformation_seed("t1", Deformation("noise", 0))}) == 3


def test_deformations_from_settings_in_order():
    settings = EvaluationSettings.from_cfg({"deform": ["gain", "noise", "codec"],
                                            "deformations": {"noise": [20, 0], "gain": [-12, 6], "codec": ["mp3@32"]}})
    assert [d.name for d in deformations_from(settings)] == ["gain:db=-12", "gain:db=6", "noise:snr=20", "noise:snr=0",
                                                            "codec:mp3@32"]
    assert deformations_from(EvaluationSettings()) == []


def test_default_config_deformations_are_valid():
    from mtl_music.config import compose

    cfg = compose("evaluate", ["evaluation.deform=[noise,gain,lowpass,codec,time_stretch,pitch_shift]"]).evaluation
    assert len(deformations_from(EvaluationSettings.from_cfg(cfg))) == 13


@pytest.mark.parametrize("table,match", [
    ({"codec": ["mp3"]}, r"evaluation.deformations.codec: 'mp3' is not <codec>@<kbit/s>"),
    ({"codec": ["ogg@64"]}, r"evaluation.deformations.codec: 'ogg@64'"),
    ({"codec": ["mp3@50"]}, r"evaluation.deformations.codec: mp3@50 is not an MP3 bitrate at 22050 Hz"),
    ({"time_stretch": [-0.5]}, r"evaluation.deformations.time_stretch: -0.5 must be positive"),
    ({"lowpass": [12000]}, r"evaluation.deformations.lowpass: cut-off 12000 Hz is not below the Nyquist"),
    ({"noise": ["loud"]}, r"evaluation.deformations.noise: 'loud' is not a number"),
    ({"gain": []}, r"evaluation.deformations.gain is empty"),
    ({"reverb": [1]}, r"unknown deformation 'reverb'"),
])
def test_config_errors_name_the_key(table, match):
    settings = EvaluationSettings(deform=tuple(table), deformations=table)
    with pytest.raises(ConfigError, match=match):
        deformations_from(settings)


def test_bad_audio_and_rates():
    with pytest.raises(DataError, match="shape"):
        Deformation("gain", 0).apply(np.zeros((2, 2, 10), np.float32), sample_rate=SR, seed=0)
    with pytest.raises(DataError, match="NaN"):
        Deformation("gain", 0).apply(np.full(100, np.nan, np.float32), sample_rate=SR, seed=0)
    with pytest.raises(ConfigError, match="Nyquist"):
        Deformation("lowpass", 4000).apply(np.zeros(100, np.float32), sample_rate=8000, seed=0)
    with pytest.raises(ConfigError, match="cannot carry 20000 Hz"):
        Deformation("codec", "mp3@64").apply(np.zeros(100, np.float32), sample_rate=20000, seed=0)


def test_mfcc_deformed_features_are_cached(tmp_path):
    import soundfile as sf

    from mtl_music.evaluation.baselines import mfcc_features
    from mtl_music.evaluation.transfer import mfcc_representation

    tracks = []
    for i, freq in enumerate([220.0, 440.0, 880.0]):
        path = tmp_path / "audio" / f"t{i}.wav"
        path.parent.mkdir(exist_ok=True)
        sf.write(path, music(seconds=0.5, seed=i).T + sine(freq, seconds=0.5)[:, None] * 0.2, SR)
        tracks.append((f"t{i}", path, "test"))
    rep = mfcc_representation(num_workers=1)
    root = tmp_path / "target"
    noise = Deformation("noise", 0)
    ids, X = rep.deformed("toy", tracks, root, noise)
    assert ids == ["t0", "t1", "t2"] and X.shape == (3, 120) and X.dtype == np.float32
    clean_ids, clean = rep.features("toy", tracks, root)
    assert not np.allclose(X, clean)
    # the noise of track t1 is its deformation seed's
    audio = sf.read(tracks[1][1], dtype="float32", always_2d=True)[0].T
    expected = mfcc_features(audio=noise.apply(audio, sample_rate=SR, seed=deformation_seed("t1", noise)))
    np.testing.assert_allclose(X[1], expected, rtol=1e-4, atol=1e-4)
    # an identity deformation gives the clean features; it has a cache file of its own
    np.testing.assert_allclose(rep.deformed("toy", tracks, root, Deformation("gain", 0))[1], clean, rtol=1e-5, atol=1e-5)
    assert {p.name for p in (root / "features").glob("*.npz")} == {"mfcc-v1.npz", "mfcc-v1-noise_snr0.npz",
                                                                    "mfcc-v1-gain_db0.npz"}
    # a second call reads the cache: the audio is gone and the features are the same
    for _, path, _ in tracks:
        path.unlink()
    again_ids, again = rep.deformed("toy", tracks, root, noise)
    assert again_ids == ids and np.array_equal(again, X)


def test_mfcc_robustness_rows_end_to_end(tmp_path):
    from mtl_music.config import compose
    from mtl_music.evaluate import selected_targets
    from mtl_music.evaluation.transfer import evaluate, mfcc_representation
    from tests.helpers.region_target import write_region_target

    write_region_target(tmp_path / "demo_region")
    targets = selected_targets(compose("evaluate", [f"paths.data_root={tmp_path}", "target=[demo_region]"]))
    settings = EvaluationSettings(repetitions=2, num_workers=0, deform=("gain", "codec"),
                                  deformations={"gain": (0,), "codec": ("mp3@32",)})
    rows = evaluate(mfcc_representation(num_workers=0), dict(targets), data_root=tmp_path, settings=settings).rows()
    by_condition = {}
    for row in rows:
        by_condition.setdefault(row["condition"], []).append(row["value"])
    assert list(by_condition) == ["clean", "gain:db=0", "codec:mp3@32"]
    assert by_condition["gain:db=0"] == by_condition["clean"]  # an identity deformation scores as clean audio
    features = tmp_path / "targets" / "demo_region" / "features"
    assert {p.name for p in features.glob("*.npz")} == {"mfcc-v1.npz", "mfcc-v1-gain_db0.npz", "mfcc-v1-codec_mp3_32.npz"}
