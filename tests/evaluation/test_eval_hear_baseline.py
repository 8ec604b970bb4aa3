"""``baseline=hear``: any HEAR-API module as a representation (mtl_music.evaluation.hear_baseline),
through the evaluate command line, its feature cache, and against the native path for our own
HEAR module (mtl_music.hear)."""

from __future__ import annotations

import csv
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.helpers import hear_toy
from tests.helpers.region_target import write_region_target

REPO = Path(__file__).resolve().parents[2]
TOY = "tests.helpers.hear_toy"


def _scene_calls() -> list[tuple[int, int]]:
    return [shape for what, shape in hear_toy.CALLS if what == "get_scene_embeddings"]


@pytest.fixture(scope="module")
def region_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hear_data")
    write_region_target(root / "demo_region")
    return root


def _targets(data_root: Path) -> dict:
    from mtl_music.config import compose
    from mtl_music.evaluate import selected_targets

    return selected_targets(compose("evaluate", [f"paths.data_root={data_root}", "target=[demo_region]"]))


def _tracks(data_root: Path) -> list:
    from mtl_music.targets import load_target

    return [(t.track_id, t.path, t.split) for t in load_target(_targets(data_root)["demo_region"]).tracks]


def _features_files(data_root: Path) -> set[str]:
    return {p.name for p in (data_root / "targets" / "demo_region" / "features").glob("*.npz")}


# ----------------------------------------------------------------------------- (a) the command line
def _common(data_root: Path) -> list[str]:
    return ["baseline=hear", f"hear.module={TOY}", "target=[demo_region]", f"paths.data_root={data_root}",
            "evaluation.repetitions=2", "evaluation.num_workers=0"]


