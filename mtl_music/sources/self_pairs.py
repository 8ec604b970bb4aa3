"""Pairs of crops for the ``self`` learning source (paper Sect. 2.2.1, Eq. 5–6, SPEC R3.5).

A batch of B pairs holds exactly B/2 "same" pairs (two crops of one track: ``left == right``)
and B/2 "different" pairs (two distinct tracks), in random order. Training and validation
both draw their pairs here, so the balance is one rule in one place.
"""

from __future__ import annotations

import numpy as np

from mtl_music.errors import ConfigError, DataError
from mtl_music.paper import SELF_SOURCE


class SelfPairSampler:
    """Draws balanced same/different pairs from a pool of track indices.

    Args:
        pool: ``(n,)`` int, the track indices that may be drawn (e.g. the training tracks of
            a mel cache); at least two distinct tracks.
    """

    def __init__(self, pool: np.ndarray) -> None:
        pool = np.unique(np.asarray(pool, dtype=np.int64).reshape(-1))
        if pool.size < 2:
            raise DataError(f"the {SELF_SOURCE} source needs at least 2 distinct tracks to make 'different' pairs, "
                            f"got {pool.size}; add tracks to the dataset "
                            f"(or leave {SELF_SOURCE!r} out of source=[...])")
        self.pool = pool

    def sample(self, batch_size: int, *, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``batch_size`` pairs.

        Returns:
            ``(left, right, same)``: ``left``/``right`` ``(B,)`` int64 track indices from the
            pool, ``same`` ``(B,)`` bool; ``same[i]`` iff ``left[i] == right[i]``; exactly B/2
            of each, shuffled.
        """
        if batch_size < 2 or batch_size % 2:
            raise ConfigError(f"the self source needs an even batch size >= 2 (B/2 same and B/2 different pairs), "
                              f"got {batch_size}; set data.batch_size to an even number")
        half = batch_size // 2
        n = self.pool.size
        same_tracks = generator.integers(0, n, size=half)
        first = generator.integers(0, n, size=half)
        # A uniform draw among the n - 1 other tracks: shift past the first one.
        second = generator.integers(0, n - 1, size=half)
        second += second >= first
        left = np.concatenate([same_tracks, first])
        right = np.concatenate([same_tracks, second])
        same = np.concatenate([np.ones(half, dtype=bool), np.zeros(half, dtype=bool)])
        order = generator.permutation(batch_size)
        return self.pool[left[order]], self.pool[right[order]], same[order]
