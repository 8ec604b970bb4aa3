"""Algorithm 1's step plan: which learning source and which tracks each step uses.

Everything is a pure function of ``(seed, epoch, step, rank)``, so

* every DDP rank draws the **same** source at the same step (R5.2: the same branch is
  active everywhere, otherwise DDP's gradient buckets desynchronise and ranks hang);
* data-loader workers need no shared state, and
* a run resumed from an epoch-end checkpoint replays exactly the batches of an
  uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


def step_rng(*, seed: int, epoch: int, step: int, rank: int = 0, stream: int = 0) -> np.random.Generator:
    """A generator for one (epoch, step, rank); ``stream`` separates independent uses."""
    return np.random.default_rng([seed, stream, epoch, step, rank])


@dataclass(frozen=True)
class EpochPlan:
    """The plan of one epoch: ``sources[t]`` is the source index drawn at step ``t`` and
    ``occurrence[t]`` how many times that source was drawn before ``t`` in this epoch."""

    sources: np.ndarray  # (steps,) int64
    occurrence: np.ndarray  # (steps,) int64


class SourceSchedule:
    """Uniform random choice of one source per step (Algorithm 1), seeded per epoch.

    ``steps_per_epoch = l · m`` where ``l`` is the number of steps needed to visit every
    training track once with the global batch (``batch_size · world_size``) and ``m`` the
    number of sources.
    """

    def __init__(self, *, n_sources: int, steps_per_epoch: int, seed: int) -> None:
        if n_sources < 1:
            raise ValueError("a schedule needs at least one source")
        self.n_sources = n_sources
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed

    @staticmethod
    def epoch_length(*, n_tracks: int, global_batch: int, n_sources: int) -> int:
        """``l · m`` with ``l = ceil(n_tracks / global_batch)``."""
        return max(1, -(-n_tracks // global_batch)) * n_sources

    def plan(self, epoch: int) -> EpochPlan:
        return _plan(self.seed, epoch, self.n_sources, self.steps_per_epoch)


@lru_cache(maxsize=8)
def _plan(seed: int, epoch: int, n_sources: int, steps: int) -> EpochPlan:
    rng = np.random.default_rng([seed, 1, epoch])
    sources = rng.integers(0, n_sources, size=steps)
    occurrence = np.zeros(steps, dtype=np.int64)
    seen = np.zeros(n_sources, dtype=np.int64)
    for t, s in enumerate(sources):
        occurrence[t] = seen[s]
        seen[s] += 1
    return EpochPlan(sources=sources.astype(np.int64), occurrence=occurrence)


def batch_positions(
    *, n_items: int, batch_size: int, occurrence: int, rank: int, world_size: int, seed: int, epoch: int, key: int
) -> np.ndarray:
    """Positions (into a source's track list) of the ``occurrence``-th batch of one rank.

    The track list is walked in a seeded permutation per (epoch, source); each occurrence
    takes the next ``batch_size · world_size`` positions (wrapping around into the next
    permutation), and rank ``r`` takes the ``r``-th block of ``batch_size`` — so ranks
    see different tracks, and every track is visited before any repeats.
    """
    global_batch = batch_size * world_size
    start = occurrence * global_batch + rank * batch_size
    out = np.empty(batch_size, dtype=np.int64)
    filled = 0
    while filled < batch_size:
        cycle, offset = divmod(start + filled, n_items)
        perm = _permutation(seed, epoch, key, cycle, n_items)
        take = min(batch_size - filled, n_items - offset)
        out[filled : filled + take] = perm[offset : offset + take]
        filled += take
    return out


@lru_cache(maxsize=64)
def _permutation(seed: int, epoch: int, key: int, cycle: int, n: int) -> np.ndarray:
    return np.random.default_rng([seed, 2, epoch, key, cycle]).permutation(n)
