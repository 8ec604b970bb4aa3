"""The step plan of Algorithm 1: seeded, identical across ranks, every track visited."""

import numpy as np
import torch

from mtl_music.training.data import EpochSteps, SourceTracks, TrainSteps
from mtl_music.training.schedule import SourceSchedule, batch_positions


class FakeCrops:
    """Returns each track index as the crop content, so tests can see which tracks came."""

    def __call__(self, indices, *, generator):
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.float32)
        return idx.view(-1, 1, 1, 1).expand(-1, 2, 4, 3).clone()


def _sources():
    rng = np.random.default_rng(0)
    a = np.arange(0, 40)
    b = np.arange(10, 34)  # sizes divisible by the global batch of the rank test
    return [
        SourceTracks("a", 5, a, np.array([40]), rng.dirichlet(np.ones(5), len(a)).astype("f4"), np.ones((1, 5), "f4") / 5),
        SourceTracks("b", 5, b, np.array([41]), rng.dirichlet(np.ones(5), len(b)).astype("f4"), np.ones((1, 5), "f4") / 5),
    ]


def test_epoch_length_is_l_times_m():
    assert SourceSchedule.epoch_length(n_tracks=41841, global_batch=128, n_sources=8) == 327 * 8
    steps = TrainSteps(crops=FakeCrops(), sources=_sources(), batch_size=8, seed=0)
    assert steps.steps_per_epoch == 5 * 2  # ceil(40 / 8) steps to visit all tracks, times 2 sources


def test_schedule_is_seeded_and_uniform():
    s = SourceSchedule(n_sources=4, steps_per_epoch=4000, seed=3)
    a, b = s.plan(0).sources, SourceSchedule(n_sources=4, steps_per_epoch=4000, seed=3).plan(0).sources
    assert np.array_equal(a, b)
    assert not np.array_equal(a, s.plan(1).sources)
    counts = np.bincount(a, minlength=4) / 4000
    assert np.all(np.abs(counts - 0.25) < 0.03)


def test_ranks_draw_the_same_source_and_different_tracks():
    r0 = TrainSteps(crops=FakeCrops(), sources=_sources(), batch_size=4, seed=1, rank=0, world_size=2)
    r1 = TrainSteps(crops=FakeCrops(), sources=_sources(), batch_size=4, seed=1, rank=1, world_size=2)
    for g in range(r0.steps_per_epoch * 2):
        b0, b1 = r0[g], r1[g]
        assert b0["source"] == b1["source"]
        t0 = set(b0["x"][:, 0, 0, 0].int().tolist())
        t1 = set(b1["x"][:, 0, 0, 0].int().tolist())
        assert not (t0 & t1)


def test_every_track_is_visited_before_any_repeats():
    seen = np.concatenate([
        batch_positions(n_items=20, batch_size=4, occurrence=o, rank=0, world_size=1, seed=0, epoch=0, key=1)
        for o in range(5)
    ])
    assert sorted(seen.tolist()) == list(range(20))


def test_batches_carry_their_tracks_labels():
    sources = _sources()
    steps = TrainSteps(crops=FakeCrops(), sources=sources, batch_size=8, seed=0)
    for g in range(steps.steps_per_epoch):
        batch = steps[g]
        src = next(s for s in sources if s.name == batch["source"])
        tracks = batch["x"][:, 0, 0, 0].long().numpy()
        rows = [int(np.flatnonzero(src.train == t)[0]) for t in tracks]
        assert torch.equal(batch["z"], torch.from_numpy(src.train_z[rows]))


def test_same_global_step_gives_the_same_batch():
    steps = TrainSteps(crops=FakeCrops(), sources=_sources(), batch_size=8, seed=5)
    assert torch.equal(steps[13]["x"], steps[13]["x"])
    assert torch.equal(steps[13]["z"], TrainSteps(crops=FakeCrops(), sources=_sources(), batch_size=8, seed=5)[13]["z"])


def test_joint_sampling_uses_tracks_with_every_label():
    steps = TrainSteps(crops=FakeCrops(), sources=_sources(), batch_size=8, seed=0, sampling="joint")
    batch = steps[0]
    assert set(batch["z"]) == {"a", "b"}
    tracks = batch["x"][:, 0, 0, 0].long().numpy()
    assert np.all((tracks >= 10) & (tracks < 34))


def test_epoch_sampler_follows_set_epoch():
    sampler = EpochSteps(10, limit=3)
    sampler.set_epoch(2)
    assert list(sampler) == [20, 21, 22]
