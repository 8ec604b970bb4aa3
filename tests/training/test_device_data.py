"""data.placement=device|shard|host: batches cut from a resident (or sharded) cache equal the
loader path's (tensor-equal, for the same seed), and training through either path gives the same
weights."""

from pathlib import Path

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
    # host placement copies nothing: it gathers from the memory map every process shares.
    assert (resident.data.data_ptr() == cache.data.ctypes.data) == (placement == "host")
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
    # On a GPU with 100 GB free (80 GB usable): the paper's 62 GB cache fits whole; a 300 GB one fits
    # as 4 shards of 75 GB but not as 2 of 150 GB; shard with one process is the whole cache.
    gpu = dict(device=torch.device("cuda"), memory_share=0.8, free=100 * 10**9)
    assert resolve_placement("auto", nbytes=62 * 10**9, world_size=4, **gpu) == "device"
    assert resolve_placement("auto", nbytes=300 * 10**9, world_size=4, **gpu) == "shard"
    assert resolve_placement("auto", nbytes=300 * 10**9, world_size=2, **gpu) == "host"
    assert resolve_placement("shard", nbytes=1, world_size=1, **gpu) == "device"


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


def test_shards_cover_every_track_once_with_balanced_rows():
    from mtl_music.training.device_data import shard_owners

    rng = np.random.default_rng(0)
    n_frames = rng.integers(100, 3000, 500)
    order = rng.permutation(500)  # a cache's rows need not follow track order
    offsets = np.zeros(500, np.int64)
    offsets[order] = np.concatenate([[0], np.cumsum(n_frames[order])[:-1]])
    for world in (1, 2, 3, 8):
        owner, rows = shard_owners(offsets, n_frames, world)
        assert set(owner) == set(range(world))
        for r in range(world):  # every track of a shard lies inside the shard's rows
            mine = owner == r
            assert rows[r, 0] <= offsets[mine].min() and (offsets[mine] + n_frames[mine]).max() <= rows[r, 1]
        held = rows[:, 1] - rows[:, 0]
        assert held.sum() == n_frames.sum() and held.max() <= n_frames.sum() / world + n_frames.max()


def _sharded_rank(rank: int, world: int, cache_dir: str, port: int, out: str) -> None:
    """One process of the sharded test: a gloo group of ``world`` CPU ranks, each holding its
    shard; writes whether every training and validation batch equals the loader path's."""
    import os

    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        cache = MelCache.open(cache_dir)
        sources = _sources(cache)
        resident = DeviceCrops.from_cache(cache, crop_frames=300, device="cpu", placement="shard", rank=rank,
                                          world_size=world)
        assert resident.sharded and resident.data.shape[0] < cache.data.shape[0]
        for sampling in ("alternating", "joint"):
            common = dict(sources=sources, batch_size=4, seed=3, sampling=sampling, rank=rank, world_size=world)
            loader = TrainSteps(crops=RandomCrops(cache, crop_frames=300), **common)
            device = DeviceBatches(crops=resident, **common)
            for g in range(2 * loader.steps_per_epoch):
                _assert_batches_equal(loader[g], device[g])
            fold = device[range(1, 4)]  # a fold: three steps in one exchange
            for g, b in zip(range(1, 4), fold):
                _assert_batches_equal(loader[g], b)
        va = ValidationBatches(crops=RandomCrops(cache, crop_frames=300), sources=sources, batch_size=4,
                               batches_per_source=1, seed=3)
        vb = DeviceValidationBatches(crops=resident, sources=sources, batch_size=4, batches_per_source=1, seed=3,
                                     rank=rank, world_size=world)
        for i in range(len(va)):
            _assert_batches_equal(va[i], vb[i])
        Path(out, f"rank{rank}.ok").write_text("ok")
    finally:
        dist.destroy_process_group()


@pytest.mark.timeout(240)
def test_sharded_cache_gives_every_rank_the_loader_paths_batches(cache, tmp_path):
    """placement=shard on 2 and 3 CPU ranks (gloo): each holds a share of the rows, and the
    all_to_all exchange gives every rank exactly its loader-path batches."""
    import socket

    import torch.multiprocessing as mp

    for world in (2, 3):
        with socket.socket() as s:  # a free port for the process group
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = tmp_path / f"w{world}"
        out.mkdir()
        mp.start_processes(_sharded_rank, args=(world, str(cache.path), port, str(out)), nprocs=world,
                           start_method="spawn")
        assert sorted(p.name for p in out.iterdir()) == [f"rank{r}.ok" for r in range(world)]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ddp_with_a_sharded_cache_trains_the_loader_paths_weights(tiny_root, tmp_path):
    """Two CPU ranks (Lightning's DDP, gloo): data.placement=shard (each rank holds half the cache,
    crops swapped by all_to_all) gives the weights of the loader path, on both ranks."""
    import json

    from tests.helpers.tiny_dataset import tiny_train_overrides
    from tests.training.test_train import _train_cli, small_k

    common = [*tiny_train_overrides(tiny_root), *small_k("tag", "bpm"), "source=[tag,bpm,self]", "arch=ms_cr@2",
              "epochs=1", "limit_train_steps=4", "validation.batches_per_source=1", "trainer=ddp",
              "trainer.accelerator=cpu", "trainer.devices=2", "trainer.precision=32-true", "model.channels_last=false"]
    digests = {}
    for placement in ("loader", "shard"):
        run_dir = tmp_path / placement
        proc = _train_cli([*common, f"data.placement={placement}", f"hydra.run.dir={run_dir}"], tmp_path, timeout=250)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        digests[placement] = [json.loads((run_dir / f"rank_{r}.digest.json").read_text()) for r in (0, 1)]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["global_step"] == 4 and summary["metrics"]["val/loss"] > 0
    assert digests["shard"][0]["digest"] == digests["shard"][1]["digest"] == digests["loader"][0]["digest"]
    assert "holds rows" in (tmp_path / "shard").joinpath("train.log").read_text()
