"""The exported TorchScript embedder vs the eager AudioEmbedder it is scripted from, on 30 s of
stereo audio (ms_cr@4, vgg trunk, tag + bpm, channels_last as trained), measured side by side in
one run (alternating calls, median). Prints seconds per track, their ratio and the largest
difference between the two vectors.

    .venv/bin/python benchmarks/bench_export.py            (MTL_BENCH_QUICK=1 for a smaller run)
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mtl_music.config import compose
from mtl_music.models.embedder import AudioEmbedder, script_embedder
from mtl_music.training import MultiSourceModule

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
SECONDS = 10.0 if QUICK else 30.0
REPEATS = 3 if QUICK else 7


def main() -> None:
    cfg = compose("train", ["arch=ms_cr@4"])
    torch.manual_seed(0)
    module = MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={"tag": 50, "bpm": 50},
                               frontend=dict(cfg.frontend), optim=dict(cfg.optim), channels_last=True).eval()
    eager = AudioEmbedder.from_module(module)
    with tempfile.TemporaryDirectory() as folder:  # timed as a user gets it: saved and loaded back
        path = Path(folder) / "model.pt"
        torch.jit.save(script_embedder(eager), str(path))
        exported = torch.jit.load(str(path))
    audio = torch.randn(2, int(SECONDS * eager.sample_rate), generator=torch.Generator().manual_seed(1)) * 0.1
    times: dict[str, list[float]] = {"eager": [], "torchscript": []}
    with torch.no_grad():
        for model in (eager, exported, exported):  # warm-up (TorchScript profiles its first calls)
            model(audio)
        for _ in range(REPEATS):
            for name, model in (("eager", eager), ("torchscript", exported)):
                start = time.perf_counter()
                model(audio)
                times[name].append(time.perf_counter() - start)
        difference = float((exported(audio) - eager(audio)).abs().max())
    t_eager, t_script = statistics.median(times["eager"]), statistics.median(times["torchscript"])
    print(f"embedder on {SECONDS:.0f} s of stereo audio ({eager.embedding_size} values), "
          f"{torch.get_num_threads()} torch thread(s), median of {REPEATS}")
    print(f"  eager AudioEmbedder:        {t_eager:6.3f} s/track")
    print(f"  exported TorchScript file:  {t_script:6.3f} s/track  ratio (eager / exported) {t_eager / t_script:5.2f}x")
    print(f"  max |difference|: {difference:.2e}")


if __name__ == "__main__":
    main()
