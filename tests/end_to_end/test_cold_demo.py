"""What ``make demo`` runs, cold: an empty data root, no feature cache, real worker pools.

A warm machine hides start-up bugs (the MFCC baseline hung in a forked pool only when its
features were not cached yet). This runs ``python -m mtl_music.train`` exactly as ``make demo``
does — corpus build, prepare, training with the transfer callback, the trained network, Rand
and MFCC on the demo targets in their real format (mono 30 s clips for ``demo_region``) with
2 worker processes — shrunk only through the config keys a user would set.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import soundfile as sf

SHRINK = [
    "data.corpus.size=60", "epochs=1", "data.corpus.progress=false",
    "data.corpus.targets.region.per_class=8", "data.corpus.targets.region.min_per_class=4",
    "data.corpus.targets.dance.per_class=8", "data.corpus.targets.dance.min_per_class=4",
    "data.prepare.num_workers=2", "evaluation.num_workers=2",
]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_make_demo_on_an_empty_data_root(tmp_path):
    root = tmp_path / "data_root"
    root.mkdir()
    env = {**os.environ, "MTL_MUSIC_DATA_ROOT": str(root)}
    try:
        proc = subprocess.run([sys.executable, "-m", "mtl_music.train", *SHRINK], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=720)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the cold demo run hung:\nstdout: {err.stdout}\nstderr: {err.stderr}")
    assert proc.returncode == 0, proc.stderr[-5000:]

    run_dirs = sorted((tmp_path / "outputs" / "train").iterdir())
    assert len(run_dirs) == 1
    with open(run_dirs[0] / "transfer.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cells = {(r["strategy"], r["target"]) for r in rows}
    assert cells == {(s, t) for s in ("ms_cr@4", "rand", "mfcc") for t in ("demo_region", "demo_dance")}
    assert all(0.0 <= float(r["value"]) <= 1.0 for r in rows)
    assert len(rows) == 6 * 5  # 5 repetitions each

    # The demo targets are in their real format: demo_region mono 30 s, as GTZAN is.
    clips = sorted((root / "demo_region" / "genres").rglob("*.wav"))
    assert len(clips) >= 4 * 4
    info = sf.info(clips[0])
    assert (info.channels, info.samplerate, round(info.duration)) == (1, 22050, 30)
    # Everything was computed on this run: mel caches and the feature caches of each target.
    for target in ("demo_region", "demo_dance"):
        assert any((root / "targets" / target).rglob("*")), f"no feature cache for {target}"
