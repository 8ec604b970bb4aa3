"""``prepare`` throughput: 30 s tracks (synthesised, written as 44.1 kHz stereo FLAC, so every
track is decoded and resampled) through the real cache builder with 0 (in-process), 1 and 2
worker processes; plus the cost of each stage and of the resampler quality choice.

    .venv/bin/python benchmarks/bench_prepare.py           (MTL_BENCH_QUICK=1 for a smaller run)

Worker runs include starting the worker processes (spawn + imports), as a real run does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from mtl_music.audio import MelSettings, MelSpectrogram, decode_audio
from mtl_music.data import build as build_module
from mtl_music.data import build_cache
from mtl_music.data.manifest import TrackEntry

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
N_TRACKS = 8 if QUICK else 40
SECONDS = 30.0
SOURCE_RATE = 44100


def write_tracks(folder: Path) -> list[TrackEntry]:
    rng = np.random.default_rng(0)
    n = int(SECONDS * SOURCE_RATE)
    t = np.arange(n) / SOURCE_RATE
    tracks = []
    for k in range(N_TRACKS):
        f0 = rng.uniform(80, 400) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SOURCE_RATE
        tone = sum(np.sin(h * phase) / h for h in range(1, 8)) * np.exp(-(t % 0.5) * 4)
        audio = np.stack([0.2 * tone + 0.01 * rng.normal(size=n), 0.15 * np.roll(tone, 30) + 0.01 * rng.normal(size=n)], 1)
        path = folder / f"track{k:03d}.flac"
        sf.write(path, audio.astype(np.float32), SOURCE_RATE)
        tracks.append(TrackEntry(f"track{k:03d}", path, "train"))
    return tracks


def stage_costs(path: Path) -> dict[str, float]:
    import soxr

    settings = MelSettings()
    module = MelSpectrogram(settings)
    times = {}
    start = time.perf_counter()
    native, _ = sf.read(path, dtype="float32", always_2d=True)
    times["decode FLAC"] = time.perf_counter() - start
    for quality in ("MQ", "HQ", "VHQ"):
        start = time.perf_counter()
        soxr.resample(native, SOURCE_RATE, 22050, quality=quality)
        times[f"resample soxr {quality}"] = time.perf_counter() - start
    audio = decode_audio(path).samples
    torch.set_num_threads(1)  # as in prepare (workers and in-process)
    with torch.no_grad():
        module(torch.from_numpy(audio))
        start = time.perf_counter()
        module(torch.from_numpy(audio))
    times["mel (torch, 1 thread)"] = time.perf_counter() - start
    return times


def resampler_errors() -> dict[str, tuple[float, float]]:
    """dB-mel error of each soxr quality against the same sinusoids synthesised natively at
    22,050 Hz (200 partials, 50 Hz–11 kHz): (max over bands 0–124, max over the top 3 bands)."""
    import soxr

    rng = np.random.default_rng(0)
    freqs, amps, phases = rng.uniform(50, 11000, 200), rng.uniform(0.001, 0.01, 200), rng.uniform(0, 6.28, 200)

    def synth(rate: int) -> np.ndarray:
        t = np.arange(5 * rate) / rate
        tone = np.sum([a * np.sin(2 * np.pi * f * t + p) for f, a, p in zip(freqs, amps, phases)], axis=0)
        return np.stack([tone, tone], axis=1).astype(np.float32)

    module = MelSpectrogram(MelSettings())
    with torch.no_grad():
        ideal = module(torch.from_numpy(synth(22050).T.copy())).numpy()
        source = synth(SOURCE_RATE)
        errors = {}
        for quality in ("MQ", "HQ", "VHQ"):
            resampled = soxr.resample(source, SOURCE_RATE, 22050, quality=quality).T.copy()
            error = np.abs(module(torch.from_numpy(resampled)).numpy() - ideal)[:, 20:-20]  # edges: filter start-up
            errors[quality] = (float(error[..., :125].max()), float(error[..., 125:].max()))
    return errors


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        tracks = write_tracks(workdir)
        print(f"prepare: {N_TRACKS} tracks of {SECONDS:.0f} s, stereo FLAC at {SOURCE_RATE} Hz -> 22,050 Hz dB-mel cache")
        rates, steady = {}, {}
        # Use the workers even on the small runs below (a 2-track run measures the pool's start-up).
        build_module.MIN_TRACKS_FOR_WORKERS = 2
        for workers in (0, 1, 2):
            cache_dir = workdir / f"cache{workers}" / MelSettings().key()
            start = time.perf_counter()
            result = build_cache(tracks, cache_dir=cache_dir, settings=MelSettings(), num_workers=workers, progress=False)
            elapsed = time.perf_counter() - start
            assert result.n_computed == N_TRACKS
            rates[workers] = N_TRACKS / elapsed
            # Steady rate, without the fixed cost of a run (process start-up and imports; in-process
            # that cost is paid once per process, so the first run above included it and a second does not).
            if workers == 0:
                start = time.perf_counter()
                build_cache(tracks, cache_dir=workdir / "again0" / MelSettings().key(), settings=MelSettings(), num_workers=0,
                            progress=False)
                fixed, steady[0] = elapsed - (time.perf_counter() - start), N_TRACKS / (time.perf_counter() - start)
            else:
                start = time.perf_counter()
                build_cache(tracks[:2], cache_dir=workdir / f"warm{workers}" / MelSettings().key(), settings=MelSettings(),
                            num_workers=workers, progress=False)
                fixed = time.perf_counter() - start
                steady[workers] = (N_TRACKS - 2) / max(elapsed - fixed, 1e-9)
            label = "in-process" if workers == 0 else f"{workers} worker(s)"
            print(f"  {label:12s}: {rates[workers]:6.2f} tracks/s overall ({elapsed:5.1f} s, ratio {rates[workers] / rates[0]:4.2f}x); "
                  f"steady {steady[workers]:6.2f} tracks/s (ratio {steady[workers] / steady[0]:4.2f}x) after {fixed:.1f} s start-up")
        start = time.perf_counter()
        again = build_cache(tracks, cache_dir=workdir / "cache2" / MelSettings().key(), settings=MelSettings(), num_workers=2,
                            progress=False)
        print(f"  re-run on a complete cache: {time.perf_counter() - start:.2f} s ({again.n_reused} reused, {again.n_computed} computed)")
        print(f"  machine: {os.cpu_count()} CPU core(s)")
        print("stage costs for one 30 s track (seconds):")
        for stage, seconds in stage_costs(tracks[0].path).items():
            print(f"  {stage:22s} {seconds:7.4f}")
        print("resampler quality: max |dB-mel error| vs the signal synthesised natively at 22,050 Hz:")
        for quality, (low, top) in resampler_errors().items():
            print(f"  soxr {quality:3s}: bands 0-124 {low:.4f} dB; top 3 bands (> ~10.2 kHz) {top:.2f} dB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
