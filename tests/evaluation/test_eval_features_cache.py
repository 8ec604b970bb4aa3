"""The per-model feature cache: reused while it covers the target, extracted again when tracks
were added to the target since (not when a track's audio simply cannot be decoded)."""

from __future__ import annotations

import numpy as np

from mtl_music.evaluation.features import cached_features


def test_feature_cache_is_reused_and_refreshed_for_new_tracks(tmp_path):
    calls = []

    def compute(ids):
        def run():
            calls.append(list(ids))
            kept = [i for i in ids if i != "broken"]  # undecodable audio yields no features
            return kept, np.arange(len(kept), dtype=np.float32)[:, None].repeat(3, 1)
        return run

    first = cached_features(cache_root=tmp_path, digest="d", requested=["a", "b", "broken"],
                            compute=compute(["a", "b", "broken"]))
    assert first[0] == ["a", "b"] and len(calls) == 1
    again = cached_features(cache_root=tmp_path, digest="d", requested=["b", "broken"], compute=compute(["b"]))
    assert again[0] == ["a", "b"] and len(calls) == 1          # covered, "broken" included: reused
    grown = cached_features(cache_root=tmp_path, digest="d", requested=["a", "b", "c"], compute=compute(["a", "b", "c"]))
    assert grown[0] == ["a", "b", "c"] and len(calls) == 2     # "c" is new: extracted again
