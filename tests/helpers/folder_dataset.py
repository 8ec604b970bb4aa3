"""Synthetic but music-like audio and datasets, written by the tests in real file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def music_like(seconds: float, *, sr: int = SR, channels: int = 2, seed: int = 0, pitch: float = 220.0) -> np.ndarray:
    """``(n_samples, channels)`` float32: a harmonic tone with vibrato, an amplitude envelope
    (note onsets and a fade-in from silence), a second voice and a little noise."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    f0 = pitch * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(h * phase + rng.uniform(0, 6.28)) / h**1.2 for h in range(1, 9))
    beat = 0.4 + 0.2 * rng.random()
    envelope = np.exp(-(t % beat) / (0.3 * beat)) * np.clip(t / 0.5, 0, 1)
    second = 0.3 * np.sin(2 * np.pi * pitch * 1.5 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
    out = []
    for c in range(channels):
        gain = 1.0 - 0.3 * c / max(channels - 1, 1)
        out.append(gain * np.roll(envelope * tone + second, 17 * c) + 0.003 * rng.normal(size=n))
    return (0.25 * np.stack(out, axis=1)).astype(np.float32)


def write_track(path: Path, seconds: float, *, sr: int = SR, channels: int = 2, seed: int = 0, pitch: float = 220.0,
                **kwargs) -> Path:
    """Writes :func:`music_like` audio to ``path``; ``kwargs`` go to ``soundfile.write`` (format, subtype)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, music_like(seconds, sr=sr, channels=channels, seed=seed, pitch=pitch), sr, **kwargs)
    return path


def write_manifest(path: Path, rows: list[tuple[str, str, str]], *, delimiter: str = "\t", extra_header: str = "") -> Path:
    header = delimiter.join(["track_id", "path", "split"])
    lines = [header] + [delimiter.join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_clean_dataset(root: Path, *, n_tracks: int = 8, seconds: float = 3.0, splits=None) -> Path:
    """``root/audio/*.wav`` + ``root/manifest.tsv``; returns the manifest path."""
    rows = []
    for i in range(n_tracks):
        tid = f"track{i:02d}"
        write_track(root / "audio" / f"{tid}.wav", seconds + 0.25 * i, seed=i, pitch=110.0 * (1 + i % 5))
        split = splits[i] if splits else ("valid" if i % 4 == 3 else "train")
        rows.append((tid, f"audio/{tid}.wav", split))
    return write_manifest(root / "manifest.tsv", rows)


def folder_overrides(root: Path, *, manifest: Path | None = None, audio_dir: Path | None = None, name: str = "t",
                     workers: int = 0, extra: tuple[str, ...] = ()) -> list[str]:
    out = ["data=folder", f"data.name={name}", f"paths.data_root={root}", f"data.prepare.num_workers={workers}"]
    if manifest is not None:
        out.append(f"data.manifest={manifest}")
    if audio_dir is not None:
        out.append(f"data.audio_dir={audio_dir}")
    return out + list(extra)
