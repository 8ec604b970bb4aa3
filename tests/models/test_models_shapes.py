"""Layer shapes of Table 3, every strategy's outputs and representation, the self head,
and the execution modes (channels_last, bf16 autocast, SyncBatchNorm)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mtl_music.models import build_network
from mtl_music.models.blocks import ConvBlock

from tests.helpers.models import LABELLED, sources_dict

D = 256


def test_table3_layer_shapes(arch_cfgs, trunk_cfgs):
    net = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["vgg"], sources={"tag": 50}).eval()
    x = torch.randn(2, 2, 216, 128)
    blocks = dict(net.shared.named_children())
    assert list(blocks) == ["conv1", "conv2", "conv3", "conv4", "conv5", "conv61", "conv62", "fc_feature"]

    # conv1: 5×5, stride 2 on time, "same" padding -> 16×108×128; pool -> 16×54×64
    conv1 = blocks["conv1"]
    assert conv1.conv.kernel_size == (5, 5) and conv1.conv.stride == (2, 1)
    assert conv1.conv(x).shape[1:] == (16, 108, 128)
    h = conv1(x)
    assert h.shape[1:] == (16, 54, 64)
    # (block, conv output, block output) per Table 3 row; floor pooling 27 -> 13, 13 -> 6
    expected = [
        ("conv2", (32, 54, 64), (32, 27, 32)),
        ("conv3", (64, 27, 32), (64, 13, 16)),
        ("conv4", (64, 13, 16), (64, 6, 8)),
        ("conv5", (128, 6, 8), (128, 3, 4)),
        ("conv61", (256, 3, 4), (256, 3, 4)),
        ("conv62", (256, 3, 4), (256, 3, 4)),
    ]
    for name, conv_shape, out_shape in expected:
        block = blocks[name]
        assert isinstance(block, ConvBlock)
        assert block.conv(h).shape[1:] == conv_shape, name
        h = block(h)
        assert h.shape[1:] == out_shape, name
    assert blocks["conv61"].conv.kernel_size == (3, 3) and blocks["conv62"].conv.kernel_size == (1, 1)
    feature = blocks["fc_feature"](h)
    assert feature.shape == (2, D)
    assert net(x, source="tag").shape == (2, 50)
    # every block is conv -> BN -> ReLU (-> pool)
    for name, _, _ in expected:
        assert isinstance(blocks[name].bn, nn.BatchNorm2d) and isinstance(blocks[name].act, nn.ReLU)
    assert isinstance(blocks["fc_feature"].bn, nn.BatchNorm1d)
    assert blocks["fc_feature"].dropout.p == 0.5


def test_musically_motivated_front_end_replaces_conv1_conv2(arch_cfgs, trunk_cfgs):
    vgg = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["vgg"], sources={"tag": 50}).eval()
    mm = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["musically_motivated"], sources={"tag": 50}).eval()
    x = torch.randn(2, 2, 216, 128)
    front = mm.shared.front
    assert front(x).shape == vgg.shared.conv2(vgg.shared.conv1(x)).shape == (2, 32, 27, 32)
    # vertical (timbre) filters span mel bands at one frame: kernel (time 1, mel h)
    assert [b.conv.kernel_size for b in front.timbre] == [(1, 115), (1, 51)]
    # horizontal (temporal) filters span frames in one band: kernel (time n, mel 1)
    assert [b.conv.kernel_size for b in front.temporal] == [(43, 1), (21, 1)]
    # everything after the front end is the paper's
    assert list(dict(mm.shared.named_children()))[1:] == list(dict(vgg.shared.named_children()))[2:]
    assert mm(x, source="tag").shape == (2, 50)
    assert mm.representation(x).shape == (2, D)


# (arch option, number of sources) -> representation width in units of d
CASES = [
    ("ss_r", 1, 1),
    ("mss_cr", 2, 2),
    ("ms_cr@2", 2, 2),
    ("ms_cr@4", 2, 2),
    ("ms_cr@6", 2, 2),
    ("ms_sr@fc", 2, 1),
    ("mss_cr", 8, 8),
    ("ms_cr@2", 8, 8),
    ("ms_cr@4", 8, 8),
    ("ms_cr@6", 8, 8),
    ("ms_sr@fc", 8, 1),
]


@pytest.mark.parametrize(("option", "m", "width"), CASES)
def test_strategy_shapes(option, m, width, arch_cfgs, trunk_cfgs, small_input):
    names = ("self", *LABELLED)[:m] if m == 8 else LABELLED[:m]
    ks = {name: 10 + i for i, name in enumerate(names)}  # distinct k per source
    net = build_network(arch=arch_cfgs[option], trunk=trunk_cfgs["vgg"], sources=ks)
    x = small_input(batch=2)
    assert net.source_names == tuple(names)
    assert net.representation_dim == width * D
    for name in names:
        if name == "self":
            assert net.forward_self(x, small_input(batch=2, seed=1)).shape == (2, 2)
        else:
            assert net(x, source=name).shape == (2, ks[name])
    net.eval()
    assert net.representation(x).shape == (2, width * D)
    features = net.branch_features(x)
    assert list(features) == list(names) and all(f.shape == (2, D) for f in features.values())


def test_representation_concatenates_branches_in_source_order(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["tag", "bpm", "year"])).eval()
    x = small_input()
    features = net.branch_features(x)
    torch.testing.assert_close(net.representation(x), torch.cat([features[s] for s in ("tag", "bpm", "year")], dim=1))


def test_ms_sr_representation_is_the_shared_feature(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_sr@fc"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["tag", "bpm"])).eval()
    x = small_input()
    features = net.branch_features(x)
    torch.testing.assert_close(features["tag"], features["bpm"])
    torch.testing.assert_close(net.representation(x), features["tag"])
    assert sum(p.numel() for p in net.branches.parameters()) == 0


@pytest.mark.parametrize("option", ["mss_cr", "ms_cr@2", "ms_cr@4", "ms_cr@6", "ms_sr@fc"])
def test_forward_all_equals_per_source_forward(option, arch_cfgs, trunk_cfgs, small_input):
    names = ["tag", "bpm", "year"]
    net = build_network(arch=arch_cfgs[option], trunk=trunk_cfgs["vgg"], sources=sources_dict(["self", *names])).eval()
    x = small_input()
    together = net.forward_all(x, sources=names)
    assert list(together) == names
    for name in names:
        torch.testing.assert_close(together[name], net(x, source=name))


def test_self_head_is_siamese(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_cr@6"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["self", "tag"])).eval()
    left, right = small_input(seed=1), small_input(seed=2)
    logits = net.forward_self(left, right)
    assert logits.shape == (3, 2)
    # both crops run through the same self branch: the head sees [f(left), f(right)]
    f_left = net.branches["self"](net.shared(left))
    f_right = net.branches["self"](net.shared(right))
    torch.testing.assert_close(logits, net.heads["self"](f_left, f_right))
    # ... and the head is order-sensitive only through its own weights, not the branch
    torch.testing.assert_close(net.forward_self(right, left), net.heads["self"](f_right, f_left))
    head = net.heads["self"]
    assert (head.fc1.in_features, head.fc1.out_features, head.fc2.out_features) == (2 * D, 32, 2)


def test_self_only_ss_r(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ss_r"], trunk=trunk_cfgs["vgg"], sources={"self": None})
    assert net.forward_self(small_input(), small_input(seed=3)).shape == (3, 2)
    assert net.eval().representation(small_input()).shape == (3, D)


def test_channels_last_matches_default_layout(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["tag", "bpm"])).eval()
    x = small_input()
    reference = net(x, source="bpm")
    net = net.to(memory_format=torch.channels_last)
    out = net(x.contiguous(memory_format=torch.channels_last), source="bpm")
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("trunk", ["vgg", "musically_motivated"])
def test_bf16_autocast_forward_and_backward(trunk, arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_cr@4"], trunk=trunk_cfgs[trunk], sources=sources_dict(["self", "tag"]))
    x = small_input(frames=216, mels=128)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = net(x, source="tag")
        same = net.forward_self(x, small_input(frames=216, mels=128, seed=4))
    assert logits.dtype == torch.bfloat16 and logits.shape == (3, 50) and same.shape == (3, 2)
    (logits.float().sum() + same.float().sum()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.source_parameters("tag"))


def test_sync_batchnorm_conversion(arch_cfgs, trunk_cfgs, small_input):
    net = build_network(arch=arch_cfgs["ms_cr@2"], trunk=trunk_cfgs["vgg"], sources=sources_dict(["self", "tag", "bpm"]))
    n_before = sum(p.numel() for p in net.source_parameters("tag"))
    net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert any(isinstance(m, nn.SyncBatchNorm) for m in net.modules())
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in net.modules())
    # without a process group SyncBatchNorm computes plain batch statistics
    x = small_input()
    assert net(x, source="tag").shape == (3, 50)
    assert net.forward_self(x, small_input(seed=5)).shape == (3, 2)
    # source_parameters looks modules up afresh: it sees the converted BN layers
    params = net.source_parameters("tag")
    assert sum(p.numel() for p in params) == n_before
    bn_ids = {id(p) for m in net.modules() if isinstance(m, nn.SyncBatchNorm) for p in m.parameters()}
    assert bn_ids & {id(p) for p in params}


@pytest.mark.parametrize("trunk", ["vgg", "musically_motivated"])
@pytest.mark.parametrize(("frames", "mels"), [(216, 128), (100, 96), (71, 61)])
def test_shape_arithmetic_matches_the_modules(trunk, frames, mels, trunk_cfgs):
    # The builder checks input sizes with BlockSpec.output_shape; it must agree with PyTorch.
    from mtl_music.models.trunks import trunk_block_specs

    specs = trunk_block_specs(trunk_cfgs[trunk], in_channels=2, n_mels=mels)
    x = torch.randn(2, 2, frames, mels)
    shape = (2, frames, mels)
    for spec in specs:
        module = spec.build().eval()
        x = module(x)
        shape = spec.output_shape(shape)
        assert tuple(x.shape[1:]) == shape, (spec.name, frames, mels)
