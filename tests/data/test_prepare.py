import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtl_music import prepare
from mtl_music.config import compose
from mtl_music.data import MelCache, cache_dir_for
from mtl_music.data.cache import INDEX_FILE, REPORT_FILE
from mtl_music.errors import DataError

from tests.helpers.folder_dataset import folder_overrides, music_like, write_clean_dataset, write_manifest, write_track

REPO = Path(__file__).resolve().parents[2]


def _run(root: Path, manifest: Path, *extra: str):
    return prepare.run(compose("prepare", folder_overrides(root, manifest=manifest, extra=extra)))


def _report(cache_dir: Path) -> dict[str, tuple[str, str, str]]:
    lines = (cache_dir / REPORT_FILE).read_text().splitlines()[1:]
    return {f[0]: (f[2], f[3], f[4]) for f in (line.split("\t") for line in lines)}


def _bad_input_dataset(src: Path) -> Path:
    audio = src / "audio"
    rows = []
    for i, split in enumerate(["train", "train", "train", "valid", "test"]):
        write_track(audio / f"good{i}.wav", 3.0, seed=i)
        rows.append((f"good{i}", f"audio/good{i}.wav", split))
    write_track(audio / "hirate.flac", 3.0, sr=44100, seed=9)
    write_track(audio / "short.wav", 1.0, seed=10)
    (audio / "corrupt.mp3").write_bytes(b"\x00not an mp3" * 500)
    flac = write_track(audio / "cut.flac", 3.0, seed=11).read_bytes()
    (audio / "cut.flac").write_bytes(flac[: len(flac) // 2])
    (audio / "zero_bytes.wav").write_bytes(b"")
    sf.write(audio / "no_samples.wav", np.zeros((0, 2), np.float32), 22050)
    sf.write(audio / "silent.wav", np.zeros((3 * 22050, 2), np.float32), 22050)
    sf.write(audio / "hiss.wav", np.full((3 * 22050, 2), 1e-4, np.float32), 22050, subtype="FLOAT")
    wav = bytearray(write_track(audio / "rate0.wav", 3.0, seed=12, subtype="PCM_16").read_bytes())
    wav[24:32] = struct.pack("<II", 0, 0)
    (audio / "rate0.wav").write_bytes(bytes(wav))
    for tid, rel in [("hirate", "audio/hirate.flac"), ("short", "audio/short.wav"), ("corrupt", "audio/corrupt.mp3"),
                     ("cut", "audio/cut.flac"), ("zero_bytes", "audio/zero_bytes.wav"), ("no_samples", "audio/no_samples.wav"),
                     ("silent", "audio/silent.wav"), ("hiss", "audio/hiss.wav"), ("rate0", "audio/rate0.wav"),
                     ("missing", "audio/missing.wav")]:
        rows.append((tid, rel, "train"))
    return write_manifest(src / "manifest.tsv", rows)


def test_every_bad_input_is_reported_and_the_rest_is_cached(tmp_path):
    manifest = _bad_input_dataset(tmp_path / "src")
    result = _run(tmp_path, manifest)
    report = _report(result.cache_dir)
    expected_skips = {"corrupt": "unreadable", "cut": "unreadable", "zero_bytes": "unreadable", "rate0": "unreadable",
                      "no_samples": "empty", "silent": "silent", "hiss": "silent", "missing": "missing"}
    assert {tid: r[1] for tid, r in report.items() if r[0] == "skipped"} == expected_skips
    assert "sample rate" in report["rate0"][2] and "rate0.wav" in report["rate0"][2]
    assert "missing.wav" in (result.cache_dir / REPORT_FILE).read_text()
    assert report["hirate"][:2] == ("note", "resampled") and "44100 Hz -> 22050 Hz" in report["hirate"][2]
    assert report["short"][:2] == ("note", "padded")
    assert result.n_listed == 15 and result.n_usable == 7 and result.splits == {"train": 5, "valid": 1, "test": 1}
    assert "skipped 8" in result.summary() and str(result.cache_dir / REPORT_FILE) in result.summary()

    cache = MelCache.open(result.cache_dir)
    assert cache.track_ids == ["good0", "good1", "good2", "good3", "good4", "hirate", "short"]
    assert cache.n_frames[cache.index_of("good0")] == 1 + 3 * 22050 // 256
    # short: 1 s = 87 frames, padded at the end to one crop with the track's floor
    short = cache.track(cache.index_of("short"))
    assert short.shape == (2, 216, 128)
    assert np.all(short[:, 87:] == cache.floors[cache.index_of("short")]) and short[:, 87:].min() == short.min()
    with pytest.raises(DataError, match="'corrupt' is not in mel cache"):
        cache.index_of("corrupt")

    # Failed files are retried next time (here one is fixed); good entries are never recomputed.
    index_before = (result.cache_dir / INDEX_FILE).read_bytes()
    write_track(tmp_path / "src" / "audio" / "corrupt.mp3", 3.0, seed=13, format="MP3")
    again = _run(tmp_path, manifest)
    assert again.n_computed == 1 and again.n_reused == 7 and again.n_usable == 8
    index_after = (result.cache_dir / INDEX_FILE).read_bytes()
    assert index_after.startswith(index_before) and index_after.count(b"\n") == index_before.count(b"\n") + 1
    assert "corrupt" not in _report(result.cache_dir)

    # short_policy=skip drops the padded track without recomputing anything.
    skipping = _run(tmp_path, manifest, "data.prepare.short_policy=skip")
    assert skipping.n_computed == 0 and _report(result.cache_dir)["short"][:2] == ("skipped", "too_short")
    assert "short" not in MelCache.open(result.cache_dir).track_ids


def test_short_policy_skip_on_first_computation(tmp_path):
    write_track(tmp_path / "src" / "a.wav", 3.0)
    write_track(tmp_path / "src" / "b.wav", 2.0)
    result = prepare.run(compose("prepare", folder_overrides(tmp_path, audio_dir=tmp_path / "src",
                                                            extra=("data.prepare.short_policy=skip",))))
    assert [r.track_id for r in result.skipped] == ["b"] and result.skipped[0].reason == "too_short"
    assert "2.00 s is shorter than one 2.50 s crop (216 frames)" in result.skipped[0].detail


def test_nothing_usable_fails_with_the_report_location(tmp_path):
    audio = tmp_path / "src"
    audio.mkdir()
    sf.write(audio / "quiet.wav", np.zeros((22050 * 3, 2), np.float32), 22050)
    (audio / "bad.flac").write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(DataError, match=r"no usable track in dataset 't'.*1 silent, 1 unreadable.*report.tsv"):
        prepare.run(compose("prepare", folder_overrides(tmp_path, audio_dir=audio)))


def test_band_statistics_come_from_the_train_split_only(tmp_path):
    splits = ["train", "train", "valid", "test", "train", "valid"]
    manifest = write_clean_dataset(tmp_path / "a", n_tracks=6, splits=splits)
    first = _run(tmp_path / "root_a", manifest)
    cache = MelCache.open(first.cache_dir)
    train = np.concatenate([cache.track(i).reshape(-1, 128) for i in cache.indices("train")]).astype(np.float64)
    np.testing.assert_allclose(cache.mean, train.mean(axis=0), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(cache.std, train.std(axis=0), rtol=1e-5, atol=1e-5)
    assert first.stats_recomputed

    # Different audio for the valid/test tracks: the statistics do not move.
    for i, split in enumerate(splits):
        if split != "train":
            path = tmp_path / "a" / "audio" / f"track{i:02d}.wav"
            sf.write(path, 3.0 * music_like(6.0, seed=100 + i), 22050)
    second = _run(tmp_path / "root_a", manifest)
    assert second.n_computed == 3 and not second.stats_recomputed
    again = MelCache.open(second.cache_dir)
    np.testing.assert_array_equal(again.mean, cache.mean)
    np.testing.assert_array_equal(again.std, cache.std)

    # Moving a track into the training split recomputes them.
    rows = [(f"track{i:02d}", f"audio/track{i:02d}.wav", "train" if i == 2 else s) for i, s in enumerate(splits)]
    write_manifest(manifest, rows)
    third = _run(tmp_path / "root_a", manifest)
    assert third.stats_recomputed and third.n_computed == 0
    assert not np.allclose(MelCache.open(third.cache_dir).mean, cache.mean)


def test_cache_folder_follows_the_front_end_settings(tmp_path):
    manifest = write_clean_dataset(tmp_path / "src", n_tracks=2)
    default = _run(tmp_path, manifest)
    small = _run(tmp_path, manifest, "frontend.n_mels=64")
    assert default.cache_dir != small.cache_dir and small.n_computed == 2
    assert default.cache_dir == cache_dir_for(compose("prepare", folder_overrides(tmp_path, manifest=manifest)))
    assert MelCache.open(small.cache_dir).track(0).shape[-1] == 64
    with pytest.raises(DataError, match="holds 2 mel caches"):
        MelCache.open(default.cache_dir.parent)


def test_command_line_and_a_user_error(tmp_path):
    for i in range(4):
        write_track(tmp_path / "audio" / f"song{i}.ogg", 3.0, seed=i, format="OGG", subtype="VORBIS")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "mtl_music.prepare", "data=folder", "data.name=x", f"data.audio_dir={tmp_path / 'audio'}",
               f"paths.data_root={tmp_path / 'root'}", "data.prepare.num_workers=2", f"hydra.run.dir={tmp_path / 'hydra'}"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 usable of 4 listed" in done.stdout
    assert len(MelCache.open(tmp_path / "root" / "x" / "mel")) == 4

    command = [f"data.audio_dir={tmp_path / 'nowhere'}" if arg.startswith("data.audio_dir=") else arg for arg in command]
    failed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert failed.returncode == 2 and "error: audio folder" in failed.stderr and "nowhere" in failed.stderr


def test_an_unexpected_error_on_one_file_skips_it_and_the_run_goes_on(tmp_path, monkeypatch):
    from mtl_music.data import entry

    manifest = write_clean_dataset(tmp_path / "src", n_tracks=3)
    real_decode = entry.decode_audio

    def flaky(path, **kwargs):
        if str(path).endswith("track01.wav"):
            raise RuntimeError("decoder exploded")
        return real_decode(path, **kwargs)

    monkeypatch.setattr(entry, "decode_audio", flaky)
    result = _run(tmp_path, manifest)
    assert result.n_usable == 2 and [(r.track_id, r.reason) for r in result.skipped] == [("track01", "failed")]
    assert "RuntimeError: decoder exploded" in result.skipped[0].detail
    monkeypatch.undo()
    assert _run(tmp_path, manifest).n_computed == 1  # retried next time
