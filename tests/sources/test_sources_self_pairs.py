"""Balanced same/different pairs for the self source."""

import numpy as np
import pytest

from mtl_music.errors import ConfigError, DataError
from mtl_music.sources.self_pairs import SelfPairSampler


@pytest.mark.parametrize("pool_size,batch", [(2, 8), (5, 16), (1000, 128)])
def test_exactly_half_same_pairs_and_different_pairs_never_equal(pool_size, batch):
    pool = np.arange(100, 100 + pool_size) * 3
    sampler = SelfPairSampler(pool)
    rng = np.random.default_rng(0)
    for _ in range(20):
        left, right, same = sampler.sample(batch, generator=rng)
        assert left.dtype == np.int64 and right.dtype == np.int64 and same.dtype == bool
        assert left.shape == right.shape == same.shape == (batch,)
        assert same.sum() == batch // 2
        assert np.all(left[same] == right[same]) and np.all(left[~same] != right[~same])
        assert np.isin(left, pool).all() and np.isin(right, pool).all()


def test_pairs_are_shuffled_seeded_and_cover_the_pool():
    sampler = SelfPairSampler(np.arange(10))
    a = sampler.sample(64, generator=np.random.default_rng(5))
    b = sampler.sample(64, generator=np.random.default_rng(5))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert 0 < a[2][:32].sum() < 32  # not all same pairs first
    seen = np.concatenate([sampler.sample(64, generator=np.random.default_rng(s))[1] for s in range(5)])
    assert set(seen.tolist()) == set(range(10))


def test_odd_batches_and_tiny_pools_are_errors():
    with pytest.raises(ConfigError, match="even"):
        SelfPairSampler(np.arange(4)).sample(7, generator=np.random.default_rng(0))
    with pytest.raises(DataError, match="at least 2"):
        SelfPairSampler(np.array([3, 3]))
