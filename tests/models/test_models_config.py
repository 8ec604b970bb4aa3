"""The arch/trunk config groups through Hydra, and the combinations that must fail."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from mtl_music.config import CONF_DIR
from mtl_music.errors import ConfigError, DataError, MtlMusicError, SourceError
from mtl_music.models import build_network
from mtl_music.models.size import ARCH_OPTIONS

from tests.helpers.models import sources_dict


@pytest.fixture
def compose_model(tmp_path):
    """Compose arch + trunk from the repository's conf/ through a tiny primary config."""
    (tmp_path / "model.yaml").write_text(
        "defaults:\n  - arch: ms_cr@4\n  - trunk: vgg\n  - _self_\n"
        f"hydra:\n  searchpath:\n    - file://{CONF_DIR}\n"
    )

    def run(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
            return compose(config_name="model", overrides=list(overrides))

    yield run
    GlobalHydra.instance().clear()


@pytest.mark.parametrize("option", ARCH_OPTIONS)
def test_every_arch_option_composes_and_builds(option, compose_model, small_input):
    cfg = compose_model(f"arch={option}")
    assert cfg.arch.name == option  # the name equals the option (run directories use it)
    names = ["tag"] if option == "ss_r" else ["tag", "bpm"]
    net = build_network(arch=cfg.arch, trunk=cfg.trunk, sources=sources_dict(names))
    assert net.arch_name == option and net.trunk_name == "vgg"
    assert net(small_input(), source="tag").shape == (3, 50)


def test_shared_layers_per_option(arch_cfgs, trunk_cfgs):
    expected = {
        "mss_cr": (),
        "ms_cr@2": ("conv1",),
        "ms_cr@4": ("conv1", "conv2", "conv3"),
        "ms_cr@6": ("conv1", "conv2", "conv3", "conv4", "conv5"),
        "ms_sr@fc": ("conv1", "conv2", "conv3", "conv4", "conv5", "conv61", "conv62", "fc_feature"),
    }
    for option, shared in expected.items():
        net = build_network(arch=arch_cfgs[option], trunk=trunk_cfgs["vgg"], sources=sources_dict(["tag", "bpm"]))
        assert net.shared_slots == shared, option


def test_trunk_option_composes(compose_model):
    cfg = compose_model("arch=ms_cr@6", "trunk=musically_motivated")
    net = build_network(arch=cfg.arch, trunk=cfg.trunk, sources=sources_dict(["tag", "bpm"]))
    assert net.shared_slots == ("conv1", "conv2", "conv3", "conv4", "conv5")
    assert list(dict(net.shared.named_children())) == ["front", "conv3", "conv4", "conv5"]


def test_unknown_arch_option_is_caught_by_hydra(compose_model):
    with pytest.raises(Exception, match="ms_cr@3"):
        compose_model("arch=ms_cr@3")


def test_ms_cr2_with_musically_motivated_trunk_is_impossible(arch_cfgs, trunk_cfgs):
    with pytest.raises(ConfigError) as err:
        build_network(arch=arch_cfgs["ms_cr@2"], trunk=trunk_cfgs["musically_motivated"], sources=sources_dict(["tag", "bpm"]))
    message = str(err.value)
    assert "ms_cr@2" in message and "conv1–conv2" in message and "'front'" in message
    for works in ("mss_cr", "ms_cr@4", "ms_cr@6", "ms_sr@fc", "trunk=vgg"):
        assert works in message


def test_ss_r_needs_exactly_one_source(arch_cfgs, trunk_cfgs):
    with pytest.raises(ConfigError, match=r"exactly one source.*ms_cr@4"):
        build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["tag", "bpm"]))


@pytest.mark.parametrize("option", ["mss_cr", "ms_cr@2", "ms_cr@4", "ms_cr@6", "ms_sr@fc"])
def test_multi_source_strategies_need_two_sources(option, arch_cfgs, trunk_cfgs):
    with pytest.raises(ConfigError, match="arch=ss_r"):
        build_network(arch=arch_cfgs[option], trunk=trunk_cfgs["vgg"], sources={"tag": 50})


def test_no_source(arch_cfgs, trunk_cfgs):
    with pytest.raises(ConfigError, match="no learning source"):
        build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs["vgg"], sources={})


