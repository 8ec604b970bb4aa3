"""Layer-wise features (``evaluation.layers``): every block's pooled output per slice, per-layer
track / slice / deformed-audio caches, one results row per layer, and the Choi baseline."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from mtl_music.errors import ConfigError
from mtl_music.evaluation.layers import layer_names, layer_vectors, pool_map, select_layers, track_seed
from mtl_music.evaluation.settings import EvaluationSettings
from tests.helpers.region_target import write_region_target
from tests.helpers.tiny_dataset import tiny_train_overrides

VGG = {"conv1": 16, "conv2": 32, "conv3": 64, "conv4": 64, "conv5": 128, "conv61": 256, "conv62": 256}
MUSICAL = {"front": 32, **{k: v for k, v in VGG.items() if k not in ("conv1", "conv2")}}


@pytest.fixture(scope="module")
def region_root(tiny_root) -> Path:
    root = tiny_root / "demo_region"
    if not root.exists():
        write_region_target(root)
    return tiny_root


def _module(arch: str = "ms_cr@4", sources=("tag", "bpm"), trunk: str = "vgg", seed: int = 0):
    from mtl_music.config import compose
    from mtl_music.training import MultiSourceModule

    cfg = compose("train", [f"arch={arch}", f"trunk={trunk}"])
    torch.manual_seed(seed)
    return MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={s: 3 for s in sources},
                             frontend=dict(cfg.frontend), optim=dict(cfg.optim)).eval()


def _tracks(region_root: Path):
    from mtl_music.config import compose
    from mtl_music.evaluate import selected_targets
    from mtl_music.targets import load_target

    cfg = selected_targets(compose("evaluate", [f"paths.data_root={region_root}", "target=[demo_region]"]))
    return [(t.track_id, t.path, t.split) for t in load_target(cfg["demo_region"]).tracks]


@pytest.mark.parametrize("trunk, arch, sources, shared", [
    ("vgg", "ss_r", ("tag",), 8), ("vgg", "ms_cr@4", ("tag", "bpm"), 3), ("vgg", "mss_cr", ("tag", "bpm"), 0),
    ("musically_motivated", "ms_cr@4", ("tag", "bpm"), 2),
])
def test_layer_vectors_per_block_and_branch(trunk, arch, sources, shared):
    module = _module(arch, sources, trunk)
    channels = VGG if trunk == "vgg" else MUSICAL
    names = layer_names(module)
    assert names == (*channels, "fc_feature")
    x = torch.randn(3, 2, 64, 64, generator=torch.Generator().manual_seed(0))
    out = layer_vectors(module, x, layers=select_layers(module, "all"))
    assert list(out) == list(names)
    for i, name in enumerate(names):  # a block after the branch point: once per source
        per_source = 1 if i < shared else len(sources)
        width = 256 if name == "fc_feature" else 2 * channels[name]
        assert out[name].shape == (3, width * per_source), name
    # the fc-feature alone is the representation, exactly
    torch.testing.assert_close(layer_vectors(module, x, layers=["fc_feature"])["fc_feature"],
                               module.representation(x), rtol=0, atol=0)
    if arch == "ms_cr@4":  # a branch block: sources concatenated in source_names order
        trunk_out = module.network.shared(x)
        expected = torch.cat([pool_map(module.network.branches[s].conv4(trunk_out)) for s in sources], dim=1)
        torch.testing.assert_close(out["conv4"], expected)
        c = channels["conv4"]
        flat = module.network.branches[sources[0]].conv4(trunk_out).flatten(2)
        torch.testing.assert_close(out["conv4"][:, :c], flat.mean(2))
        torch.testing.assert_close(out["conv4"][:, c:2 * c], flat.std(2, unbiased=False))


def test_unknown_layer_lists_the_network_layers():
    from mtl_music.evaluation.transfer import network_representations

    module = _module("ss_r", ("tag",))
    with pytest.raises(ConfigError, match=r"'conv9'.*its layers are conv1, conv2, .*conv62, fc_feature"):
        select_layers(module, ["conv3", "conv9"])
    with pytest.raises(ConfigError, match="evaluation.layers names 'front'"):
        network_representations(module, run="r", digest="x", settings=EvaluationSettings(layers=("front",)))


def test_track_slice_and_deformed_features_per_layer(region_root, tmp_path, monkeypatch):
    from mtl_music.evaluation import features as features_module
    from mtl_music.evaluation.transfer import network_representation, network_representations

    module = _module("ms_cr@4", ("tag", "bpm"), seed=1)
    tracks = _tracks(region_root)
    root = tmp_path / "demo_region"
    passes = []
    extract = features_module.extract_layer_features
    monkeypatch.setattr(features_module, "extract_layer_features",
                        lambda **kw: passes.append(kw["per_slice"]) or extract(**kw))
    per_layer = network_representations(module, run="r", digest="lay", settings=EvaluationSettings(
        layers=("conv3", "conv62", "fc_feature"), layer_mode="per_layer", num_workers=0))
    assert [r.layer for r in per_layer] == ["conv3", "conv62", "fc_feature"]
    ids, conv3 = per_layer[0].features("demo_region", tracks, root)
    assert passes == [False]                                      # one pass for every layer of the selection
    layered = {r.layer: r.features("demo_region", tracks, root) for r in per_layer}
    assert passes == [False] and conv3.shape == (12, 2 * 2 * 64)
    assert layered["conv62"][1].shape == (12, 2 * 2 * 2 * 256) and layered["fc_feature"][1].shape == (12, 2 * 512)
    assert sorted(p.name for p in (root / "features").glob("*.npz")) == sorted(
        f"lay-{module_key(module)}-{name}.npz" for name in ("conv3", "conv62", "fc_feature"))
    # concat is the per-layer vectors side by side, read from the same caches
    concat, = network_representations(module, run="r", digest="lay", settings=EvaluationSettings(
        layers=("conv3", "conv62", "fc_feature"), num_workers=0))
    assert concat.layer == "conv3+conv62+fc_feature"
    c_ids, X = concat.features("demo_region", tracks, root)
    assert c_ids == ids and passes == [False]
    np.testing.assert_array_equal(X, np.hstack([layered[n][1] for n in ("conv3", "conv62", "fc_feature")]))
    # [fc_feature] is the default representation (its own, unchanged cache name)
    d_ids, default = network_representation(module, run="r", digest="lay", num_workers=0).features(
        "demo_region", tracks, root)
    assert d_ids == ids and (root / "features" / f"lay-{module_key(module)}.npz").is_file() and len(passes) == 2
    np.testing.assert_array_equal(default, layered["fc_feature"][1])

    # slice-level: rows per track at the offsets, their mean the first half of the track vector
    s_ids, S, offsets = concat.slices("demo_region", tracks, root)
    assert passes == [False, False, True] and s_ids == ids
    assert offsets.dtype == np.int64 and offsets[0] == 0 and offsets[-1] == len(S) == 24
    assert (np.diff(offsets) == 2).all() and S.shape[1] * 2 == X.shape[1]
    for rep in per_layer:  # the concat's slices are the layers' slices side by side
        l_ids, L, l_offsets = rep.slices("demo_region", tracks, root)
        assert l_ids == ids and (l_offsets == offsets).all() and len(passes) == 3
        width = L.shape[1]
        means = np.stack([L[a:b].mean(0) for a, b in zip(offsets[:-1], offsets[1:])])
        np.testing.assert_allclose(means, layered[rep.layer][1][:, :width], rtol=1e-5, atol=1e-5)
    assert per_layer[0].slices("demo_region", tracks, root)[1].shape == (24, 2 * 64)

    # deformed audio: an identity deformation gives the clean vectors up to the mel cache's fp16 rounding
    identity = FakeDeformation()
    x_ids, D = concat.deformed("demo_region", tracks[:5], root, identity)
    assert x_ids == [t[0] for t in tracks[:5]] and D.shape == (5, X.shape[1])
    row = {t: i for i, t in enumerate(ids)}
    np.testing.assert_allclose(D, X[[row[t] for t in x_ids]], rtol=0.02, atol=0.02)
    assert identity.seeds == [track_seed(t[0]) for t in tracks[:5]]       # stable per track
    assert (root / "features" / f"lay-{module_key(module)}-conv3-same.npz").is_file()
    # cached: no decoding the second time
    identity.seeds.clear()
    np.testing.assert_array_equal(per_layer[1].deformed("demo_region", tracks[:5], root, identity)[1],
                                  D[:, 2 * 2 * 64:2 * 2 * 64 + 2 * 2 * 2 * 256])
    assert identity.seeds == [] and len(passes) == 3


def module_key(module) -> str:
    from mtl_music.audio.mel import mel_settings_from_cfg

    return mel_settings_from_cfg(module.hparams["frontend"]).key()


class FakeDeformation:
    """The interface of ``mtl_music.audio.deform``'s deformations, changing nothing."""

    name = "same"
    key = "same"

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def apply(self, audio: np.ndarray, *, sample_rate: int, seed: int) -> np.ndarray:
        assert audio.shape[0] == 2 and sample_rate == 22050
        self.seeds.append(seed)
        return audio


