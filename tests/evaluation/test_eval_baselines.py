"""Baselines (R6.5): the 120-d MFCC statistics and user-supplied embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from mtl_music.errors import AudioError, DataError
from mtl_music.evaluation.baselines import MFCC_DIM, external_features, mfcc_features, mfcc_for_paths

SR = 22050


def tone(seconds=1.0, freq=440.0, seed=0):
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).standard_normal(t.size) * 0.01
    mono = (0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + noise).astype(np.float32)
    return np.stack([mono, mono])


def test_mfcc_layout_matches_librosa():
    import librosa

    audio = tone()
    audio[1] *= 0.5  # stereo → the mono mix is the channel mean
    feats = mfcc_features(audio=audio)
    assert feats.shape == (MFCC_DIM,) == (120,) and feats.dtype == np.float32
    mono = audio.mean(axis=0)
    m = librosa.feature.mfcc(y=mono, sr=SR, n_mfcc=20, n_fft=1024, hop_length=256, n_mels=128)
    d1, d2 = librosa.feature.delta(m), librosa.feature.delta(m, order=2)
    expected = np.concatenate([m.mean(1), d1.mean(1), d2.mean(1), m.std(1), d1.std(1), d2.std(1)])
    np.testing.assert_allclose(feats, expected, rtol=1e-4, atol=1e-4)
    # A 1-D mono signal gives the same numbers.
    np.testing.assert_allclose(mfcc_features(audio=mono), feats, rtol=1e-6)


def test_mfcc_errors():
    with pytest.raises(DataError, match="needs >= 9 frames"):
        mfcc_features(audio=np.zeros((2, 1000), np.float32))
    with pytest.raises(DataError, match="NaN"):
        mfcc_features(audio=np.full((2, SR), np.nan, np.float32))
    with pytest.raises(DataError, match="shape"):
        mfcc_features(audio=np.zeros((3, SR), np.float32))
    # Silence is valid (log of the floor), not NaN.
    assert np.isfinite(mfcc_features(audio=np.zeros((2, SR), np.float32))).all()


def test_mfcc_for_paths_reads_files(tmp_path):
    import soundfile as sf

    paths = []
    for i, freq in enumerate([220.0, 880.0]):
        path = tmp_path / f"t{i}.wav"
        sf.write(path, tone(0.5, freq).T, SR)
        paths.append(path)
    feats = mfcc_for_paths(paths)
    assert feats.shape == (2, 120)
    np.testing.assert_allclose(feats[0], mfcc_features(audio=sf.read(paths[0], dtype="float32")[0].T), atol=1e-3)
    assert not np.allclose(feats[0], feats[1])
    np.testing.assert_array_equal(mfcc_for_paths(paths, num_workers=2), feats)  # worker processes, same order
    with pytest.raises(AudioError, match="missing.wav"):
        mfcc_for_paths([tmp_path / "missing.wav"])


def test_external_features_pools_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = {tid: rng.standard_normal((7, 4)) for tid in ["a", "b/c".replace("/", "_"), "x1"]}
    for tid, arr in frames.items():
        np.save(tmp_path / f"{tid}.npy", arr)
    ids = ["x1", "a"]
    out = external_features(folder=tmp_path, track_ids=ids)
    assert out.shape == (2, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], np.concatenate([frames["x1"].mean(0), frames["x1"].std(0)]), rtol=1e-6)

    vectors = tmp_path / "vectors"
    vectors.mkdir()
    for tid in ids:
        np.save(vectors / f"{tid}.npy", np.arange(5.0) + len(tid))
    np.testing.assert_allclose(external_features(folder=vectors, track_ids=ids), [np.arange(5.0) + 2, np.arange(5.0) + 1])


def test_external_features_errors(tmp_path):
    for tid in ["a", "b"]:
        np.save(tmp_path / f"{tid}.npy", np.zeros((3, 4)))
    with pytest.raises(DataError, match=r"3 of 5 embedding files are missing .*first: m1.npy, m2.npy, m3.npy"):
        external_features(folder=tmp_path, track_ids=["a", "m1", "b", "m2", "m3"])
    np.save(tmp_path / "c.npy", np.zeros((3, 5)))
    with pytest.raises(DataError, match=r"c.npy has shape \(3, 5\) .* D=4"):
        external_features(folder=tmp_path, track_ids=["a", "b", "c"])
    np.save(tmp_path / "d.npy", np.zeros(4))
    with pytest.raises(DataError, match="same layout"):
        external_features(folder=tmp_path, track_ids=["a", "d"])
    np.save(tmp_path / "e.npy", np.full((2, 4), np.nan))
    with pytest.raises(DataError, match="e.npy holds NaN"):
        external_features(folder=tmp_path, track_ids=["a", "e"])
    np.save(tmp_path / "f.npy", np.zeros((0, 4)))
    with pytest.raises(DataError, match="0 frames"):
        external_features(folder=tmp_path, track_ids=["f"])
    (tmp_path / "g.npy").write_text("not numpy")
    with pytest.raises(DataError, match="cannot read"):
        external_features(folder=tmp_path, track_ids=["g"])
    with pytest.raises(DataError, match="does not exist"):
        external_features(folder=tmp_path / "nope", track_ids=["a"])
