"""A tiny transfer target in the GTZAN layout (``demo_region``) and the pitched tones it is
made of, shared by the transfer and study tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050


def tone(seconds: float, freq: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.normal(size=t.size)
    return np.stack([x, np.roll(x, 50)], axis=1).astype(np.float32)


def write_region_target(root: Path, *, per_class: int = 6) -> None:
    """A tiny ``demo_region`` in the GTZAN layout: two classes that differ in pitch, 3.5 s clips
    (two 2.5 s slices each), split lists 4 train / 1 valid / 1 test per class."""
    lists = {"train": [], "valid": [], "test": []}
    for c, (cls, freq) in enumerate((("low", 220.0), ("high", 1760.0))):
        for n in range(per_class):
            path = root / "genres" / cls / f"{cls}.{n:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, tone(3.5, freq * (1 + 0.004 * n), seed=100 * c + n), SR)
            # test and valid tracks lie inside the training range of pitches, not at its edge
            lists[{2: "test", 3: "valid"}.get(n, "train")].append(f"{cls}/{path.name}")
    (root / "splits").mkdir(parents=True, exist_ok=True)
    for split, lines in lists.items():
        (root / "splits" / f"{split}_filtered.txt").write_text("".join(f"{line}\n" for line in lines))
