"""Explanations (paper Fig. 16): stored topic–label matrices, head distributions, strongest
labels, expected bpm, and the vocabularies travelling inside a trained checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mtl_music.sources.base import SourceLabels, SourceReport
from mtl_music.sources.vocabulary import MIXTURE, TOPICS, SourceVocabulary

from tests.helpers.tiny_dataset import tiny_train_overrides


def _plsa_labels(k: int = 3, n_labels: int = 40, seed: int = 0) -> SourceLabels:
    rng = np.random.default_rng(seed)
    phi = rng.dirichlet(np.full(n_labels, 0.3), size=k).astype(np.float32)
    return SourceLabels(name="tag", category="tag", track_ids=np.array(["a"]), z=np.ones((1, k), np.float32) / k,
                        topic_labels=phi, label_names=[f"t{i}" for i in range(n_labels)],
                        report=SourceReport(source="tag"), preprocess="plsa")


def _gmm_labels() -> SourceLabels:
    comps = np.array([[0.3, 80.0, 5.0], [0.4, 120.0, 8.0], [0.3, 160.0, 6.0]], np.float32)
    return SourceLabels(name="bpm", category="bpm", track_ids=np.array(["a"]), z=np.ones((1, 3), np.float32) / 3,
                        topic_labels=comps, label_names=["weight", "mean", "std"],
                        report=SourceReport(source="bpm"), preprocess="gmm")


def test_truncated_vocabulary_keeps_every_topics_strongest_labels_exactly():
    labels = _plsa_labels(k=4, n_labels=300)
    vocab = SourceVocabulary.from_labels(labels, max_labels_per_topic=10)
    assert vocab.kind == TOPICS and vocab.k == 4 and 10 <= len(vocab.label_names) <= 40
    full = np.asarray(labels.topic_labels)
    for j in range(4):
        top = {f"t{i}" for i in np.argsort(-full[j])[:10]}
        assert top <= set(vocab.label_names)
    columns = [int(n[1:]) for n in vocab.label_names]
    np.testing.assert_array_equal(vocab.weights, full[:, columns])
    topics = np.array([0.1, 0.6, 0.2, 0.1])
    np.testing.assert_allclose(vocab.label_scores(topics), topics @ full[:, columns].astype(np.float64))


def test_vocabulary_state_survives_a_weights_only_load(tmp_path):
    vocab = SourceVocabulary.from_labels(_plsa_labels())
    mixture = SourceVocabulary.from_labels(_gmm_labels())
    assert mixture.kind == MIXTURE
    torch.save({"v": [vocab.to_state(), mixture.to_state()]}, tmp_path / "s.pt")
    states = torch.load(tmp_path / "s.pt", weights_only=True)["v"]
    back = [SourceVocabulary.from_state(s) for s in states]
    assert back[0].label_names == vocab.label_names and np.array_equal(back[0].weights, vocab.weights)
    assert back[1].expected_value(np.array([0.0, 1.0, 0.0])) == pytest.approx(120.0)
    assert SourceVocabulary.from_labels(SourceLabels("self", "self", None, None, None, None,
                                                     SourceReport(source="self"))) is None


def _module(sources=("tag", "bpm"), arch: str = "ms_cr@4"):
    from mtl_music.config import compose
    from mtl_music.training import MultiSourceModule

    cfg = compose("train", [f"arch={arch}"])
    torch.manual_seed(0)
    return MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={s: 3 for s in sources},
                             frontend=dict(cfg.frontend), optim=dict(cfg.optim)).eval()


@pytest.mark.parametrize("arch", ["ms_cr@4", "mss_cr", "ms_sr@fc"])
def test_explain_slices_reads_every_head(arch):
    from mtl_music.evaluation.explain import explain_slices

    module = _module(sources=("tag", "bpm", "self"), arch=arch)
    module.set_source_vocabularies({"tag": SourceVocabulary.from_labels(_plsa_labels()),
                                    "bpm": SourceVocabulary.from_labels(_gmm_labels()), "self": None})
    slices = torch.randn(3, 2, 216, 128)
    out = explain_slices(module, slices, top_labels=4, batch_slices=2)
    assert list(out) == ["tag", "bpm"]  # self has no labels
    tag, bpm = out["tag"], out["bpm"]
    assert sum(tag.topics) == pytest.approx(1.0) and len(tag.topics) == 3
    assert len(tag.labels) == 4 and [p for _, p in tag.labels] == sorted((p for _, p in tag.labels), reverse=True)
    assert 80.0 <= bpm.value <= 160.0 and bpm.labels == ()
    # the average over slices of the per-slice head softmax, batched or not
    with torch.no_grad():
        per_slice = torch.softmax(module.head_logits(slices, sources=["tag"])["tag"].double(), 1).mean(0)
    np.testing.assert_allclose(tag.topics, per_slice.numpy(), atol=1e-6)
    assert "tag:" in tag.describe() and "≈" in bpm.describe()


def test_a_checkpoint_without_vocabularies_explains_topics_only():
    from mtl_music.evaluation.explain import explain_slices, missing_vocabularies

    module = _module()
    assert missing_vocabularies(module) == ["tag", "bpm"]
    out = explain_slices(module, torch.randn(1, 2, 216, 128))
    assert out["tag"].labels == () and out["bpm"].value is None
    assert "topics only" in out["tag"].describe()


@pytest.fixture(scope="module")
def tiny_ckpt(tiny_root, tmp_path_factory):
    from mtl_music.config import compose
    from mtl_music.train import run

    run_dir = tmp_path_factory.mktemp("explain") / "run"
    cfg = compose("train", [*tiny_train_overrides(tiny_root), f"paths.output_dir={run_dir}", "epochs=1",
                            "limit_train_steps=1", "validation.batches_per_source=1", "source=[tag,bpm]",
                            "source.tag.k=3", "source.bpm.k=2"])
    return run(cfg).last_checkpoint


def test_training_stores_the_vocabularies_in_the_checkpoint(tiny_ckpt):
    from mtl_music.runs import load_module

    raw = torch.load(tiny_ckpt, weights_only=True, map_location="cpu")
    assert set(raw["source_vocabularies"]) == {"tag", "bpm"}
    module = load_module(tiny_ckpt)
    assert module.source_vocabularies["tag"].kind == TOPICS and module.source_vocabularies["tag"].k == 3
    assert module.source_vocabularies["bpm"].kind == MIXTURE and module.source_vocabularies["bpm"].k == 2


def test_embed_explain_writes_and_prints_each_tracks_reading(tiny_ckpt, tmp_path, capsys):
    import json

    import soundfile as sf

    from mtl_music import embed
    from mtl_music.config import compose

    rng = np.random.default_rng(0)
    audio = tmp_path / "mine"
    audio.mkdir()
    for name, seconds in (("a", 3.0), ("b", 1.0)):
        sf.write(audio / f"{name}.wav", 0.2 * rng.standard_normal((int(seconds * 22050), 2)).astype("f4"), 22050)
    sf.write(audio / "silent.wav", np.zeros((22050, 2), "f4"), 22050)
    out = tmp_path / "emb.npz"
    embed.run(compose("embed", [f"ckpt={tiny_ckpt}", f"input={audio}", f"output={out}", "explain=true",
                                "explain_top=2", "explain_print=1"]))
    payload = json.loads((tmp_path / "emb.explain.json").read_text())
    assert [t["id"] for t in payload["tracks"]] == ["a", "b"]  # the silent file is skipped, as by embed
    tag = payload["tracks"][0]["sources"]["tag"]
    assert len(tag["labels"]) == 2 and sum(tag["topics"]) == pytest.approx(1.0)
    assert payload["tracks"][1]["sources"]["bpm"]["value"] is not None
    printed = capsys.readouterr().out
    assert "    tag: " in printed and "explanations of 2 track(s)" in printed and "first 1 shown" in printed
