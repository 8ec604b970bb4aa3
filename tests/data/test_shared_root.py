"""A data root that many jobs share: jobs that start at the same moment on an empty root build
each artefact once (the others wait and reuse it), and what they leave is what one job alone
builds. Also the lock helper itself (:mod:`mtl_music.locks`)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mtl_music.locks import exclusive, lock_file

# A small demo corpus with both demo targets, through the config keys a user would set. One
# process per job (no worker pools: 4 jobs share 2 cores) also makes the mel cache's row order,
# and so mels.f16, deterministic.
SMALL_DEMO = [
    "data.corpus.size=16", "data.corpus.duration=5", "data.corpus.audio_format=flac", "data.corpus.progress=false",
    "data.corpus.num_workers=0", "data.prepare.num_workers=0", "data.corpus.crowd.n_users=30",
    "data.corpus.targets.region.classes=[china,luxembourg]", "data.corpus.targets.region.per_class=2",
    "data.corpus.targets.region.min_per_class=1",
    "data.corpus.targets.dance.classes=[reel,jig]", "data.corpus.targets.dance.per_class=2",
    "data.corpus.targets.dance.min_per_class=1",
]
N_TRACKS = 16

# What a training job does before it trains: `python -m mtl_music.prepare` (corpus build, mel
# cache), then load its learning sources. The imports come before the start line, so that the
# jobs race on the data root rather than on importing torch.
JOB = r"""
import pathlib, runpy, sys, time
import hydra, mtl_music.cli, mtl_music.corpus.demo, mtl_music.data, mtl_music.sources  # not the app module: runpy runs it
from mtl_music.config import compose

ready, start, overrides = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
ready.touch()
while not start.exists():
    time.sleep(0.002)
