"""conf/target/ through Hydra, the registry's dispatch and its errors."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from mtl_music.config import CONF_DIR, check_group_overrides, compose
from mtl_music.errors import ConfigError, DataError
from mtl_music.targets import LOADERS, available_targets, load_target

from tests.helpers.target_files import target_node


def test_hydra_multi_select_places_each_target_under_its_name(targets_root):
    cfg = compose("train", ["target=[demo_region,demo_dance,mediaeval_valence]", f"paths.data_root={targets_root}",
                            "target.demo_dance.test_fraction=0.4"])
    assert sorted(cfg.target) == ["demo_dance", "demo_region", "mediaeval_valence"]
    assert cfg.target.demo_region.splits_dir == str(targets_root / "demo_region" / "splits")
    assert cfg.target.mediaeval_valence.label_column == "mean_valence"
    region = load_target(cfg.target.demo_region)
    dance = load_target(cfg.target.demo_dance)
    assert region.loader == "gtzan" and len(region.tracks) == 18
    assert dance.loader == "ballroom" and dance.test_fraction == 0.4


def test_unknown_target_option_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown target option\\(s\\) 'nope'.*demo_dance.*gtzan.*lastfm1k"):
        check_group_overrides(["target=[gtzan,nope]"])


def test_unknown_or_missing_loader_lists_loaders_and_targets(targets_root):
    node = target_node("gtzan", targets_root, loader="gtzan_v2")
    with pytest.raises(ConfigError, match="unknown target loader 'gtzan_v2'.*" + ", ".join(LOADERS)) as err:
        load_target(node)
    assert all(name in str(err.value) for name in available_targets())
    with pytest.raises(ConfigError, match="no 'loader' key"):
        load_target(OmegaConf.create({"name": "x", "root": "/tmp"}))


def test_unresolvable_root_is_a_config_error():
    node = OmegaConf.load(CONF_DIR / "target" / "gtzan.yaml")
    with pytest.raises(ConfigError, match=r"target\.gtzan\.root cannot be resolved"):
        load_target(node)


def test_root_override_redirects_a_target(targets_root, tmp_path):
    node = target_node("demo_dance", tmp_path, root=str(targets_root / "demo_dance"))
    assert len(load_target(node).tracks) == 15
    with pytest.raises(DataError, match=r"target\.demo_dance\.root=.*does not exist"):
        load_target(target_node("demo_dance", tmp_path))


def test_bad_option_values_are_config_errors(targets_root):
    with pytest.raises(ConfigError, match=r"target\.ballroom\.test_fraction=1\.5"):
        load_target(target_node("ballroom", targets_root, test_fraction=1.5))
    with pytest.raises(ConfigError, match=r"target\.lastfm1k\.min_users_per_track=0"):
        load_target(target_node("lastfm1k", targets_root, min_users_per_track=0))
    with pytest.raises(ConfigError, match=r"target\.ballroom\.classes='Jive'"):
        load_target(target_node("ballroom", targets_root, classes="Jive"))
