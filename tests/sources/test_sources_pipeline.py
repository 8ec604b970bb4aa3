"""From YAML to z_t: every paper source end to end, the store, configuration and input errors."""

import logging
import os

import numpy as np
import pytest
from omegaconf import OmegaConf

from mtl_music.config import CONF_DIR, compose
from mtl_music.errors import ConfigError, SourceError
from mtl_music.paper import PAPER_SOURCES, SELF_SOURCE
from mtl_music.sources import CATEGORIES, LearningSource, available_sources, load_source_labels
from mtl_music.sources import pipeline

from tests.helpers.source_files import N_TRACKS, STYLES, overrides, style_of, track_id, write_lines

SMALL_K = [f"source.{n}.k=4" for n in PAPER_SOURCES if n != SELF_SOURCE]


def _cfg(root, sources, *extra):
    return compose("train", overrides(root, f"source=[{','.join(sources)}]", *extra))


def test_every_paper_source_has_a_valid_yaml():
    assert sorted(available_sources()) == sorted(PAPER_SOURCES)
    for name in PAPER_SOURCES:
        text = (CONF_DIR / "source" / f"{name}.yaml").read_text()
        assert text.splitlines()[0] == f"# @package source.{name}"
        cfg = compose("train", [f"source=[{name}]"])
        source = LearningSource.from_config(cfg.source[name], data_cfg=cfg.data)
        assert source.name == name and source.category in CATEGORIES
        assert source.k == (2 if name == "self" else 50)


def test_all_sources_end_to_end(label_root):
    cfg = _cfg(label_root, PAPER_SOURCES, *SMALL_K)
    for name in PAPER_SOURCES:
        labels = load_source_labels(cfg.source[name], data_cfg=cfg.data)
        assert labels.name == name
        if name == "self":
            assert labels.is_self and labels.track_ids is None and labels.z is None
            continue
        assert labels.z.dtype == np.float32 and labels.z.shape == (N_TRACKS, 4), name
        np.testing.assert_allclose(labels.z.sum(axis=1), 1.0, atol=1e-5)
        assert set(labels.track_ids) == {track_id(i) for i in range(N_TRACKS)}
        # Tracks of one style share their labels, so they share their most likely topic.
        top = dict(zip(labels.track_ids, labels.z.argmax(axis=1)))
        for style in STYLES:
            assert len({top[track_id(i)] for i in range(N_TRACKS) if style_of(i) == style}) == 1, (name, style)
        assert labels.topic_labels.shape[0] == 4 and len(labels.label_names) == labels.topic_labels.shape[1]
        assert not labels.report.issues, (name, labels.report.issues)