def test_cli_command_line_writes_hear_rows(tmp_path):
    """The issue's command line, literally (no ckpt); its cache is the one an in-process run reads."""
    from mtl_music import evaluate
    from mtl_music.config import compose

    region_root = tmp_path / "data"
    write_region_target(region_root / "demo_region")
    first = tmp_path / "first.csv"
    done = subprocess.run([sys.executable, "-m", "mtl_music.evaluate", *_common(region_root), "hear.model=null",
                           f"output={first}", f"hydra.run.dir={tmp_path / 'hydra'}"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader(first.open()))
    assert {(r["run"], r["strategy"], r["sources"], r["target"], r["metric"]) for r in rows} == {
        (f"hear:{TOY}", "hear", "", "demo_region", "accuracy")}
    assert len(rows) == 2 and all(float(r["value"]) == 1.0 for r in rows)  # low vs high tones
    assert len(_features_files(region_root)) == 1
    hear_toy.CALLS.clear()
    again = evaluate.run(compose("evaluate", [*_common(region_root), f"output={tmp_path / 'again.csv'}"]))
    assert hear_toy.CALLS == [("load_model", "")]  # loaded (its sample rate names the cache), never called
    assert [r["value"] for r in again.rows()] == [float(r["value"]) for r in rows]


def test_second_run_reads_the_cache_and_each_model_file_has_its_own(tmp_path):
    from mtl_music import evaluate
    from mtl_music.config import compose

    region_root = tmp_path / "data"  # its own: the cache's state is what is tested
    write_region_target(region_root / "demo_region")
    common = _common(region_root)
    hear_toy.CALLS.clear()
    first = evaluate.run(compose("evaluate", [*common, f"output={tmp_path / 'first.csv'}"]))
    assert _scene_calls() == [(12, 56000)]  # 12 clips of 3.5 s at 16 kHz, one batch
    assert len(_features_files(region_root)) == 1
    hear_toy.CALLS.clear()
    again = evaluate.run(compose("evaluate", [*common, f"output={tmp_path / 'again.csv'}"]))
    assert hear_toy.CALLS == [("load_model", "")]
    assert [r["value"] for r in again.rows()] == [r["value"] for r in first.rows()]

    # another weights file is another cache entry (and run name); the same bytes elsewhere are not
    w1, w2 = hear_toy.write_weights(tmp_path / "w1.pt", seed=1), hear_toy.write_weights(tmp_path / "w2.pt", seed=2)
    for weights, new_entries in ((w1, 2), (w2, 3)):
        hear_toy.CALLS.clear()
        table = evaluate.run(compose("evaluate", [*common, f"hear.model={weights}",
                                                  f"output={tmp_path / weights.with_suffix('.csv').name}"]))
        assert {r["run"] for r in table.rows()} == {f"hear:{TOY}:{weights.stem}"}
        assert _scene_calls() == [(12, 56000)]  # 12 clips of 3.5 s at 16 kHz, one batch
        assert len(_features_files(region_root)) == new_entries
    copy = tmp_path / "copy" / "w1.pt"
    copy.parent.mkdir()
    copy.write_bytes(w1.read_bytes())
    hear_toy.CALLS.clear()
    evaluate.run(compose("evaluate", [*common, f"hear.model={copy}", f"output={tmp_path / 'w.csv'}"]))
    assert not _scene_calls() and len(_features_files(region_root)) == 3


def test_features_are_the_modules_scene_embeddings_of_mono_audio(region_root, tmp_path):
    from mtl_music.audio import load_audio
    from mtl_music.evaluation.settings import EvaluationSettings, HearSettings
    from mtl_music.evaluation.transfer import baseline_representation

    settings = EvaluationSettings(hear=HearSettings(module=TOY, batch_size=5))
    rep = baseline_representation("hear", settings=settings)
    assert (rep.run, rep.strategy, tuple(rep.sources)) == (f"hear:{TOY}", "hear", ())
    tracks = _tracks(region_root)
    hear_toy.CALLS.clear(), hear_toy.GRAD_ENABLED.clear()
    ids, X = rep.features("demo_region", tracks, tmp_path / "target")
    assert ids == [t[0] for t in tracks] and X.shape == (12, 16) and X.dtype == np.float32
    assert _scene_calls() == [(5, 56000), (5, 56000), (2, 56000)] and hear_toy.GRAD_ENABLED == [False] * 3
    model = hear_toy.load_model()
    mono = torch.from_numpy(load_audio(tracks[3][1], sample_rate=16000).mean(axis=0))
    expected = hear_toy.get_scene_embeddings(mono[None], model)[0].detach().numpy()
    np.testing.assert_allclose(X[3], expected, atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------- (b) mtl_music.hear
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained ss_r network with band statistics, saved as a Lightning checkpoint (what
    ``runs.load_module`` and ``mtl_music.hear.load_model`` read), without a training run."""
    import pytorch_lightning as pl
    from omegaconf import OmegaConf

    from mtl_music.config import compose
    from mtl_music.training import MultiSourceModule

    cfg = OmegaConf.to_container(compose("train", ["arch=ss_r"]), resolve=True)  # plain: torch.load's weights_only
    torch.manual_seed(0)
    module = MultiSourceModule(arch=cfg["arch"], trunk=cfg["trunk"], sources={"tag": 3}, frontend=cfg["frontend"],
                               optim=cfg["optim"])
    module.set_band_statistics(np.linspace(-60, -20, 128), np.linspace(8, 16, 128))
    path = tmp_path_factory.mktemp("hear_ckpt") / "untrained.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": pl.__version__}, path)
    return path


def _mono_region_root(root: Path) -> Path:
    """demo_region with every file reduced to its first channel (written mono)."""
    write_region_target(root / "demo_region")
    for path in (root / "demo_region").rglob("*.wav"):
        audio, sr = sf.read(path, dtype="float32")
        sf.write(path, audio[:, 0], sr)
    return root


class _Fp16(torch.nn.Module):
    """Rounds dB-mels to float16, as the target's mel cache stores them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.half().float()


def test_mtl_music_hear_through_the_hear_path_scores_as_the_native_path(checkpoint, tmp_path, monkeypatch):
    """On mono files the HEAR path (audio -> float32 mel on the fly) and the native path (fp16 mel
    cache) differ only by the cache's float16 rounding of the dB-mels: with that rounding added
    to the HEAR model the features are equal (to 1e-7; measured 0), without it within 2e-6
    (measured 6.3e-7; features up to 8e-2), and every repetition scores the same. On stereo
    files they differ 1000 times more (7.6e-4), because HEAR passes the mono mix where the
    native path keeps both channels (here the right channel is the left one delayed by 50
    samples)."""
    import mtl_music.hear
    from mtl_music.evaluation.settings import EvaluationSettings, HearSettings
    from mtl_music.evaluation.transfer import evaluate, network_representation
    from mtl_music.evaluation.hear_baseline import hear_representation
    from mtl_music.runs import load_module

    settings = EvaluationSettings(repetitions=3, num_workers=0,
                                  hear=HearSettings(module="mtl_music.hear", model=str(checkpoint), batch_size=4))
    native = network_representation(load_module(checkpoint).eval(), run="native", digest="native-untrained",
                                    num_workers=0)
    hear = hear_representation(settings=settings)
    assert hear.run == "hear:mtl_music.hear:untrained"
    mono_root = _mono_region_root(tmp_path / "mono")

    def features(rep, data_root: Path) -> np.ndarray:
        ids, X = rep.features("demo_region", _tracks(data_root), data_root / "targets" / "demo_region")
        assert ids == [t[0] for t in _tracks(data_root)]
        return X

    X_native, X_hear = features(native, mono_root), features(hear, mono_root)
    assert X_hear.shape == X_native.shape == (12, 512)
    np.testing.assert_allclose(X_hear, X_native, atol=2e-6, rtol=0)
    assert np.abs(X_hear - X_native).max() > 0  # float32 mels on the fly vs the float16 cache

    scores = {name: [r["value"] for r in evaluate(rep, _targets(mono_root), data_root=mono_root,
                                                    settings=settings).rows()]
              for name, rep in (("native", native), ("hear", hear))}
    assert scores["hear"] == scores["native"] and len(scores["hear"]) == 3

    load = mtl_music.hear.load_model

    def rounded(*args, **kwargs):
        model = load(*args, **kwargs)
        model.embedder.frontend = torch.nn.Sequential(model.embedder.frontend, _Fp16())
        return model

    monkeypatch.setattr(mtl_music.hear, "load_model", rounded)
    rounded_hear = hear_representation(settings=settings)
    fresh = tmp_path / "fresh_cache"  # the rounded model's features must not come from the cache above
    ids, X_rounded = rounded_hear.features("demo_region", _tracks(mono_root), fresh)
    np.testing.assert_allclose(X_rounded, X_native, atol=1e-7, rtol=0)

    # stereo: the mono mix is what the HEAR path sees
    stereo_root = tmp_path / "stereo"
    write_region_target(stereo_root / "demo_region")
    _, X_stereo_rounded = rounded_hear.features("demo_region", _tracks(stereo_root), tmp_path / "fresh_stereo")
    X_stereo_native = features(native, stereo_root)
    stereo_gap, mono_gap = np.abs(X_stereo_rounded - X_stereo_native).max(), np.abs(X_hear - X_native).max()
    assert stereo_gap > 1e-4 and stereo_gap > 100 * mono_gap  # measured 7.6e-4 vs 6.3e-7


# ----------------------------------------------------------------------------- (c) errors, batching
def test_errors_name_the_module_and_the_fix(region_root, tmp_path, monkeypatch):
    from mtl_music import evaluate
    from mtl_music.config import compose
    from mtl_music.errors import ConfigError
    from mtl_music.evaluation.hear_baseline import hear_representation
    from mtl_music.evaluation.settings import EvaluationSettings, HearSettings

    def rep(module, model=None):
        return hear_representation(settings=EvaluationSettings(hear=HearSettings(module=module, model=model)))

    with pytest.raises(ConfigError, match=r"hear\.module=not_a_hear_module: cannot import it .*pip install "
                                          r"not-a-hear-module"):
        rep("not_a_hear_module")
    with pytest.raises(ConfigError, match=r"hear\.module=json .*does not have the HEAR API: no load_model or "
                                          r"get_scene_embeddings"):
        rep("json")
    with pytest.raises(ConfigError, match="baseline=hear needs the HEAR module: pass hear.module="):
        rep(None)
    with pytest.raises(ConfigError, match=r"hear\.model=.*nope\.pt does not exist"):
        rep(TOY, str(tmp_path / "nope.pt"))
    rateless = types.ModuleType("rateless_hear")
    rateless.load_model = lambda: object()
    rateless.get_scene_embeddings = lambda audio, model: audio
    monkeypatch.setitem(sys.modules, "rateless_hear", rateless)
    with pytest.raises(ConfigError, match="without an integer sample_rate"):
        rep("rateless_hear")
    with pytest.raises(ConfigError, match="not evaluated; add baseline=hear"):
        evaluate.run(compose("evaluate", [f"paths.data_root={region_root}", "target=[demo_region]",
                                          f"hear.module={TOY}", "baseline=mfcc"]))


def _clips(folder: Path, seconds) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tracks = []
    for i, s in enumerate(seconds):
        path = folder / f"c{i}.wav"
        sf.write(path, (0.1 * rng.normal(size=int(s * 16000))).astype(np.float32), 16000, subtype="FLOAT")
        tracks.append((f"c{i}", path, None))
    return tracks


def test_only_sounds_of_equal_length_share_a_batch(tmp_path, monkeypatch):
    from mtl_music.evaluation import hear_baseline

    model = hear_toy.load_model()
    shapes = []

    def embed(batch: np.ndarray) -> np.ndarray:
        shapes.append(batch.shape)
        with torch.no_grad():
            return hear_toy.get_scene_embeddings(torch.from_numpy(batch), model).numpy()

    tracks = _clips(tmp_path / "clips", [1.0, 0.5, 1.0, 1.0, 0.5, 0.25])
    (tmp_path / "broken.wav").write_bytes(b"RIFF no audio")
    tracks.insert(2, ("broken", tmp_path / "broken.wav", None))
    ids, X = hear_baseline.hear_features(embed=embed, tracks=tracks, sample_rate=16000, batch_size=2)
    # a full batch goes as soon as it fills; the rest by length, shortest first
    assert shapes == [(2, 16000), (2, 8000), (1, 4000), (1, 16000)]
    assert ids == ["c0", "c1", "c2", "c3", "c4", "c5"]  # track order; the undecodable one left out
    alone = np.stack([embed(sf.read(path, dtype="float32")[0][None])[0] for tid, path, _ in tracks if tid != "broken"])
    np.testing.assert_allclose(X, alone, atol=1e-6, rtol=0)  # no padding: each as if embedded alone

    # past the memory bound, waiting groups are embedded before they fill
    monkeypatch.setattr(hear_baseline, "PENDING_SAMPLES", 20000)
    shapes.clear()
    hear_baseline.hear_features(embed=embed, tracks=tracks, sample_rate=16000, batch_size=3)
    assert shapes == [(1, 8000), (1, 16000), (2, 16000), (1, 4000), (1, 8000)]


class _Halve:
    """A deformation (``mtl_music.audio.deform``'s protocol): -6 dB, recording the seeds asked for."""

    name, key = "gain:db=-6", "gain_db-6"

    def __init__(self) -> None:
        self.seeds: list[int] = []

    def apply(self, audio: np.ndarray, *, sample_rate: int, seed: int) -> np.ndarray:
        assert audio.ndim == 1 and sample_rate == 16000
        self.seeds.append(seed)
        return audio * 0.5


def test_deformed_features_use_the_deformed_mono_audio_and_their_own_cache(tmp_path):
    from mtl_music.audio.deform import deformation_seed
    from mtl_music.evaluation.hear_baseline import hear_features, hear_representation
    from mtl_music.evaluation.settings import EvaluationSettings, HearSettings

    tracks = _clips(tmp_path / "clips", [0.5, 0.5, 0.75])
    rep = hear_representation(settings=EvaluationSettings(hear=HearSettings(module=TOY)))
    target_root = tmp_path / "target"
    _, clean = rep.features("clips", tracks, target_root)
    deformation = _Halve()
    ids, X = rep.deformed("clips", tracks, target_root, deformation)
    assert ids == ["c0", "c1", "c2"] and not np.allclose(X, clean)
    model = hear_toy.load_model()
    with torch.no_grad():
        halved = lambda b: hear_toy.get_scene_embeddings(torch.from_numpy(b * 0.5), model).numpy()  # noqa: E731
        expected = hear_features(embed=halved, tracks=tracks, sample_rate=16000, batch_size=16)[1]
    np.testing.assert_allclose(X, expected, atol=1e-6, rtol=0)
    assert deformation.seeds == [deformation_seed(t, deformation) for t in ids]  # the one seed rule, per track
    names = {p.name for p in (target_root / "features").glob("*.npz")}
    assert names == {f"hear-{TOY}-none-sr16000.npz", f"hear-{TOY}-none-sr16000-gain_db-6.npz"}
    hear_toy.CALLS.clear()
    again = rep.deformed("clips", tracks, target_root, deformation)[1]
    assert not hear_toy.CALLS and np.array_equal(again, X)


def test_robustness_rows_of_the_hear_baseline(region_root, tmp_path):
    """evaluation.deform through the evaluate app: a row set per condition; a 0 dB gain (an
    identity) scores as clean, from a cache file of its own."""
    from mtl_music import evaluate
    from mtl_music.config import compose

    table = evaluate.run(compose("evaluate", [*_common(region_root), "evaluation.deform=[gain]",
                                              "evaluation.deformations.gain=[0,-12]", f"output={tmp_path / 'r.csv'}"]))
    by_condition: dict[str, list[float]] = {}
    for row in table.rows():
        by_condition.setdefault(row["condition"], []).append(row["value"])
    assert list(by_condition) == ["clean", "gain:db=0", "gain:db=-12"]
    assert by_condition["gain:db=0"] == by_condition["clean"] and all(len(v) == 2 for v in by_condition.values())
    assert {f"hear-{TOY}-none-sr16000-{key}.npz" for key in ("gain_db0", "gain_dbm12")} <= _features_files(region_root)


def test_model_identity_of_a_folder_follows_its_files(tmp_path):
    from mtl_music.evaluation.features import file_digest
    from mtl_music.evaluation.hear_baseline import model_identity

    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "weights.bin").write_bytes(b"1234")
    first = model_identity(str(folder))
    assert model_identity(str(folder)) == first and model_identity(None) == "none"
    (folder / "config.json").write_text("{}")
    assert model_identity(str(folder)) != first
    assert model_identity(str(folder / "config.json")) == file_digest(folder / "config.json")
