"""The transfer protocol end to end: features (2·d·m), probes on a tiny target, the callback
after a fast_dev_run training, the evaluate and embed command lines."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers.region_target import SR, tone, write_region_target
from tests.helpers.tiny_dataset import tiny_train_overrides


@pytest.fixture(scope="module")
def region_root(tiny_root) -> Path:
    root = tiny_root / "demo_region"
    if not root.exists():
        write_region_target(root)
    return tiny_root


def _module(arch: str = "ms_cr@4", sources=("tag", "bpm")):
    from mtl_music.config import compose
    from mtl_music.training import MultiSourceModule

    cfg = compose("train", [f"arch={arch}"])
    return MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={s: 3 for s in sources},
                             frontend=dict(cfg.frontend), optim=dict(cfg.optim))


def _target(data_root: Path) -> dict:
    from mtl_music.config import compose
    from mtl_music.evaluate import selected_targets

    return selected_targets(compose("evaluate", [f"paths.data_root={data_root}", "target=[demo_region]"]))


def test_features_are_mean_and_std_over_slices_of_every_branch(region_root):
    from mtl_music.evaluation.transfer import network_representation
    from mtl_music.targets import load_target

    module = _module()
    index = load_target(_target(region_root)["demo_region"])
    rep = network_representation(module, run="r", digest="test-shape", num_workers=0)
    tracks = [(t.track_id, t.path, t.split) for t in index.tracks]
    ids, X = rep.features("demo_region", tracks, region_root / "targets" / "demo_region")
    d, m = module.network.feature_dim, 2
    assert X.shape == (len(index.tracks), 2 * d * m) == (12, 1024)
    assert sorted(ids) == sorted(t.track_id for t in index.tracks)
    # the std half is non-negative; two slices per track make it non-zero somewhere
    assert (X[:, d * m:] >= 0).all() and X[:, d * m:].max() > 0
    # cached: a second call reads the same numbers back without a network
    again = rep.features("demo_region", tracks, region_root / "targets" / "demo_region")
    np.testing.assert_array_equal(again[1], X)


def test_summarize_slices_matches_numpy():
    import torch

    from mtl_music.models.embedder import summarize_slices

    x = torch.randn(5, 7)
    out = summarize_slices(x).numpy()
    np.testing.assert_allclose(out, np.concatenate([x.numpy().mean(0), x.numpy().std(0)]), rtol=1e-5, atol=1e-6)


def test_probe_pipeline_on_a_tiny_target(region_root):
    from mtl_music.evaluation.settings import EvaluationSettings
    from mtl_music.evaluation.transfer import evaluate, mfcc_representation

    table = evaluate(mfcc_representation(num_workers=0), dict(_target(region_root)), data_root=region_root,
                     settings=EvaluationSettings(repetitions=3))
    rows = table.rows()
    assert [r["repetition"] for r in rows] == [0, 1, 2]
    assert {(r["run"], r["target"], r["metric"]) for r in rows} == {("mfcc", "demo_region", "accuracy")}
    # low vs high tones: MFCC separates them
    assert np.mean([r["value"] for r in rows]) == 1.0


def test_callback_runs_after_fast_dev_run_training(region_root, tmp_path):
    from mtl_music.config import compose
    from mtl_music.train import run

    cfg = compose("train", [*tiny_train_overrides(region_root), f"paths.output_dir={tmp_path / 'run'}", "trainer.fast_dev_run=true",
                            "source=[tag,bpm]", "arch=ms_cr@4", "source.tag.k=3", "source.bpm.k=3",
                            "target=[demo_region]", "evaluation.repetitions=2", "evaluation.num_workers=0"])
    result = run(cfg)
    with (Path(result.run_dir) / "transfer.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["run"] for r in rows} == {"run", "rand", "mfcc"}
    assert {r["target"] for r in rows} == {"demo_region"} and len(rows) == 3 * 2
    rand = [r for r in rows if r["run"] == "rand"]
    assert {(r["strategy"], r["sources"]) for r in rand} == {("rand", "")}
    ours = [r for r in rows if r["run"] == "run"]
    assert {r["strategy"] for r in ours} == {"ms_cr@4"} and {r["sources"] for r in ours} == {"tag+bpm"}


@pytest.fixture(scope="module")
def checkpoint(region_root, tmp_path_factory) -> Path:
    from mtl_music.config import compose
    from mtl_music.train import run

    run_dir = tmp_path_factory.mktemp("eval_run") / "run"
    cfg = compose("train", [*tiny_train_overrides(region_root), f"paths.output_dir={run_dir}", "epochs=1",
                            "limit_train_steps=1", "validation.batches_per_source=1", "source=[tag]", "arch=ss_r",
                            "source.tag.k=3"])
    return Path(run(cfg).last_checkpoint)


def test_evaluate_cli_on_a_checkpoint_and_a_baseline(region_root, checkpoint, tmp_path):
    from mtl_music import evaluate
    from mtl_music.config import compose

    common = [f"paths.data_root={region_root}", "target=[demo_region]", "evaluation.repetitions=2",
              "evaluation.num_workers=0"]
    table = evaluate.run(compose("evaluate", [*common, f"ckpt={checkpoint.parent.parent}"]))
    assert {r["run"] for r in table.rows()} == {"run"} and len(table) == 2
    assert (checkpoint.parent.parent / "transfer.csv").is_file()
    out = tmp_path / "mfcc.csv"
    evaluate.run(compose("evaluate", [*common, "baseline=mfcc", f"output={out}"]))
    assert {r["run"] for r in csv.DictReader(out.open())} == {"mfcc"}


def write_tagged_folder(root: Path, *, n: int = 10) -> Path:
    """Your own folder: ``n`` 1 s tones in two subfolders and ``tags.csv`` (``path,tags``): each
    tone is ``low`` or ``high``, every third one also ``soft`` — a multi-label target."""
    lines = ["path,tags"]
    for i in range(n):
        low = i % 2 == 0
        path = root / ("low" if low else "high") / f"tone {i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, tone(1.0, (220.0 if low else 1760.0) * (1 + 0.01 * i), seed=i) * (0.3 if i % 3 == 0 else 1), SR)
        lines.append(f"{path.relative_to(root)},{'low' if low else 'high'}{';soft' if i % 3 == 0 else ''}")
    (root / "tags.csv").write_text("\n".join(lines) + "\n")
    return root / "tags.csv"


def test_evaluate_cli_on_your_own_folder(checkpoint, tmp_path):
    from mtl_music import evaluate
    from mtl_music.config import compose
    from mtl_music.errors import DataError

    root = tmp_path / "my music"
    labels = write_tagged_folder(root)
    data_root = tmp_path / "data"
    out = tmp_path / "mine.csv"
    table = evaluate.run(compose("evaluate", [f"ckpt={checkpoint}", "target=folder", f"target.root={root}",
                                              f"target.labels={labels}", f"paths.data_root={data_root}",
                                              "evaluation.repetitions=2", "evaluation.num_workers=0",
                                              f"output={out}"]))
    rows = table.rows()
    assert {(r["target"], r["metric"]) for r in rows} == {("folder", "roc_auc"), ("folder", "pr_auc")}
    assert len(rows) == 2 * 2 and all(0.0 <= r["value"] <= 1.0 for r in rows)
    assert len(list(csv.DictReader(out.open()))) == 4
    # the caches are named after the audio folder, not only the target
    assert [p.name.startswith("folder-my music-") for p in (data_root / "targets").iterdir()] == [True]
    # a target that fails is logged and skipped; none left is an error, not an empty success
    with pytest.raises(DataError, match="no result: the evaluation failed on every target \\(folder\\)"):
        evaluate.run(compose("evaluate", [f"ckpt={checkpoint}", "target=folder", f"target.root={tmp_path / 'nope'}",
                                          f"paths.data_root={data_root}", f"output={out}"]))


def test_target_shorthands_set_the_one_selected_target(tmp_path):
    from mtl_music.config import compose
    from mtl_music.errors import ConfigError
    from mtl_music.evaluate import selected_targets

    targets = selected_targets(compose("evaluate", ["target=folder", f"target.root={tmp_path}",
                                                    "target.task=regression"]))
    assert list(targets) == ["folder"]
    assert (targets["folder"].root, targets["folder"].task) == (str(tmp_path), "regression")
    long = selected_targets(compose("evaluate", ["target=folder", f"target.folder.root={tmp_path}"]))
    assert long["folder"].root == str(tmp_path) and long["folder"].labels is None
    assert list(selected_targets(compose("evaluate", ["target=[folder,gtzan]"]))) == ["folder", "gtzan"]
    with pytest.raises(ConfigError, match=r"2 are selected \(folder, gtzan\); use the long form, e\.g\. "
                                          r"target\.<name>\.root="):
        selected_targets(compose("evaluate", ["target=[folder,gtzan]", f"target.root={tmp_path}"]))
    with pytest.raises(ConfigError, match="target gtzan has no 'labels' option"):
        selected_targets(compose("evaluate", ["target=gtzan", "target.labels=x.csv"]))


def test_evaluate_errors_name_the_fix(region_root, tmp_path):
    from mtl_music import evaluate
    from mtl_music.config import compose
    from mtl_music.errors import ConfigError, DataError

    base = [f"paths.data_root={region_root}", "target=[demo_region]"]
    with pytest.raises(ConfigError, match="ckpt="):
        evaluate.run(compose("evaluate", base))
    with pytest.raises(DataError, match="no such file"):
        evaluate.run(compose("evaluate", [*base, f"ckpt={tmp_path / 'nope.ckpt'}"]))
    with pytest.raises(ConfigError, match="mfcc, rand, choi, external or hear"):
        evaluate.run(compose("evaluate", [*base, "baseline=pca"]))


def test_embed_writes_one_vector_per_file_and_skips_bad_files(region_root, checkpoint, tmp_path):
    from mtl_music import embed
    from mtl_music.config import compose

    audio = tmp_path / "mine"
    (audio / "sub").mkdir(parents=True)
    sf.write(audio / "a.wav", tone(6.0, 440.0, 1), SR)
    sf.write(audio / "sub" / "b.flac", tone(1.0, 880.0, 2), SR)
    (audio / "broken.wav").write_bytes(b"RIFF not really")
    out = tmp_path / "emb.npz"
    embed.run(compose("embed", [f"ckpt={checkpoint}", f"input={audio}", f"output={out}"]))
    with np.load(out) as data:
        assert list(data["ids"]) == ["a", "sub/b"]
        assert data["features"].shape == (2, 2 * 256)
    with pytest.raises(Exception, match="use one of"):
        embed.run(compose("embed", [f"ckpt={checkpoint}", f"input={audio}", f"output={tmp_path / 'x.txt'}"]))
