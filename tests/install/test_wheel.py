"""The built wheel on its own: ``pip wheel .``, installed into a folder outside the checkout,
composes its configs (shipped as ``mtl_music/conf/``), trains on the tiny dataset and serves the
trained run through the HEAR API — with the repository not importable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.helpers.tiny_dataset import tiny_train_overrides

REPO = Path(__file__).resolve().parents[2]
# Top-level folders of a checkout that are not part of the source (outputs, caches, environments).
_NOT_SOURCE = {".git", ".venv", "build", "dist", "outputs", "multirun", "wandb", "lightning_logs", ".pytest_cache",
               ".whl", ".gl", "data"}


def _copy_source(dest: Path) -> Path:
    """The checkout without its outputs, so the build starts clean (no stale ``build/``) and
    writes nothing into the repository."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = _NOT_SOURCE if Path(folder).resolve() == REPO else set()
        return {n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")}

    shutil.copytree(REPO, dest, ignore=ignore)
    return dest


def _python(args: list[str], *, cwd: Path, site: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), PYTHONUNBUFFERED="1", WANDB_MODE="offline", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_installed_outside_the_checkout_trains_and_embeds(tiny_root, tmp_path):
    # Build the wheel from a clean copy of the checkout, without build isolation (no download).
    src = _copy_source(tmp_path / "src")
    _ok(subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path / "dist")], cwd=src, capture_output=True, text=True, timeout=300))
    (wheel,) = (tmp_path / "dist").glob("mtl_music-*.whl")

    # The configs ship as mtl_music/conf/: every YAML of the repository's conf/, group folders included.
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = zf.read(entry_points).decode()
    expected = {f"mtl_music/conf/{p.relative_to(REPO / 'conf').as_posix()}" for p in (REPO / "conf").rglob("*.yaml")}
    assert "mtl_music/conf/train.yaml" in names
    assert expected <= names, sorted(expected - names)
    groups = {p.name for p in (REPO / "conf").iterdir() if p.is_dir()}
    assert {"arch", "source", "trainer", "hydra", "paths"} <= groups
    assert all(any(n.startswith(f"mtl_music/conf/{g}/") for n in names) for g in groups)
    assert {f"mtl_music/targets/splits/gtzan/{s}_filtered.txt" for s in ("train", "valid", "test")} <= names
    assert not any(n.startswith(("conf/", "tests/")) for n in names)
    # Every console script of pyproject.toml is an entry point of the wheel.
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts and all(f"{name} = {target}" in entry_points for name, target in scripts.items())

    site = tmp_path / "site"
    _ok(subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                       capture_output=True, text=True, timeout=300))
    outside = tmp_path / "elsewhere"
    outside.mkdir()

    # (a) The composed config, from the packaged configs.
    job = _ok(_python(["-m", "mtl_music.train", "--cfg", "job"], cwd=outside, site=site))
    assert "arch:" in job and "source:" in job and "trainer:" in job
    # The console script pip wrote for the wheel is the same command.
    script = site / "bin" / "mtl-train"
    assert script.is_file()
    assert _ok(_python([str(script), "--cfg", "job"], cwd=outside, site=site)) == job

    # (b) A one-step training on the tiny dataset.
    run_dir = tmp_path / "run"
    train = _ok(_python(["-m", "mtl_music.train", *tiny_train_overrides(tiny_root), "source=[bpm]", "arch=ss_r", "k=3",
                         "epochs=1", "limit_train_steps=1", "validation.batches_per_source=1",
                         f"hydra.run.dir={run_dir}"], cwd=outside, site=site))
    assert "best checkpoint" in train
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()

    # (c) The trained run through the HEAR API: a scene embedding of 1 s of noise.
    probe = """
import json, sys, torch
import mtl_music, mtl_music.config
from mtl_music import hear
model = hear.load_model(sys.argv[1])
audio = 0.1 * torch.randn(1, model.sample_rate, generator=torch.Generator().manual_seed(0))
scene = hear.get_scene_embeddings(audio, model)
print(json.dumps({"file": mtl_music.__file__, "conf": str(mtl_music.config.CONF_DIR), "shape": list(scene.shape),
                  "size": model.scene_embedding_size, "d": model.timestamp_embedding_size,
                  "finite": bool(torch.isfinite(scene).all())}))
"""
    out = json.loads(_ok(_python(["-c", probe, str(run_dir)], cwd=outside, site=site)).strip().splitlines()[-1])
    # The installed copy ran, not the checkout, with its packaged configs.
    assert Path(out["file"]).resolve().is_relative_to(site.resolve()), out["file"]
    assert Path(out["conf"]) == site.resolve() / "mtl_music" / "conf"
    assert out["shape"] == [1, out["size"]] and out["size"] == 2 * out["d"] and out["finite"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert out["d"] == summary["representation_dim"]
    print(f"wheel {wheel.name}: {wheel.stat().st_size} bytes")
