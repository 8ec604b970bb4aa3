"""EMOMusic: the mediaeval loader with label_column a list (a 2-D arousal/valence label) and the
per-dimension R² extra metrics."""

from __future__ import annotations

import numpy as np
import pytest

from mtl_music.errors import ConfigError
from mtl_music.targets import mediaeval

from tests.helpers.target_files import target_node, write_mediaeval


def test_two_columns_give_a_2d_label_and_the_per_dimension_metrics(tmp_path):
    truth = write_mediaeval(tmp_path / "mediaeval")
    index = mediaeval.load_index(target_node("emomusic", tmp_path))
    assert index.loader == "mediaeval" and index.task == "regression"
    assert index.metrics == ("r2", "r2_arousal", "r2_valence")
    assert index.labels.shape == (len(index.tracks), 2) and index.labels.dtype == np.float64
    for track in index.tracks:
        assert track.label == truth[track.track_id][:2]
    arousal = mediaeval.load_index(target_node("mediaeval_arousal", tmp_path))
    assert np.array_equal(index.labels[:, 0], arousal.labels) and arousal.extra_metrics == ()
    assert [t.split for t in index.tracks] == [t.split for t in arousal.tracks]


def test_dimension_metrics_need_their_column_in_place(targets_root):
    with pytest.raises(ConfigError, match=r"lists r2_arousal, which scores label column 0.*label_column=\['mean_valence'"):
        mediaeval.load_index(target_node("emomusic", targets_root, label_column=["mean_valence", "mean_arousal"]))
    with pytest.raises(ConfigError, match=r"target\.emomusic\.label_column=\[\] must be a column name or a list"):
        mediaeval.load_index(target_node("emomusic", targets_root, label_column=[]))
    plain = mediaeval.load_index(target_node("emomusic", targets_root, label_column=["mean_valence", "mean_arousal"],
                                             extra_metrics=[]))
    assert plain.metrics == ("r2",) and plain.labels.shape[1] == 2