def test_inconsistent_arch_configs(arch_cfgs, trunk_cfgs):
    trunk, two = trunk_cfgs["vgg"], sources_dict(["tag", "bpm"])
    arch = dict(arch_cfgs["ms_cr@4"])
    with pytest.raises(ConfigError, match="strategy='ms_xx' is unknown"):
        build_network(arch={**arch, "strategy": "ms_xx"}, trunk=trunk, sources=two)
    with pytest.raises(ConfigError, match="branch_at='conv4' disagrees"):
        build_network(arch={**arch, "shared_blocks": 4}, trunk=trunk, sources=two)
    with pytest.raises(ConfigError, match="outside 0..8"):
        build_network(arch={**arch, "shared_blocks": 9, "branch_at": None}, trunk=trunk, sources=two)
    with pytest.raises(ConfigError, match="must be an integer"):
        build_network(arch={**arch, "shared_blocks": "some"}, trunk=trunk, sources=two)
    with pytest.raises(ConfigError, match="strategy=ms_cr needs shared_blocks=1..7"):
        build_network(arch={**arch, "shared_blocks": 0, "branch_at": None}, trunk=trunk, sources=two)
    with pytest.raises(ConfigError, match="representation='shared' does not fit"):
        build_network(arch={**arch, "representation": "shared"}, trunk=trunk, sources=two)
    # a custom branch point is one override away when branch_at follows (or is dropped)
    net = build_network(arch={**arch, "shared_blocks": 4, "branch_at": "conv5"}, trunk=trunk, sources=two)
    assert net.shared_slots == ("conv1", "conv2", "conv3", "conv4")


def test_bad_sources(arch_cfgs, trunk_cfgs):
    arch, trunk = arch_cfgs["ms_cr@4"], trunk_cfgs["vgg"]
    with pytest.raises(SourceError, match="k=0"):
        build_network(arch=arch, trunk=trunk, sources={"tag": 0, "bpm": 50})
    with pytest.raises(SourceError, match="'a.b'"):
        build_network(arch=arch, trunk=trunk, sources={"a.b": 50, "bpm": 50})


def test_bad_trunk_configs(arch_cfgs, trunk_cfgs):
    arch, two = arch_cfgs["ms_cr@4"], sources_dict(["tag", "bpm"])
    vgg = dict(trunk_cfgs["vgg"])
    blocks = [dict(b) for b in vgg["blocks"]]
    with pytest.raises(ConfigError, match=r"blocks\[0\].kernel=\[4, 5\] has an even side"):
        build_network(arch=arch, trunk={**vgg, "blocks": [{**blocks[0], "kernel": [4, 5]}, *blocks[1:]]}, sources=two)
    with pytest.raises(ConfigError, match="type='lstm' is unknown"):
        build_network(arch=arch, trunk={**vgg, "blocks": [{**blocks[0], "type": "lstm"}, *blocks[1:]]}, sources=two)
    no_channels = {k: v for k, v in blocks[0].items() if k != "out_channels"}
    with pytest.raises(ConfigError, match="has no 'out_channels'"):
        build_network(arch=arch, trunk={**vgg, "blocks": [no_channels, *blocks[1:]]}, sources=two)
    with pytest.raises(ConfigError, match="repeats block names"):
        build_network(arch=arch, trunk={**vgg, "blocks": [blocks[0], blocks[0], *blocks[2:]]}, sources=two)
    mm = dict(trunk_cfgs["musically_motivated"])
    front, rest = dict(mm["blocks"][0]), list(mm["blocks"][1:])
    even_length = {**front, "temporal": {"lengths": [44], "filters": 8}}
    with pytest.raises(ConfigError, match="positive odd frame counts"):
        build_network(arch=arch, trunk={**mm, "blocks": [even_length, *rest]}, sources=two)
    too_tall = {**front, "timbre": {"heights": [1.5], "filters": 8}}
    with pytest.raises(ConfigError, match=r"fractions of the mel bands"):
        build_network(arch=arch, trunk={**mm, "blocks": [too_tall, *rest]}, sources=two)


def test_input_too_small_for_trunk(arch_cfgs, trunk_cfgs):
    with pytest.raises(ConfigError, match=r"8 frames × 128 mel bands shrinks .* after block 'conv3'"):
        build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["tag", "bpm"]), crop_frames=8)


def test_bad_calls_name_the_problem(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["self", "tag"]))
    with pytest.raises(SourceError, match="'year' is not a learning source"):
        net(small_input(), source="year")
    with pytest.raises(SourceError, match="forward_self"):
        net(small_input(), source="self")
    with pytest.raises(SourceError, match="forward_self"):
        net.forward_all(small_input(), sources=["tag", "self"])
    with pytest.raises(DataError, match="duplicate a mono channel"):
        net(small_input()[:, :1], source="tag")
    with pytest.raises(DataError, match="equally sized"):
        net.forward_self(small_input(frames=64), small_input(frames=72))
    assert issubclass(DataError, MtlMusicError)


def test_dropout_override(arch_cfgs, trunk_cfgs):
    net = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["vgg"], sources={"tag": 50}, dropout=0.2)
    assert net.shared.fc_feature.dropout.p == 0.2
