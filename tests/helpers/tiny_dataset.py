"""A tiny synthetic dataset in the real on-disk formats, shared by training-level tests.

Tracks are short stereo WAVs of pulsed tones (tempo and pitch vary by class), the manifest
is the project's TSV, and the label files follow the MSD-era public formats that the
learning-source readers parse (``tempo.tsv``, ``cdr_genres.tsv``, ``lastfm_tags.db``,
``tracks_per_year.txt``, ``unique_tracks.txt``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
CLASSES = ("low_slow", "low_fast", "high_slow", "high_fast")


def _track(rng: np.random.Generator, *, pitch: float, bpm: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    beat = 60.0 / bpm
    env = np.exp(-((t % beat) / (0.25 * beat))) * 0.6
    tone = sum(np.sin(2 * np.pi * pitch * h * t + rng.uniform(0, 6.28)) / h for h in (1, 2, 3))
    noise = rng.normal(0, 0.01, t.shape)
    left = env * tone + noise
    right = 0.7 * env * np.roll(tone, 50) + rng.normal(0, 0.01, t.shape)
    return np.stack([left, right], axis=1).astype(np.float32) * 0.5


def write_tiny_dataset(root: Path, *, n_tracks: int = 32, seconds: float = 6.0, seed: int = 0) -> Path:
    """Writes ``root/{audio/*.wav, manifest.tsv, labels/*}``; returns ``root``."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    labels = root / "labels"
    labels.mkdir(exist_ok=True)
    rows, meta = [], []
    for i in range(n_tracks):
        cls = CLASSES[i % len(CLASSES)]
        pitch = (110.0 if cls.startswith("low") else 660.0) * rng.uniform(0.9, 1.1)
        bpm = (70.0 if cls.endswith("slow") else 150.0) * rng.uniform(0.9, 1.1)
        tid = f"TRTINY{i:012d}"
        path = root / "audio" / f"{tid}.wav"
        if not path.exists():
            sf.write(path, _track(rng, pitch=pitch, bpm=bpm, seconds=seconds), SR)
        split = "valid" if i % 8 == 7 else "train"
        rows.append(f"{tid}\taudio/{tid}.wav\t{split}\t{seconds}")
        meta.append((tid, cls, pitch, bpm))
    (root / "manifest.tsv").write_text("track_id\tpath\tsplit\tduration\n" + "\n".join(rows) + "\n")

    (labels / "tempo.tsv").write_text("track_id\tbpm\n" + "".join(f"{t}\t{b:.2f}\n" for t, _, _, b in meta))
    (labels / "cdr_genres.tsv").write_text(
        "track_id\tlabel\tweight\n" + "".join(f"{t}\tsynth/{c}\t1\n" for t, c, _, _ in meta)
    )
    (labels / "unique_tracks.txt").write_text(
        "".join(f"{t}<SEP>SO{t[2:]}<SEP>artist {c}<SEP>tune {j}\n" for j, (t, c, _, _) in enumerate(meta))
    )
    (labels / "tracks_per_year.txt").write_text(
        "".join(f"{1900 + 20 * (j % 4)}<SEP>{t}<SEP>artist {c}<SEP>tune {j}\n" for j, (t, c, _, _) in enumerate(meta))
    )
    db = labels / "lastfm_tags.db"
    if db.exists():
        db.unlink()
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT); "
                      "CREATE TABLE tid_tag (tid INTEGER, tag INTEGER, val FLOAT);")
    vocab = ["low", "high", "slow", "fast", "pulsing", "favorite"]
    con.executemany("INSERT INTO tags (tag) VALUES (?)", [(v,) for v in vocab])
    for j, (t, c, _, _) in enumerate(meta):
        con.execute("INSERT INTO tids (tid) VALUES (?)", (t,))
        tid_row = j + 1
        register, speed = c.split("_")
        for tag, val in ((register, 100.0), (speed, 80.0), ("pulsing", 30.0)):
            con.execute("INSERT INTO tid_tag VALUES (?, ?, ?)", (tid_row, vocab.index(tag) + 1, val))
    con.commit()
    con.close()
    return root


def tiny_train_overrides(data_root: Path, name: str = "tiny") -> list[str]:
    """:func:`tiny_overrides` for ``conf/train.yaml``, without the default transfer targets
    (tests that evaluate name their own)."""
    return [*tiny_overrides(data_root, name), "target=[]"]


def tiny_overrides(data_root: Path, name: str = "tiny") -> list[str]:
    """Hydra overrides that point ``data=folder`` at a dataset written by :func:`write_tiny_dataset`
    under ``data_root/name``."""
    return [
        "data=folder",
        f"data.name={name}",
        f"paths.data_root={data_root}",
        "data.manifest=${data.root}/manifest.tsv",
        "data.batch_size=8",
        "data.num_workers=0",
        "data.prepare.num_workers=1",
    ]
