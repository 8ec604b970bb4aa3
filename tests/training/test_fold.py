"""trainer.fold_steps: several steps per training_step (manual optimisation) train exactly the
weights of one step per training_step, resume bit-identically, and refuse what they cannot do."""

import pytest
import torch

from mtl_music.errors import ConfigError
from mtl_music.training.data import EpochSteps

from tests.training.test_train import _cfg

COMMON = ["source=[tag,bpm,self]", "arch=ms_cr@2", "epochs=2"]


def _weights(result) -> dict:
    return torch.load(result.last_checkpoint, map_location="cpu", weights_only=False)["state_dict"]


def _assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)


def test_folds_cover_the_epoch_in_order():
    sampler = EpochSteps(12, fold=5)
    sampler.set_epoch(2)
    assert [list(r) for r in sampler] == [list(range(24, 29)), list(range(29, 34)), list(range(34, 36))]
    assert len(sampler) == 3 and len(EpochSteps(12, limit=7, fold=3)) == 3
    with pytest.raises(ConfigError, match="fold_steps"):
        EpochSteps(12, fold=0)


@pytest.mark.slow
def test_folded_and_resumed_device_run_equals_the_plain_run(tiny_root, tmp_path):
    """Reference: Lightning's loop, one step per training_step, loader path, 2 epochs of 12 steps.
    Folded: data.placement=device, folds of 5 (5, 5, 2 steps an epoch), killed after epoch 1 and
    resumed from last.ckpt. Both train in the CPU's default precision (bf16 autocast where native)."""
    from mtl_music.train import run

    plain = run(_cfg(tiny_root, tmp_path / "plain", *COMMON))
    folded = ["data.placement=device", "trainer.fold_steps=5"]
    run(_cfg(tiny_root, tmp_path / "folded", *COMMON, *folded, "epochs=1"))
    resumed = run(_cfg(tiny_root, tmp_path / "folded", *COMMON, *folded, "ckpt=last"))
    _assert_same_weights(_weights(plain), _weights(resumed))
    # Same optimiser steps, and the epoch's mean training loss is the same number.
    assert torch.load(resumed.last_checkpoint, map_location="cpu", weights_only=False)["global_step"] == 24
    assert resumed.metrics["train/loss_epoch"] == pytest.approx(plain.metrics["train/loss_epoch"], rel=1e-5)
    assert resumed.metrics["val/loss"] == plain.metrics["val/loss"]
    # The loader path folds too: a DataLoader worker builds each fold of 3 (4 folds an epoch).
    loader = run(_cfg(tiny_root, tmp_path / "loader", *COMMON, "trainer.fold_steps=3", "data.num_workers=1"))
    _assert_same_weights(_weights(plain), _weights(loader))


@pytest.mark.parametrize("extra,match", [
    (["trainer.fold_steps=0"], "positive"),
    (["trainer.fold_steps=4", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"], "DDP"),
    (["trainer.fold_steps=4", "+trainer.gradient_clip_val=1.0"], "gradient_clip_val"),
    (["trainer.fold_steps=4", "+trainer.accumulate_grad_batches=2"], "accumulate_grad_batches"),
])
def test_what_folding_cannot_do_fails_before_training(tiny_root, tmp_path, extra, match):
    from mtl_music.train import run

    with pytest.raises(ConfigError, match=match):
        run(_cfg(tiny_root, tmp_path / "x", "source=[bpm]", "arch=ss_r", *extra))
