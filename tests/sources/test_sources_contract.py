"""The contract every learning source keeps: each YAML of conf/source/ (a new one is picked up
automatically) loads, on tiny label files in the real public formats, into a SourceLabels of
the documented shape (mtl_music/sources/base.py); a missing label file is an error naming it,
and an unknown source name an error listing the valid ones.

A new source YAML must read files that tests/helpers/source_files.py writes (or a new writer
there), and a new preprocess kind needs its branch below."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from mtl_music.config import compose, group_options, load_option
from mtl_music.data import dataset_tracks
from mtl_music.errors import ConfigError, SourceError
from mtl_music.sources import CATEGORIES, SourceLabels, SourceReport, load_source_labels
from mtl_music.sources.gmm import COMPONENT_COLUMNS
from mtl_music.sources.pipeline import READER_KEYS

from tests.helpers.source_files import N_TRACKS, overrides, track_id, write_all_label_files, write_lines

SOURCES = group_options("source")
#: Every source's k (the top-level k of conf/train.yaml); small, as the fixture has 40 tracks.
K = 4
#: Tracks of the dataset without any label (the manifest holds more tracks than the sources cover).
UNLABELLED = 4


def _write_dataset(data_root: Path) -> Path:
    """Dataset ``labels``: every source's label file and a manifest of its tracks."""
    write_all_label_files(data_root / "labels" / "labels")
    write_lines(data_root / "labels" / "manifest.csv", ["track_id,path,split"] + [
        f"{track_id(i)},audio/{track_id(i)}.wav,{'valid' if i % 5 == 4 else 'train'}"
        for i in range(N_TRACKS + UNLABELLED)])
    return data_root


def _cfg(data_root: Path, name: str):
    return compose("train", overrides(data_root, f"source=[{name}]", f"k={K}",
                                      "data.manifest=${data.root}/manifest.csv"))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("source_contract"))


def test_the_source_yamls_are_found():
    assert SOURCES, "conf/source/ holds the learning sources"
    assert "self" in SOURCES


@pytest.mark.parametrize("name", SOURCES)
def test_every_source_loads_with_the_common_surface(name, data_root):
    cfg = _cfg(data_root, name)
    node = cfg.source[name]
    kind = node.preprocess.kind
    labels = load_source_labels(node, data_cfg=cfg.data)

    assert isinstance(labels, SourceLabels) and isinstance(labels.report, SourceReport)
    assert labels.name == name == node.name and labels.report.source == name
    assert labels.category == node.category and labels.category in CATEGORIES
    assert labels.k == node.k, "k as the config says"
    if kind == "self":  # no labels: every track of the dataset is in its pool
        assert labels.is_self and labels.category == "self" and labels.k == 2
        assert labels.track_ids is None and labels.z is None and labels.topic_labels is None
        assert labels.label_names is None and len(labels) == 0 and labels.preprocess == "self"
        return

    assert not labels.is_self and node.k == K
    ids = labels.track_ids
    assert isinstance(ids, np.ndarray) and ids.dtype.kind == "U" and ids.shape == (len(labels),)
    assert len(labels) > 0 and len(set(ids)) == len(ids)
    manifest = {t.track_id for t in dataset_tracks(cfg.data)}
    assert set(ids) <= manifest, "a source labels only tracks of the dataset"

    z = labels.z
    assert isinstance(z, np.ndarray) and z.dtype == np.float32 and z.shape == (len(labels), K)
    assert np.isfinite(z).all() and (z >= 0).all()
    np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-5)  # each row a probability distribution

    topics = labels.topic_labels
    assert isinstance(topics, np.ndarray) and topics.dtype == np.float32 and topics.shape[0] == K
    assert np.isfinite(topics).all()
    if kind == "plsa":  # row j = P(label | topic j)
        assert labels.preprocess == ("tfidf+plsa" if node.preprocess.tfidf else "plsa")
        assert topics.shape[1] == len(labels.label_names) > 0 and (topics >= 0).all()
        np.testing.assert_allclose(topics.sum(axis=1), 1.0, atol=1e-5)
    else:  # GMM: one row per component, weight / mean / std in the raw values' units, sorted by mean
        assert kind == "gmm", f"a new preprocess kind {kind!r} needs its part of the contract"
        assert labels.preprocess == "gmm"
        assert labels.label_names == list(COMPONENT_COLUMNS) == ["weight", "mean", "std"]
        assert topics.shape == (K, 3)
        weight, mean, std = topics.T
        assert (weight >= 0).all() and (std > 0).all() and (np.diff(mean) >= 0).all()
        np.testing.assert_allclose(weight.sum(), 1.0, atol=1e-5)


def _label_files(node) -> dict[str, list[Path]]:
    """``{reader key: [files]}`` of a source config's label files."""
    reader = OmegaConf.to_container(node.reader, resolve=True)
    files = {}
    for key in READER_KEYS[reader["kind"]]["files"]:
        value = reader[key]
        files[key] = [Path(p) for p in (value if isinstance(value, list) else [value])]
    return files


@pytest.mark.parametrize("name", SOURCES)
def test_a_missing_label_file_is_an_error_naming_it(name, tmp_path):
    empty = _cfg(tmp_path / "empty", name)
    node = empty.source[name]
    if node.preprocess.kind == "self":  # reads no file: accepted on a dataset without any label file
        assert load_source_labels(node, data_cfg=empty.data).is_self
        return
    for n, (key, _) in enumerate(_label_files(node).items()):
        root = _write_dataset(tmp_path / f"root{n}")
        cfg = _cfg(root, name)
        missing = _label_files(cfg.source[name])[key]
        for path in missing:  # every candidate of the key (lyrics reads whichever mxm file exists)
            path.unlink()
        with pytest.raises(SourceError) as err:
            load_source_labels(cfg.source[name], data_cfg=cfg.data)
        message = str(err.value)
        assert all(str(path) in message for path in missing), (key, message)
        assert f"conf/source/{name}.yaml" in message and f"source.{name}.reader.{key}=" in message


def test_an_unknown_source_is_an_error_listing_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        compose("train", ["source=[tag,no_such_source]"])
    message = str(err.value)
    assert "'no_such_source'" in message and all(name in message for name in SOURCES)
    with pytest.raises(ConfigError) as err:
        load_option("source", "no_such_source")
    assert all(name in str(err.value) for name in SOURCES)
