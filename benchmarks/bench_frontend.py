"""Mel front end: our batched torch.stft module vs librosa per clip, on 2.5 s stereo clips.

    .venv/bin/python benchmarks/bench_frontend.py          (MTL_BENCH_QUICK=1 for a smaller run)

Prints clips/s of both ways, measured side by side in this run, and their ratio.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import torch

from mtl_music.audio import MelSettings, MelSpectrogram

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
N_CLIPS = 16 if QUICK else 64
REPEATS = 3 if QUICK else 5
SR, CLIP = 22050, 55125


def clips(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(CLIP) / SR
    out = np.empty((n, 2, CLIP), np.float32)
    for k in range(n):
        f0 = rng.uniform(80, 600) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        tone = sum(np.sin(h * phase) / h for h in range(1, 8)) * np.exp(-(t % 0.5) * 4)
        out[k, 0] = 0.2 * tone + 0.01 * rng.normal(size=CLIP)
        out[k, 1] = 0.15 * np.roll(tone, 20) + 0.01 * rng.normal(size=CLIP)
    return out


def best_of(fn, repeats: int) -> float:
    fn()  # warm-up (filter banks, FFT plans, numba)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import librosa

    settings = MelSettings()
    module = MelSpectrogram(settings)
    audio = clips(N_CLIPS)
    batch = torch.from_numpy(audio)

    def ours():
        with torch.no_grad():
            return module(batch)

    def reference():
        return [librosa.power_to_db(librosa.feature.melspectrogram(y=clip, sr=SR, n_fft=1024, hop_length=256, n_mels=128),
                                    ref=1.0, top_db=80.0) for clip in audio]

    threads = torch.get_num_threads()
    t_ours = best_of(ours, REPEATS)
    torch.set_num_threads(1)
    t_ours_1 = best_of(ours, REPEATS)
    torch.set_num_threads(threads)
    t_ref = best_of(reference, REPEATS)
    diff = np.abs(ours().numpy() - np.stack(reference()).transpose(0, 1, 3, 2)).max()
    print(f"mel front end, {N_CLIPS} stereo clips of 2.5 s -> ({N_CLIPS}, 2, 216, 128); median of {REPEATS}")
    print(f"  librosa per clip (melspectrogram + power_to_db): {N_CLIPS / t_ref:8.1f} clips/s")
    print(f"  MelSpectrogram batched, {threads} torch thread(s): {N_CLIPS / t_ours:8.1f} clips/s  ratio {t_ref / t_ours:5.2f}x")
    print(f"  MelSpectrogram batched, 1 torch thread:       {N_CLIPS / t_ours_1:8.1f} clips/s  ratio {t_ref / t_ours_1:5.2f}x")
    print(f"  max |dB difference| vs librosa: {diff:.2e}")


if __name__ == "__main__":
    main()
