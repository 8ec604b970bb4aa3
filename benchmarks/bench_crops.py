"""Random-crop batches from the memory-mapped cache vs the naive way.

    .venv/bin/python benchmarks/bench_crops.py             (MTL_BENCH_QUICK=1 for a smaller run)

Builds a cache of 30 s tracks (random dB values written through the real cache writer; crop
cost does not depend on the values), then times a batch of 128 standardised 2 × 216 × 128
crops with :class:`RandomCrops` (1 torch thread, as in a DataLoader worker) against the naive
way — load each drawn track fully as float32, crop, standardise — and the 43 ms budget (5 % of
an ~860 ms training step).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mtl_music.audio import MelSettings
from mtl_music.data import MelCache, RandomCrops, Slicer
from mtl_music.data.build import write_tracks_file
from mtl_music.data.cache import train_key
from mtl_music.data.manifest import TrackEntry
from mtl_music.data.stats import band_moments, save_stats
from mtl_music.data.writer import CacheWriter

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
N_TRACKS = 64 if QUICK else 400
N_FRAMES = 2584  # 30 s
BATCH, CROP = 128, 216
REPEATS = 10 if QUICK else 30
BUDGET_MS = 43.0


def build(folder: Path) -> MelCache:
    settings = MelSettings()
    cache_dir = folder / settings.key()
    rng = np.random.default_rng(0)
    tracks = []
    with CacheWriter(cache_dir, settings) as writer:
        for k in range(N_TRACKS):
            mel = rng.normal(-40, 15, (N_FRAMES, 2, settings.n_mels)).astype(np.float16)
            writer.append([(f"t{k:04d}", mel, float(mel.min()), 0, 0, "")])
            tracks.append(TrackEntry(f"t{k:04d}", folder / f"t{k:04d}.wav", "train"))
        entries = dict(writer.entries)
        end = writer.end_rows
    data = np.memmap(cache_dir / "mels.f16", dtype="<f2", mode="r", shape=(end, 2, settings.n_mels))
    rows = [(t.track_id, entries[t.track_id].offset, entries[t.track_id].n_frames) for t in tracks]
    save_stats(cache_dir / "stats.npz", moments=band_moments(data, [(o, n) for _, o, n in rows]), train_key=train_key(rows),
               n_tracks=len(rows))
    write_tracks_file(cache_dir / "tracks.tsv", tracks, entries)
    return MelCache.open(cache_dir)


def naive(cache: MelCache, indices: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
    out = []
    for i in indices:
        track = np.asarray(cache.track(i), dtype=np.float32)  # whole track, (2, n_frames, n_mels)
        start = rng.integers(0, track.shape[1] - CROP + 1)
        out.append((track[:, start : start + CROP] - cache.mean) / cache.std)
    return torch.from_numpy(np.stack(out))


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_crops_"))
    try:
        cache = build(folder)
        torch.set_num_threads(1)
        crops = RandomCrops(cache, crop_frames=CROP)
        draw = np.random.default_rng(1)
        ours = timed(lambda: crops(draw.integers(0, len(cache), BATCH), generator=draw), REPEATS)
        reference = timed(lambda: naive(cache, draw.integers(0, len(cache), BATCH), draw), REPEATS)
        slicer = Slicer(cache)
        slices = timed(lambda: slicer.slices(int(draw.integers(0, len(cache)))), REPEATS)
        size_mb = (cache.path / "mels.f16").stat().st_size / 1e6
        print(f"random crops: batch of {BATCH} x (2, {CROP}, 128) float32, standardised, from a {N_TRACKS}-track "
              f"cache of 30 s tracks ({size_mb:.0f} MB memmap, in page cache); 1 torch thread; median of {REPEATS}")
        print(f"  RandomCrops:                        {ours:7.2f} ms/batch ({100 * ours / BUDGET_MS:4.1f} % of the {BUDGET_MS:.0f} ms budget)")
        print(f"  naive (whole track as float32, crop): {reference:7.2f} ms/batch   ratio {reference / ours:5.1f}x")
        print(f"  Slicer, one 30 s track -> 12 slices:  {slices:7.2f} ms")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