sys.argv = ["prepare", *overrides]
try:
    runpy.run_module("mtl_music.prepare", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    if exit.code:
        raise
cfg = compose("topics", ["source=[tag,bpm]", "+k=3", *overrides])
for name in ("tag", "bpm"):
    labels = mtl_music.sources.load_source_labels(cfg.source[name], data_cfg=cfg.data)
    print(f"job: source {name} has {len(labels)} tracks", flush=True)
"""


def _start_jobs(jobs: list[tuple[Path, Path]], tmp_path: Path) -> list[str]:
    """Starts one JOB per (data root, working folder) at the same moment; returns their output."""
    ready_dir, start = tmp_path / "ready", tmp_path / "start"
    ready_dir.mkdir()
    procs = []
    for i, (root, cwd) in enumerate(jobs):
        cwd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MTL_MUSIC_DATA_ROOT": str(root), "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
        procs.append(subprocess.Popen([sys.executable, "-c", JOB, str(ready_dir / str(i)), str(start), *SMALL_DEMO],
                                      cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    deadline = time.monotonic() + 240
    while len(list(ready_dir.iterdir())) < len(jobs) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.02)
    start.touch()  # all at once
    outputs = []
    try:
        for proc in procs:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic() + 200))
            outputs.append(out)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for i, (proc, out) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f"job {i} failed:\n{out[-5000:]}"
    return outputs


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta.pop("key")  # a hash over the label files' paths: differs between roots by design
    return {"meta": meta, **arrays}


def _comparable(relative: str, path: Path, root: Path):
    """What must be equal in two builds: the bytes, except for the parts that name the root,
    the time or the audio files' mtimes (which no two builds share)."""
    name = path.name
    if name == "corpus_report.json":
        report = json.loads(path.read_text())
        report.pop("seconds")
        return report
    if name == "index.tsv":  # track_id offset n_frames floor size [mtime_ns] notes [crc]
        return [line.split("\t")[:5] + line.split("\t")[6:7] for line in path.read_text().splitlines()]
    if name == "tracks.tsv":
        return path.read_text().replace(str(root), "<root>")
    if relative.startswith("demo/sources/") and name.endswith(".npz"):
        return _npz(path)
    return path.read_bytes()


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_jobs_starting_together_on_an_empty_root_build_everything_once(tmp_path):
    shared, alone = tmp_path / "shared_root", tmp_path / "alone_root"
    started = time.perf_counter()
    # Three jobs on one root, and (at the same time, on its own root) one job alone to compare with.
    *outputs, alone_output = _start_jobs([(shared, tmp_path / "jobs")] * 3 + [(alone, tmp_path / "alone")], tmp_path)
    print(f"4 jobs in {time.perf_counter() - started:.1f} s")

    # Each artefact was built by exactly one of the three; the other two waited and reused it.
    rendered = [re.findall(r"demo corpus: \d+ tracks in .* \((\d+) rendered, (\d+) reused", out) for out in outputs]
    assert sorted(len(r) for r in rendered) == [0, 0, 1], outputs
    assert [r for found in rendered for r in found] == [(str(N_TRACKS), "0")]
    assert sum(f"demo corpus up to date: {N_TRACKS} tracks" in out for out in outputs) == 2
    assert any("waiting for another process building the demo corpus" in out for out in outputs), outputs
    computed = sorted(re.findall(r"(\d+) computed now, (\d+) already cached", out)[0] for out in outputs)
    assert computed == [("0", str(N_TRACKS)), ("0", str(N_TRACKS)), (str(N_TRACKS), "0")], computed
    for name in ("tag", "bpm"):
        assert sum(f"source '{name}': computing from" in out for out in outputs) == 1
        assert sum(f"source '{name}': loaded" in out for out in outputs) == 2
    assert json.loads((shared / "demo" / "corpus_report.json").read_text())["rendered"] == N_TRACKS
    # The single job alone built everything itself.
    assert f"({N_TRACKS} rendered, 0 reused" in alone_output and "waiting for another" not in alone_output

    # Complete, nothing torn or left half-written, and the same as what one job alone builds.
    files, reference = _files(shared), _files(alone)
    assert not [f for f in files if ".part" in f], "temporary files left behind"
    stores = lambda names: sorted(re.sub(r"-[0-9a-f]{16}\.npz", ".npz", f) for f in names)  # noqa: E731
    assert stores(files) == stores(reference)
    by_store = {re.sub(r"-[0-9a-f]{16}\.npz", ".npz", f): p for f, p in reference.items()}
    checked = 0
    for relative, path in files.items():
        other = by_store[re.sub(r"-[0-9a-f]{16}\.npz", ".npz", relative)]
        assert _same(_comparable(relative, path, shared), _comparable(relative, other, alone)), relative
        checked += 1
    expected = ["demo/manifest.tsv", "demo/labels/lastfm_tags.db", "demo/labels/tempo.tsv", "demo_region/meta.tsv",
                "demo_dance/meta.tsv"]
    assert all(f in files for f in expected)
    assert sum(f.endswith(("mels.f16", "index.tsv", "stats.npz")) for f in files) == 3
    assert sum(f.startswith("demo/sources/") and f.endswith(".npz") for f in files) == 2
    assert sum(f.startswith("demo/audio/") for f in files) == N_TRACKS
    assert checked == len(files)

    # Three jobs started in the same moment: three run directories.
    assert len([p for p in (tmp_path / "jobs" / "outputs" / "prepare").iterdir() if p.is_dir()]) == 3


# ---------------------------------------------------------------------------- the lock helper
def test_lock_file_is_beside_the_artefact(tmp_path):
    assert lock_file(tmp_path / "x.npz") == tmp_path / "x.npz.lock"
    assert lock_file(tmp_path / ".corpus.lock") == tmp_path / ".corpus.lock"


def test_a_second_holder_waits_logs_and_then_gets_the_lock(tmp_path, caplog):
    target = tmp_path / "sub" / "artefact.npz"
    held, events = threading.Event(), []

    def first() -> None:
        with exclusive(target, what="the test artefact"):
            held.set()
            time.sleep(0.3)
            events.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with caplog.at_level(logging.INFO, logger="mtl_music.locks"):
        with exclusive(target, what="the test artefact"):
            events.append("second in")
    thread.join()
    assert events == ["first done", "second in"]
    assert "waiting for another process building the test artefact" in caplog.text
    assert (tmp_path / "sub" / "artefact.npz.lock").is_file()


def test_the_lock_is_reentrant_in_one_thread(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mtl_music.locks"):
        with exclusive(tmp_path / "a", what="a"):
            with exclusive(tmp_path / "a", what="a"):
                pass
        with exclusive(tmp_path / "a", what="a"):  # released after the outer block
            pass
    assert "waiting" not in caplog.text


def test_without_flock_the_block_runs_unlocked_with_a_warning(tmp_path, monkeypatch, caplog):
    import errno
    import fcntl

    def no_flock(*_args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    ran = []
    with caplog.at_level(logging.WARNING, logger="mtl_music.locks"):
        with exclusive(tmp_path / "b", what="the b store"):
            ran.append(True)
    assert ran == [True]
    assert "cannot lock" in caplog.text and "building the b store without a lock" in caplog.text
