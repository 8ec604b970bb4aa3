"""On a CUDA GPU: device placement, bf16, compile (skipped without CUDA; CI never needs a GPU).

    MTL_TEST_CUDA=1 python -m pytest -m cuda tests/training/test_cuda.py     # benchmarks/gpu_check.sh
"""

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (MTL_TEST_CUDA=1)")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from tests.training.test_device_data import prepared_cache

    return prepared_cache(tmp_path_factory)


@pytest.mark.parametrize("placement", ["device", "host"])
def test_gpu_batches_equal_the_loader_path(cache, placement):
    from mtl_music.data import RandomCrops
    from mtl_music.training.data import TrainSteps
    from mtl_music.training.device_data import DeviceBatches, DeviceCrops

    from tests.training.test_device_data import _sources

    common = dict(sources=_sources(cache), batch_size=4, seed=3)
    loader = TrainSteps(crops=RandomCrops(cache, crop_frames=300), **common)
    resident = DeviceCrops.from_cache(cache, crop_frames=300, device="cuda", placement=placement)
    assert resident.data.is_cuda == (placement == "device")  # host: the cache's memory map itself
    device = DeviceBatches(crops=resident, **common)
    for g in range(2 * loader.steps_per_epoch):
        a, b = loader[g], device[g]
        assert b["x"].is_cuda
        # The GPU's fused multiply-add may round the standardisation differently in the last bit.
        torch.testing.assert_close(b["x"].cpu(), a["x"], rtol=1e-6, atol=1e-5)
        for key in ("z", "same", "x_right"):
            if key in a:
                torch.testing.assert_close(b[key].cpu(), a[key], rtol=1e-6, atol=1e-5)


def test_auto_placement_puts_a_small_cache_on_the_gpu():
    from mtl_music.training.device_data import resolve_placement

    assert resolve_placement("auto", device=torch.device("cuda"), nbytes=1 << 20) == "device"
    assert resolve_placement("auto", device=torch.device("cuda"), nbytes=1 << 50) == "host"


@pytest.mark.parametrize("mode", [None, "reduce-overhead"])
def test_compiled_bf16_training_steps_on_the_gpu(mode):
    from mtl_music.config import compose
    from mtl_music.training import MultiSourceModule

    cfg = compose("train", ["arch=ms_cr@2"])
    module = MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={"tag": 3, "bpm": 3, "self": 2},
                               frontend={"n_mels": 128}, optim={"lr": 1e-3, "weight_decay": 0.0},
                               channels_last=True).cuda().train()
    module.compile_network(mode=mode)
    opt = module.configure_optimizers()
    x = torch.randn(8, 2, 216, 128, device="cuda")
    batches = [{"source": "tag", "x": x, "z": torch.softmax(torch.randn(8, 3, device="cuda"), -1)},
               {"source": "self", "x": x, "x_right": x.flip(0), "same": torch.tensor([0, 1] * 4, device="cuda")},
               {"source": "bpm", "x": x, "z": torch.softmax(torch.randn(8, 3, device="cuda"), -1)}]
    losses = []
    for _ in range(3):
        for batch in batches:
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = module._losses(batch)[batch["source"]]
            loss.backward()
            opt.step()
            losses.append(float(loss))
    assert np.all(np.isfinite(losses))


@pytest.mark.slow
@pytest.mark.parametrize("fold", [1, 4])
def test_train_on_the_gpu_with_device_placement_and_compile(tiny_root, tmp_path, fold):
    import json

    from tests.training.test_train import _cfg

    from mtl_music.train import run

    result = run(_cfg(tiny_root, tmp_path / "gpu", "source=[tag,bpm,self]", "arch=ms_cr@2", "trainer=gpu",
                      "data.placement=auto", "trainer.compile=true", "limit_train_steps=12",
                      f"trainer.fold_steps={fold}"))
    ckpt = torch.load(result.last_checkpoint, map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 12
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert json.loads((tmp_path / "gpu" / "summary.json").read_text())["throughput"]["samples_per_s"] > 0
