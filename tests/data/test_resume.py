"""A prepare killed at any point resumes to exactly the cache an uninterrupted run writes."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mtl_music import prepare
from mtl_music.config import compose
from mtl_music.data import MelCache
from mtl_music.data.cache import DATA_FILE, INDEX_FILE

from tests.helpers.folder_dataset import folder_overrides, write_manifest, write_track

REPO = Path(__file__).resolve().parents[2]
N_TRACKS = 24

# Runs prepare in a child process that SIGKILLs itself in the middle of its n-th commit:
# "data"  - after writing half of a track's rows,
# "gap"   - after the rows are fsynced but before the index line,
# "index" - after writing half of the index line.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from mtl_music.data import writer
    from mtl_music import prepare
    from mtl_music.config import compose

    mode, nth, overrides = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    commits = {"n": 0}
    write_data, write_index = writer.CacheWriter._write_data, writer.CacheWriter._write_index

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def data_then_die(self, mel):
        commits["n"] += 1
        if mode == "data" and commits["n"] == nth:
            self._data.write(mel.tobytes()[: mel.nbytes // 2]); self._data.flush(); die()
        write_data(self, mel)

    def index_then_die(self, lines):
        if mode == "gap" and commits["n"] == nth:
            die()
        if mode == "index" and commits["n"] == nth:
            self._index.write(lines[: len(lines) // 2]); self._index.flush(); die()
        write_index(self, lines)

    writer.CacheWriter._write_data = data_then_die
    writer.CacheWriter._write_index = index_then_die
    prepare.run(compose("prepare", overrides))
    """
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    src = tmp_path_factory.mktemp("resume_src")
    rows = []
    for i in range(N_TRACKS):
        write_track(src / "audio" / f"t{i:02d}.flac", 4.0, seed=i, pitch=100.0 + 20 * i)
        rows.append((f"t{i:02d}", f"audio/t{i:02d}.flac", ("train", "train", "train", "valid", "test")[i % 5]))
    return write_manifest(src / "manifest.tsv", rows)


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    return MelCache.open(prepare.run(compose("prepare", folder_overrides(root, manifest=dataset))).cache_dir)


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _assert_same_as_reference(cache: MelCache, reference: MelCache) -> None:
    lines = (cache.path / INDEX_FILE).read_bytes().splitlines()
    ids = [line.split(b"\t")[0] for line in lines]
    assert len(ids) == len(set(ids)) == N_TRACKS, "exactly one index entry per track"
    assert (cache.path / DATA_FILE).stat().st_size == int(cache.n_frames.sum()) * cache.frame_bytes
    assert cache.track_ids == reference.track_ids
    np.testing.assert_array_equal(cache.splits, reference.splits)
    for i in range(len(cache)):
        np.testing.assert_array_equal(cache.track(i), reference.track(i))
    np.testing.assert_array_equal(cache.mean, reference.mean)
    np.testing.assert_array_equal(cache.std, reference.std)


def test_resume_after_kills_mid_data_between_and_mid_index(dataset, reference, tmp_path):
    overrides = folder_overrides(tmp_path, manifest=dataset)
    cache_dir = None
    entries_before = 0
    for mode, nth in (("data", 3), ("gap", 4), ("index", 2)):
        child = subprocess.run([sys.executable, "-c", KILLER, mode, str(nth), *overrides], env=_env(), cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
        assert child.returncode == -signal.SIGKILL, child.stderr
        cache_dir = next((tmp_path / "t" / "mel").iterdir())
        index = (cache_dir / INDEX_FILE).read_bytes()
        complete = index.count(b"\n")
        # Each run added nth - 1 complete entries before dying; a torn tail may follow.
        assert complete == entries_before + nth - 1
        assert (mode == "index") == (not index.endswith(b"\n"))
        assert (cache_dir / DATA_FILE).stat().st_size > 0
        entries_before = complete
    resumed = prepare.run(compose("prepare", overrides))
    assert resumed.n_computed == N_TRACKS - entries_before and resumed.n_reused == entries_before
    assert any(resumed.recovered.values())
    _assert_same_as_reference(MelCache.open(resumed.cache_dir), reference)


def test_resume_after_sigkill_of_a_running_prepare_with_workers(dataset, reference, tmp_path):
    command = [sys.executable, "-m", "mtl_music.prepare", *folder_overrides(tmp_path, manifest=dataset, workers=2),
               "data.prepare.num_workers=2", f"hydra.run.dir={tmp_path / 'hydra'}"]
    child = subprocess.Popen(command, env=_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    index = None
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline and child.poll() is None:
            found = list((tmp_path / "t" / "mel").glob(f"*/{INDEX_FILE}"))
            if found and found[0].stat().st_size > 0:
                index = found[0]
                break
            time.sleep(0.005)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the prepare and its worker processes
        child.wait()
    assert index is not None, "prepare never wrote an entry"
    killed_at = index.read_bytes().count(b"\n")
    assert 0 < killed_at < N_TRACKS, "the kill must land mid-way"
    resumed = prepare.run(compose("prepare", folder_overrides(tmp_path, manifest=dataset)))
    assert resumed.n_reused >= killed_at and resumed.n_computed + resumed.n_reused == N_TRACKS
    _assert_same_as_reference(MelCache.open(resumed.cache_dir), reference)