def test_store_is_reused_and_recomputed_when_parameters_or_inputs_change(label_root, monkeypatch):
    calls = []
    compute = LearningSource.compute

    def counting(self):
        calls.append(self.name)
        return compute(self)

    monkeypatch.setattr(LearningSource, "compute", counting)
    cfg = _cfg(label_root, ["tag"], "source.tag.k=4")
    first = load_source_labels(cfg.source.tag, data_cfg=cfg.data)
    stored = list((label_root / "labels" / "sources").glob("tag-*.npz"))
    assert len(stored) == 1 and calls == ["tag"]
    again = load_source_labels(cfg.source.tag, data_cfg=cfg.data)
    assert calls == ["tag"]  # loaded, not recomputed
    np.testing.assert_array_equal(first.z, again.z)
    assert list(first.track_ids) == list(again.track_ids) and first.label_names == again.label_names
    assert again.report.fit["log_likelihood"] == first.report.fit["log_likelihood"]

    changed = _cfg(label_root, ["tag"], "source.tag.k=4", "source.tag.preprocess.seed=1")
    load_source_labels(changed.source.tag, data_cfg=changed.data)
    assert calls == ["tag", "tag"]
    assert len(list((label_root / "labels" / "sources").glob("tag-*.npz"))) == 2

    db = label_root / "labels" / "labels" / "lastfm_tags.db"
    stat = db.stat()
    os.utime(db, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    load_source_labels(cfg.source.tag, data_cfg=cfg.data)
    assert calls == ["tag", "tag", "tag"]
    assert not list((label_root / "labels" / "sources").glob(".*tmp"))  # no temporary file left


def test_missing_label_file_names_the_file_the_yaml_and_the_key(tmp_path):
    cfg = _cfg(tmp_path, ["tag"])
    with pytest.raises(SourceError) as err:
        load_source_labels(cfg.source.tag, data_cfg=cfg.data)
    message = str(err.value)
    assert str(tmp_path / "labels" / "labels" / "lastfm_tags.db") in message
    assert "conf/source/tag.yaml" in message and "data.labels_dir" in message and "source.tag.reader.path" in message


def test_lyrics_reads_whichever_mxm_file_exists(label_root):
    (label_root / "labels" / "labels" / "mxm_dataset_test.txt").unlink()
    cfg = _cfg(label_root, ["lyrics"], "source.lyrics.k=2")
    labels = load_source_labels(cfg.source.lyrics, data_cfg=cfg.data)
    assert len(labels) == N_TRACKS // 2
    (label_root / "labels" / "labels" / "mxm_dataset_train.txt").unlink()
    with pytest.raises(SourceError, match="mxm_dataset_train.txt or .*mxm_dataset_test.txt"):
        load_source_labels(cfg.source.lyrics, data_cfg=cfg.data)


def test_empty_rows_are_excluded_and_malformed_lines_reported(label_root, caplog):
    labels_dir = label_root / "labels" / "labels"
    lines = (labels_dir / "cdr_genres.tsv").read_text().splitlines()
    lines += [f"{track_id(900)}\tgenre/none\t0", "broken line without tabs", f"{track_id(0)}\tgenre/metal\t1"]
    write_lines(labels_dir / "cdr_genres.tsv", lines)
    cfg = _cfg(label_root, ["cdr_tag"], "source.cdr_tag.k=4")
    with caplog.at_level(logging.WARNING, logger="mtl_music.sources"):
        labels = load_source_labels(cfg.source.cdr_tag, data_cfg=cfg.data)
    assert track_id(900) not in set(labels.track_ids) and len(labels) == N_TRACKS
    report = labels.report
    assert report.count("empty_rows") == 1 and track_id(900) in report.examples("empty_rows")[0]
    assert report.count("malformed") == 1 and f"line {N_TRACKS + 3}" in report.examples("malformed")[0]
    assert report.count("duplicates") == 1
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert f"line {N_TRACKS + 3}" in warned and "empty rows" in warned


def test_a_source_without_usable_tracks_is_a_source_error(label_root):
    labels_dir = label_root / "labels" / "labels"
    write_lines(labels_dir / "tempo.tsv", ["track_id\tbpm", "TR1\t0", "TR2\t-3"])
    cfg = _cfg(label_root, ["bpm", "cdr_tag"], "source.bpm.k=2")
    with pytest.raises(SourceError, match="no usable track.*tempo.tsv.*conf/source/bpm.yaml"):
        load_source_labels(cfg.source.bpm, data_cfg=cfg.data)
    write_lines(labels_dir / "cdr_genres.tsv", ["track_id\tlabel\tweight", "TR1\trock\t0"])
    with pytest.raises(SourceError, match="no usable track"):
        load_source_labels(cfg.source.cdr_tag, data_cfg=cfg.data)
    write_lines(labels_dir / "tempo.tsv", ["TR1\t100", "TR2\t120"])
    with pytest.raises(SourceError, match="lower source.bpm.k"):
        load_source_labels(compose("train", overrides(label_root, "source=[bpm]")).source.bpm, data_cfg=cfg.data)


def test_a_new_source_is_one_yaml(label_root, tmp_path):
    conf = tmp_path / "my_conf" / "source"
    conf.mkdir(parents=True)
    (conf / "loudness.yaml").write_text(
        "# @package source.loudness\n"
        "name: loudness\ncategory: feature\nk: 2\n"
        "reader: {kind: table, path: '${data.labels_dir}/loudness.csv'}\n"
        "preprocess: {kind: gmm, seed: 0}\n")
    write_lines(label_root / "labels" / "labels" / "loudness.csv",
                ["track_id,value"] + [f"{track_id(i)},{-20 + 12 * (i % 2)}" for i in range(N_TRACKS)])
    cfg = compose("train", overrides(label_root, "source=[loudness,bpm]", "source.bpm.k=2",
                                     f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]"))
    labels = load_source_labels(cfg.source.loudness, data_cfg=cfg.data)
    assert labels.category == "feature" and labels.z.shape == (N_TRACKS, 2)
    np.testing.assert_allclose(sorted(labels.topic_labels[:, 1]), [-20, -8], atol=1e-3)


def test_a_detached_source_config_resolves_against_data_cfg(label_root):
    cfg = _cfg(label_root, ["bpm"], "source.bpm.k=2")
    detached = OmegaConf.create(OmegaConf.to_container(cfg.source.bpm, resolve=False))
    labels = load_source_labels(detached, data_cfg=cfg.data)
    assert len(labels) == N_TRACKS


@pytest.mark.parametrize("override,match", [
    ("source.tag.category=crowdsourced", "category"),
    ("+source.tag.preprocess.max_iters=3", "max_iters"),
    ("source.tag.reader.kind=tempo", "needs matrix labels"),
    ("source.tag.reader.kind=sqlite", "reader.kind"),
    ("source.tag.preprocess.kind=lda", "preprocess.kind"),
    ("source.tag.k=0", "k=0"),
])
def test_configuration_errors_name_the_yaml_and_the_choices(override, match):
    cfg = compose("train", ["source=[tag]", override])
    with pytest.raises(ConfigError, match=match) as err:
        LearningSource.from_config(cfg.source.tag, data_cfg=cfg.data)
    assert "conf/source/tag.yaml" in str(err.value)


def test_reader_and_preprocess_tables_cover_the_yamls():
    for name in available_sources():
        cfg = compose("train", [f"source=[{name}]"])
        node = cfg.source[name]
        assert node.preprocess.kind in pipeline.PREPROCESS_KEYS
        if node.reader is not None:
            assert node.reader.kind in pipeline.READER_KEYS
