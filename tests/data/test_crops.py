import json
import pickle

import numpy as np
import pytest
import torch

from mtl_music.audio import MelSettings, MelSpectrogram, load_audio
from mtl_music.data import MelCache, RandomCrops, Slicer
from mtl_music.data.cache import SETTINGS_FILE, TRACKS_FILE
from mtl_music.errors import DataError


@pytest.fixture(scope="module")
def cache(prepared):
    return MelCache.open(prepared.cache_dir)


def _standardized(cache, rows_2tm):
    return (rows_2tm.astype(np.float32) - cache.mean) / cache.std


def test_cache_reader_contract(cache):
    assert len(cache) == 8 and cache.track_ids[0] == "track00"
    assert list(cache.splits) == ["train", "train", "train", "valid"] * 2
    assert cache.mean.shape == cache.std.shape == (128,) and cache.mean.dtype == np.float32
    assert cache.settings == MelSettings()
    i = cache.index_of("track05")
    expected_frames = 1 + int(round((3.0 + 0.25 * 5) * 22050)) // 256
    assert cache.n_frames[i] == expected_frames
    track = cache.track(i)
    assert track.shape == (2, expected_frames, 128) and track.dtype == np.float16
    # It is the front end's dB-mel of the file, stored as float16.
    audio = load_audio(cache.paths[i])
    with torch.no_grad():
        direct = MelSpectrogram(MelSettings())(torch.from_numpy(audio)).numpy()
    np.testing.assert_array_equal(track, direct.astype(np.float16))
    assert "tracks=8" in repr(cache)


def test_random_crops_shape_values_and_reproducibility(cache):
    crops = RandomCrops(cache, crop_frames=216)
    indices = np.array([0, 3, 5, 5, 7])
    batch = crops(indices, generator=np.random.default_rng(1))
    assert batch.shape == (5, 2, 216, 128) and batch.dtype == torch.float32 and batch.is_contiguous()
    torch.testing.assert_close(batch, crops(indices, generator=np.random.default_rng(1)), rtol=0, atol=0)
    assert not torch.equal(batch, crops(indices, generator=np.random.default_rng(2)))
    starts = crops.starts(indices, generator=np.random.default_rng(1))
    for b, (i, start) in enumerate(zip(indices, starts)):
        expected = _standardized(cache, cache.track(i)[:, start : start + 216])
        np.testing.assert_allclose(batch[b].numpy(), expected, rtol=1e-5, atol=1e-4)
    raw = RandomCrops(cache, standardize=False)(indices, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(raw[0].numpy(), cache.track(0)[:, starts[0] : starts[0] + 216].astype(np.float32))


def test_crop_starts_are_uniform_over_the_valid_range(cache):
    crops = RandomCrops(cache, crop_frames=216)
    i = 0  # 3 s: 259 frames, valid starts 0..43
    starts = crops.starts(np.full(20000, i), generator=np.random.default_rng(0))
    counts = np.bincount(starts, minlength=44)
    assert starts.min() == 0 and starts.max() == cache.n_frames[i] - 216 and len(counts) == 44
    assert counts.min() > 0.7 * counts.mean() and counts.max() < 1.3 * counts.mean()


def test_tracks_shorter_than_the_crop_are_padded_with_their_floor(cache):
    crops = RandomCrops(cache, crop_frames=400, standardize=False)
    out = crops([1], generator=np.random.default_rng(0))[0].numpy()  # 3.25 s = 281 frames
    n = cache.n_frames[1]
    np.testing.assert_array_equal(out[:, :n], cache.track(1).astype(np.float32))
    assert np.all(out[:, n:] == cache.floors[1]) and cache.floors[1] == cache.track(1).min()


def test_slicer_cuts_non_overlapping_slices_and_pads_the_last(cache):
    slicer = Slicer(cache, slice_frames=216)
    for i in (0, 7):
        n = int(cache.n_frames[i])
        assert slicer.n_slices(i) == -(-n // 216)
        slices = slicer.slices(i)
        assert slices.shape == (slicer.n_slices(i), 2, 216, 128)
        joined = slices.permute(1, 0, 2, 3).reshape(2, -1, 128).numpy()
        np.testing.assert_allclose(joined[:, :n], _standardized(cache, cache.track(i)), rtol=1e-5, atol=1e-4)
        pad = (cache.floors[i] - cache.mean) / cache.std
        np.testing.assert_allclose(joined[:, n:], np.broadcast_to(pad, joined[:, n:].shape), rtol=1e-5, atol=1e-4)


class _CropBatches(torch.utils.data.Dataset):
    """What a DataModule does: item k is a batch of crops drawn with a generator seeded by k."""

    def __init__(self, crops, n_tracks):
        self.crops, self.n_tracks = crops, n_tracks

    def __len__(self):
        return 6

    def __getitem__(self, k):
        rng = np.random.default_rng(k)
        return self.crops(rng.integers(0, self.n_tracks, 4), generator=rng)


def test_crops_and_slices_work_in_dataloader_workers(cache):
    crops = RandomCrops(cache)
    assert len(pickle.dumps(crops)) < 200_000  # the memory map is not pickled
    _ = cache.data  # mapped in the parent; the workers map it again themselves
    loader = torch.utils.data.DataLoader(_CropBatches(crops, len(cache)), batch_size=None, num_workers=2)
    got = list(loader)
    expected = [_CropBatches(crops, len(cache))[k] for k in range(6)]
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    slicer = Slicer(cache)
    slice_loader = torch.utils.data.DataLoader(_Slices(slicer, len(cache)), batch_size=None, num_workers=2)
    for i, tensor in enumerate(slice_loader):
        torch.testing.assert_close(tensor, slicer.slices(i), rtol=0, atol=0)


class _Slices(torch.utils.data.Dataset):
    def __init__(self, slicer, n):
        self.slicer, self.n = slicer, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.slicer.slices(i)


def test_open_errors(cache, tmp_path):
    with pytest.raises(DataError, match="no mel cache at .*nowhere.*mtl_music.prepare"):
        MelCache.open(tmp_path / "nowhere")
    assert MelCache.open(cache.path.parent).path == cache.path  # a cache_dir holding one cache
    assert MelCache.open(cache.path / TRACKS_FILE).path == cache.path
    with pytest.raises(DataError, match="was computed with"):
        MelCache.open(cache.path, settings=MelSettings(n_mels=64))
    copy = tmp_path / "renamed"
    copy.mkdir()
    (copy / SETTINGS_FILE).write_text((cache.path / SETTINGS_FILE).read_text())
    with pytest.raises(DataError, match="folder is named renamed"):
        MelCache.open(copy)
    key = cache.settings.key()
    incomplete = tmp_path / key
    incomplete.mkdir()
    (incomplete / SETTINGS_FILE).write_text((cache.path / SETTINGS_FILE).read_text())
    with pytest.raises(DataError, match="incomplete.*resumes"):
        MelCache.open(incomplete)
    payload = json.loads((cache.path / SETTINGS_FILE).read_text())
    assert payload["key"] == key and payload["settings"]["n_mels"] == 128
