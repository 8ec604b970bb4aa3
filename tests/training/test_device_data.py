"""data.placement=device|host: batches cut from a resident cache equal the loader path's
(tensor-equal, for the same seed), and training through either path gives the same weights."""

import numpy as np
import pytest
import torch

from mtl_music.data import MelCache, RandomCrops
from mtl_music.errors import ConfigError
from mtl_music.training.data import SourceTracks, TrainSteps, ValidationBatches
from mtl_music.training.device_data import (DeviceBatches, DeviceCrops, DeviceValidationBatches, cache_bytes,
                                            resolve_placement)

from tests.helpers.folder_dataset import folder_overrides, write_clean_dataset


def prepared_cache(tmp_path_factory) -> MelCache:
    """8 tracks of 3–4.75 s (259–409 frames), 2 of them valid."""
    from mtl_music import prepare
    from mtl_music.config import compose

    root = tmp_path_factory.mktemp("device_cache")
    cfg = compose("prepare", folder_overrides(root, manifest=write_clean_dataset(root / "src")))
    return MelCache.open(prepare.run(cfg).cache_dir)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return prepared_cache(tmp_path_factory)


def _sources(cache, names=("a", "b", "self")):
    rng = np.random.default_rng(0)
    train, valid = cache.indices("train"), cache.indices("valid")
    out = []
    for name in names:
        if name == "self":
            out.append(SourceTracks("self", 2, train, valid))
        else:
            out.append(SourceTracks(name, 4, train, valid, rng.dirichlet(np.ones(4), len(train)).astype("f4"),
                                    rng.dirichlet(np.ones(4), len(valid)).astype("f4")))
    return out


def _assert_batches_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            _assert_batches_equal(a[key], b[key])
        elif isinstance(a[key], torch.Tensor):
            assert b[key].dtype == a[key].dtype and b[key].is_contiguous(), key
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)
        else:
            assert a[key] == b[key]


# crop_frames=300 is longer than the 3 s tracks: their crops are padded with the track's floor.
@pytest.mark.parametrize("sampling,crop_frames,placement", [
    ("alternating", 216, "device"), ("alternating", 300, "host"), ("joint", 216, "device"), ("joint", 300, "device"),
])
def test_device_batches_equal_the_loader_path(cache, sampling, crop_frames, placement):
    common = dict(sources=_sources(cache), batch_size=4, seed=3, sampling=sampling, rank=1, world_size=2)
    loader = TrainSteps(crops=RandomCrops(cache, crop_frames=crop_frames), **common)
    resident = DeviceCrops.from_cache(cache, crop_frames=crop_frames, device="cpu", placement=placement)
    device = DeviceBatches(crops=resident, **common)
    seen = set()
    for g in range(3 * loader.steps_per_epoch):  # three epochs: every source, self pairs included
        a, b = loader[g], device[g]
        seen.add(a["source"])
        _assert_batches_equal(a, b)
    assert seen == ({"a", "b", "self"} if sampling == "alternating" else {"__joint__"})
    va = ValidationBatches(crops=RandomCrops(cache, crop_frames=crop_frames), sources=common["sources"], batch_size=4,
                           batches_per_source=1, seed=3)
    vb = DeviceValidationBatches(crops=resident, sources=common["sources"], batch_size=4, batches_per_source=1, seed=3)
    for i in range(len(va)):
        _assert_batches_equal(va[i], vb[i])


def test_placement_choices(cache):
    assert cache_bytes(cache) == cache.data.size * 2
    assert resolve_placement("auto", device=torch.device("cpu"), nbytes=10**15) == "device"
    assert resolve_placement("host", device=torch.device("cpu"), nbytes=1) == "host"
    with pytest.raises(ConfigError, match="data.placement"):
        resolve_placement("gpu", device=torch.device("cpu"), nbytes=1)


@pytest.mark.slow
def test_training_with_placement_device_gives_the_loader_path_weights(tiny_root, tmp_path):
    from tests.training.test_train import _cfg

    from mtl_music.train import run

    common = ["source=[tag,bpm,self]", "arch=ms_cr@2", "limit_train_steps=3"]
    ref = run(_cfg(tiny_root, tmp_path / "loader", *common))
    dev = run(_cfg(tiny_root, tmp_path / "device", *common, "data.placement=device"))
    a = torch.load(ref.last_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(dev.last_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0, msg=key)
