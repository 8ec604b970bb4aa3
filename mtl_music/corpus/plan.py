"""Which works make the training collection, their track ids, and the train/valid split.

The mix is a share per collection (``data.corpus.mix``); the counts follow by largest
remainder, at least one track per collection with a positive share when the size allows,
capped at the works a collection has (the excess goes to the others by share). Within a
collection, candidates are taken in an order fixed by (seed, collection): a bigger corpus
contains a smaller one of the same seed. Track ids are ``TR`` + 16 upper-case hex digits of a
hash of the work key (MSD style); they do not depend on the seed or the size.
"""

from __future__ import annotations

import hashlib
from typing import Mapping, Sequence

import numpy as np

from mtl_music.corpus.catalog import Work
from mtl_music.errors import ConfigError

#: The default mix of the training collection (fractions of ``data.corpus.size``).
DEFAULT_MIX: dict[str, float] = {"essen_german": 0.40, "oneills": 0.30, "bach": 0.15, "palestrina": 0.10,
                                 "monteverdi": 0.02, "trecento": 0.03}


def track_id(work: Work) -> str:
    """The MSD-style track id of a work in the training collection."""
    return "TR" + hashlib.sha1(f"demo:{work.key}".encode()).hexdigest()[:16].upper()


def collection_counts(size: int, mix: Mapping[str, float], available: Mapping[str, int]) -> dict[str, int]:
    """Tracks per collection for a corpus of ``size`` (see the module docstring)."""
    if size < 1:
        raise ConfigError(f"data.corpus.size must be >= 1, got {size}")
    bad = {name: share for name, share in mix.items() if not share >= 0}
    if bad or not any(share > 0 for share in mix.values()):
        raise ConfigError(f"data.corpus.mix needs non-negative shares with a positive total, got {dict(mix)}")
    counts = {name: 0 for name in mix}
    remaining = min(size, sum(available.get(n, 0) for n, s in mix.items() if s > 0))
    open_names = [n for n, s in mix.items() if s > 0 and available.get(n, 0) > 0]
    while remaining > 0 and open_names:
        total_share = sum(mix[n] for n in open_names)
        exact = {n: remaining * mix[n] / total_share for n in open_names}
        share = {n: int(np.floor(exact[n])) for n in open_names}
        leftover = remaining - sum(share.values())
        for n in sorted(open_names, key=lambda n: (-(exact[n] - np.floor(exact[n])), n))[:leftover]:
            share[n] += 1
        # at least one track each when there is room: taken from the largest collection
        if remaining >= len(open_names):
            for n in open_names:
                if share[n] == 0:
                    largest = max(open_names, key=lambda m: (share[m], m))
                    share[largest] -= 1
                    share[n] = 1
        remaining = 0
        for n in list(open_names):
            room = available[n] - counts[n]
            take = min(share[n], room)
            counts[n] += take
            remaining += share[n] - take
            if counts[n] >= available[n]:
                open_names.remove(n)
    return counts


def candidate_order(works: Sequence[Work], *, seed: int, collection: str) -> list[Work]:
    """``works`` in the fixed draw order of (seed, collection)."""
    rng = np.random.default_rng([int(seed), int(hashlib.sha1(f"mix:{collection}".encode()).hexdigest()[:8], 16)])
    return [works[i] for i in rng.permutation(len(works))]


def assign_splits(track_ids_by_collection: Mapping[str, Sequence[str]], *, val_fraction: float, seed: int) -> dict[str, str]:
    """``train``/``valid`` per track: ``round(val_fraction * n)`` of each collection go to valid.

    The valid tracks are those with the smallest hash of (seed, track id): deterministic and
    stratified by collection (so the valid set has the training mix).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"data.val_fraction must be in [0, 1), got {val_fraction}")
    splits: dict[str, str] = {}
    for ids in track_ids_by_collection.values():
        ranked = sorted(ids, key=lambda t: hashlib.sha1(f"split:{seed}:{t}".encode()).hexdigest())
        n_valid = int(round(val_fraction * len(ranked)))
        if len(ranked) > 1:
            n_valid = min(n_valid, len(ranked) - 1)
        for i, tid in enumerate(ranked):
            splits[tid] = "valid" if i < n_valid else "train"
    return splits
