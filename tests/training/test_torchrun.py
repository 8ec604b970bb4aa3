"""torchrun (``python -m torch.distributed.run``) starts every rank itself, each running ``main()``;
Lightning then takes the ranks from torchrun's environment instead of starting processes. The
result must be the same weights as Lightning's own two-process launch of the same run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.tiny_dataset import tiny_train_overrides, write_tiny_dataset
from tests.training.test_train import _train_cli, small_k


def _common(root: Path) -> list[str]:
    return [*tiny_train_overrides(root), *small_k("tag", "bpm"), "source=[tag,bpm,self]", "arch=ms_cr@4", "seed=3",
            "epochs=1", "limit_train_steps=2", "validation.batches_per_source=1", "model.channels_last=false",
            "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true"]


def _digests(run_dir: Path) -> list[dict]:
    return [json.loads((run_dir / f"rank_{r}.digest.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_torchrun_gives_the_weights_of_lightnings_own_launch(tmp_path):
    root = tmp_path / "data_root"
    write_tiny_dataset(root / "tiny")  # no mel cache yet: both torchrun ranks start by preparing it

    # hydra.run.dir is given: each rank composes its own config, and the default run folder is
    # named after the second the rank started.
    torchrun_dir = tmp_path / "torchrun"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "mtl_music.train", *_common(root), "logger=wandb", f"hydra.run.dir={torchrun_dir}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    lightning_dir = tmp_path / "lightning"
    proc = _train_cli([*_common(root), f"hydra.run.dir={lightning_dir}"], tmp_path, timeout=200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    torchrun, lightning = _digests(torchrun_dir), _digests(lightning_dir)
    for digests in (torchrun, lightning):
        assert digests[0]["digest"] == digests[1]["digest"] and digests[0]["global_step"] == 2
    assert torchrun[0]["digest"] == lightning[0]["digest"]
    assert json.loads((torchrun_dir / "ddp_sync.json").read_text())["identical"] is True

    # One rank prepared the cache; the other waited for it instead of reading a half-written one.
    mel = root / "tiny" / "mel"
    assert len([p for p in mel.iterdir() if p.is_dir()]) == 1
    # Rank 0 alone logs (one W&B run for the job; the other launch's CSV logger wrote one version),
    # writes the summary and the checkpoints.
    assert len(list((torchrun_dir / "wandb").glob("offline-run-*"))) == 1
    assert [p.name for p in (lightning_dir / "csv").iterdir()] == ["version_0"]
    assert json.loads((torchrun_dir / "summary.json").read_text())["global_step"] == 2
    assert sorted(p.name for p in (torchrun_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
