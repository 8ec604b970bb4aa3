"""Parameter counts (R4.1, paper Fig. 15) and which parameters a source's step touches."""

from __future__ import annotations

import pytest

from mtl_music.models import build_network, count_parameters, parameter_table
from mtl_music.config import compose
from mtl_music.models.size import format_table
from mtl_music.paper import PAPER_SOURCES
from mtl_music.params import run

from tests.helpers.models import LABELLED, sources_dict

SS_R_VGG = 576_482  # conv/BN blocks + fc-feature 563,632 + fc-output 12,850 (k = 50)


def test_ss_r_count_by_hand(arch_cfgs, trunk_cfgs):
    net = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["vgg"], sources={"tag": 50})
    assert count_parameters(net) == SS_R_VGG
    # BatchNorm running statistics are buffers, not counted
    buffers = sum(b.numel() for name, b in net.named_buffers() if "running" in name)
    assert buffers > 0 and count_parameters(net) == sum(p.numel() for p in net.parameters())
    # by hand, layer by layer: conv weights + bias + BN affine (2 per channel)
    conv = [(2, 16, 5), (16, 32, 3), (32, 64, 3), (64, 64, 3), (64, 128, 3), (128, 256, 3), (256, 256, 1)]
    blocks = sum(i * o * k * k + o + 2 * o for i, o, k in conv)
    fc_feature = 256 * 256 + 256 + 2 * 256
    assert blocks + fc_feature == 563_632
    assert count_parameters(net.heads["tag"]) == 256 * 50 + 50 == 12_850


def test_paper_ratios_with_eight_sources():
    rows = {row.strategy: row for row in parameter_table(PAPER_SOURCES, k=50, trunk="vgg")}
    assert list(rows) == ["ss_r", "mss_cr", "ms_cr@2", "ms_cr@4", "ms_cr@6", "ms_sr@fc"]
    assert rows["ss_r"].n_params == SS_R_VGG
    assert round(rows["ms_sr@fc"].ratio, 2) == 1.16  # paper: ~1.2
    assert round(rows["ms_cr@6"].ratio, 2) == 6.36  # paper: ~6.3
    # less sharing, more parameters (paper Fig. 15)
    counts = [rows[s].n_params for s in ("ms_sr@fc", "ms_cr@6", "ms_cr@4", "ms_cr@2", "mss_cr")]
    assert counts == sorted(counts)


def test_self_head_parameters(arch_cfgs, trunk_cfgs):
    net = build_network(arch=arch_cfgs["ms_sr@fc"], trunk=trunk_cfgs["vgg"], sources=sources_dict(PAPER_SOURCES))
    assert count_parameters(net.heads["self"]) == 512 * 32 + 32 + 32 * 2 + 2 == 16_482
    assert count_parameters(net) == 563_632 + 7 * 12_850 + 16_482


def test_musically_motivated_counts(arch_cfgs, trunk_cfgs):
    net = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["musically_motivated"], sources={"tag": 50})
    # front end: per branch conv (2·kernel·8 + 8) + BN (2·8); heights 115, 51; lengths 43, 21
    front = sum(2 * n * 8 + 8 + 16 for n in (115, 51, 43, 21))
    assert count_parameters(net.shared.front) == front == 3_776
    conv1_conv2 = (2 * 16 * 25 + 16 + 32) + (16 * 32 * 9 + 32 + 64)
    assert count_parameters(net) == SS_R_VGG - conv1_conv2 + front == 574_706
    rows = {row.strategy: row for row in parameter_table(PAPER_SOURCES, trunk="musically_motivated")}
    assert rows["ss_r"].n_params == 574_706
    assert rows["ms_cr@2"].n_params is None and rows["ms_cr@2"].ratio is None  # impossible
    assert round(rows["ms_sr@fc"].ratio, 2) == 1.16
    assert round(rows["ms_cr@6"].ratio, 2) == 6.38


def test_params_entry_point_prints_both_trunks():
    out = run(compose("params"))
    assert "trunk=vgg" in out and "trunk=musically_motivated" in out
    assert "576,482" in out and "6.36" in out and "impossible" in out
    assert "ms_sr@fc" in format_table(parameter_table(["tag", "bpm"]), title="t")


@pytest.mark.parametrize("option", ["mss_cr", "ms_cr@2", "ms_cr@4", "ms_cr@6", "ms_sr@fc"])
def test_source_parameters_partition(option, arch_cfgs, trunk_cfgs):
    net = build_network(arch=arch_cfgs[option], trunk=trunk_cfgs["vgg"], sources=sources_dict(PAPER_SOURCES))
    shared = {id(p) for p in net.shared_parameters()}
    per_source = {s: {id(p) for p in net.source_parameters(s)} for s in PAPER_SOURCES}
    for a in PAPER_SOURCES:
        assert shared <= per_source[a]
        for b in PAPER_SOURCES:
            if a != b:
                assert per_source[a] & per_source[b] == shared
    assert set().union(*per_source.values()) == {id(p) for p in net.parameters()}
    assert (len(shared) == 0) == (option == "mss_cr")


@pytest.mark.parametrize("option", ["ms_cr@4", "ms_sr@fc"])
def test_a_step_touches_only_its_source(option, arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs[option], trunk=trunk_cfgs["vgg"], sources=sources_dict(["self", "tag", "bpm"]))
    net(small_input(), source="tag").logsumexp(dim=1).sum().backward()
    touched = {id(p) for p in net.source_parameters("tag")}
    for p in net.parameters():
        assert (p.grad is not None) == (id(p) in touched)
    net.zero_grad(set_to_none=True)
    net.forward_self(small_input(), small_input(seed=1)).sum().backward()
    touched = {id(p) for p in net.source_parameters("self")}
    assert all((p.grad is not None) == (id(p) in touched) for p in net.parameters())


def test_eight_source_networks_have_every_branch(arch_cfgs, trunk_cfgs):
    # DDP registers a fixed parameter set: every branch and head exists from the start.
    net = build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs["vgg"], sources=sources_dict(PAPER_SOURCES))
    assert set(net.branches) == set(net.heads) == set(PAPER_SOURCES)
    assert all(count_parameters(net.branches[s]) > 0 for s in PAPER_SOURCES)
    assert set(LABELLED) < set(net.heads)