@pytest.fixture(scope="module")
def checkpoint(region_root, tmp_path_factory) -> Path:
    from mtl_music.config import compose
    from mtl_music.train import run

    run_dir = tmp_path_factory.mktemp("layers_run") / "run"
    cfg = compose("train", [*tiny_train_overrides(region_root), f"paths.output_dir={run_dir}", "epochs=1",
                            "limit_train_steps=1", "validation.batches_per_source=1", "source=[tag]", "arch=ss_r",
                            "source.tag.k=3"])
    return Path(run(cfg).last_checkpoint)


def test_evaluate_per_layer_rows_and_the_choi_baseline(region_root, checkpoint, tmp_path, monkeypatch):
    from mtl_music import evaluate
    from mtl_music.config import compose
    from mtl_music.evaluation import features as features_module

    data_root = tmp_path / "data"
    data_root.mkdir()
    (data_root / "demo_region").symlink_to(region_root / "demo_region")
    common = [f"paths.data_root={data_root}", "target=[demo_region]", "evaluation.repetitions=1",
              "evaluation.num_workers=0", f"ckpt={checkpoint}"]
    out = tmp_path / "layers.csv"
    table = evaluate.run(compose("evaluate", [*common, "evaluation.layers=all", "evaluation.layer_mode=per_layer",
                                              f"output={out}"]))
    layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "conv61", "conv62", "fc_feature"]
    rows = list(csv.DictReader(out.open()))
    assert [r["layer"] for r in rows] == layers and len(table) == 8
    assert {(r["run"], r["strategy"], r["target"]) for r in rows} == {("run", "ss_r", "demo_region")}
    passes = []
    extract = features_module.extract_layer_features
    monkeypatch.setattr(features_module, "extract_layer_features", lambda **kw: passes.append(1) or extract(**kw))
    choi = evaluate.run(compose("evaluate", [*common, "baseline=choi", f"output={tmp_path / 'choi.csv'}"])).rows()
    assert [(r["run"], r["strategy"], r["sources"], r["layer"]) for r in choi] == [("choi", "choi", "", "")]
    assert passes == []                        # the conv layers' caches of the per-layer run
    rand = evaluate.run(compose("evaluate", [*common, "baseline=choi", "evaluation.choi.weights=rand",
                                             f"output={tmp_path / 'rand.csv'}"])).rows()
    assert [(r["run"], r["strategy"]) for r in rand] == [("choi-rand", "choi")] and passes == [1]
    with pytest.raises(ConfigError, match="ckpt=.*choi"):
        evaluate.run(compose("evaluate", [*common[:-1], "baseline=choi"]))


def test_choi_needs_a_network():
    from mtl_music.evaluation.transfer import BASELINES, baseline_representation

    assert "choi" in BASELINES
    with pytest.raises(ConfigError, match="the choi baseline takes its network from a checkpoint: pass ckpt="):
        baseline_representation("choi", settings=EvaluationSettings())
    rep = baseline_representation("choi", settings=EvaluationSettings(), module=_module("ss_r", ("tag",)))
    assert (rep.run, rep.strategy, tuple(rep.sources)) == ("choi", "choi", ())
