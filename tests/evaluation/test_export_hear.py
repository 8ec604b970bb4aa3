"""One module from raw audio to the representation (AudioEmbedder), used by mtl_music.embed, the
HEAR API (mtl_music.hear) and the TorchScript export (mtl_music.export); the exported file runs
in a process without mtl_music and gives embed's vectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.helpers.tiny_dataset import tiny_train_overrides

SR = 22050


def _clip(seconds: float, *, channels: int, seed: int) -> np.ndarray:
    """``(channels, samples)`` float32 pulsed tones with noise (``(samples,)`` for channels=0)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 900) * t) * np.exp(-(t % 0.4) * 6)
    out = np.stack([np.roll(tone, 40 * c) + 0.02 * rng.normal(size=t.size) for c in range(max(channels, 1))])
    return (out[0] if channels == 0 else out).astype(np.float32)


@pytest.fixture(scope="module")
def run_dir(tiny_root, tmp_path_factory) -> Path:
    """A two-source ms_cr@4 run after one training step (channels_last, branches, BatchNorm)."""
    from mtl_music.config import compose
    from mtl_music.train import run

    run_dir = tmp_path_factory.mktemp("export_run") / "tiny_run"
    cfg = compose("train", [*tiny_train_overrides(tiny_root), f"paths.output_dir={run_dir}", "epochs=1",
                            "limit_train_steps=1", "validation.batches_per_source=1", "source=[tag,bpm]",
                            "arch=ms_cr@4", "source.tag.k=3", "source.bpm.k=3"])
    run(cfg)
    return run_dir


@pytest.fixture(scope="module")
def module(run_dir):
    from mtl_music.runs import load_module, resolve_checkpoint

    return load_module(resolve_checkpoint(run_dir)).eval()


@pytest.fixture(scope="module")
def exported(run_dir) -> Path:
    """``python -m mtl_music.export ckpt=<run dir>`` with the default output, a transfer.csv present."""
    from mtl_music import export
    from mtl_music.config import compose
    from mtl_music.evaluation.results import ResultsTable

    table = ResultsTable()
    table.extend(run="tiny_run", strategy="ms_cr@4", sources=["tag", "bpm"], target="demo_region",
                 metric="accuracy", values=[0.5, 0.75, 1.0])
    table.extend(run="mfcc", strategy="mfcc", sources=None, target="demo_region", metric="accuracy", values=[0.25])
    table.to_csv(run_dir / "transfer.csv")
    return export.run(compose("export", [f"ckpt={run_dir}"]))


# ----------------------------------------------------------------------------- the shared module
def test_frame_windows_pad_with_the_track_floor_and_slice_like_the_cache():
    from mtl_music.models.embedder import frame_windows, track_slices

    mel = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3) + 1.0  # floor = 1
    slices = track_slices(mel, slice_frames=2)
    assert slices.shape == (3, 2, 2, 3)
    torch.testing.assert_close(slices[1], mel[:, 2:4])
    torch.testing.assert_close(slices[2, :, 0], mel[:, 4])
    assert (slices[2, :, 1] == 1.0).all()  # the last slice is padded with the floor
    windows = frame_windows(mel, start=-1, step=2, count=3, size=2)  # centred on frames 0, 2, 4
    assert windows.shape == (3, 2, 2, 3)
    assert (windows[0, :, 0] == 1.0).all() and torch.equal(windows[0, :, 1], mel[:, 0])
    assert torch.equal(windows[2, :, 0], mel[:, 3]) and torch.equal(windows[2, :, 1], mel[:, 4])
    assert track_slices(mel[:, :1], slice_frames=4).shape == (1, 2, 4, 3)  # shorter than a slice: one


def test_embedder_is_mel_then_slices_then_standardise_then_network_then_mean_std(module):
    from mtl_music.audio import MelSettings, MelSpectrogram
    from mtl_music.models.embedder import summarize_slices
    from mtl_music.models.embedder import AudioEmbedder, track_slices

    embedder = AudioEmbedder.from_module(module, batch_slices=2)  # several network passes
    audio = torch.from_numpy(_clip(6.0, channels=2, seed=1))
    with torch.no_grad():
        mel = MelSpectrogram(MelSettings())(audio)
        x = (track_slices(mel, slice_frames=216) - module.band_mean) / module.band_std
        expected = summarize_slices(module.representation(x))
        got = embedder(audio)
        assert embedder.standardized_slices(audio).shape == (3, 2, 216, 128)
        torch.testing.assert_close(embedder.standardized_slices(audio), x)
    assert got.shape == (embedder.embedding_size,) == (2 * 512,)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    batch = torch.from_numpy(np.stack([_clip(3.0, channels=2, seed=s) for s in (1, 2, 3)]))
    with torch.no_grad():  # two slices per sound, batch_slices=2: one sound per network pass
        torch.testing.assert_close(embedder.scene_embeddings(batch), torch.stack([embedder(b) for b in batch]),
                                   atol=1e-6, rtol=0)


def test_embedder_channel_rule_is_load_audios(module, tmp_path):
    from mtl_music.audio import load_audio
    from mtl_music.models.embedder import AudioEmbedder

    embedder = AudioEmbedder.from_module(module)
    quad = _clip(1.0, channels=4, seed=2)
    sf.write(tmp_path / "quad.wav", quad.T, SR, subtype="FLOAT")
    torch.testing.assert_close(embedder.stereo(torch.from_numpy(quad)), torch.from_numpy(load_audio(tmp_path / "quad.wav")))
    mono = torch.from_numpy(_clip(1.0, channels=0, seed=3))
    assert torch.equal(embedder.stereo(mono), torch.stack([mono, mono]))
    with pytest.raises(ValueError, match="one track"):
        embedder.stereo(torch.zeros(1, 2, 100))


def test_traced_network_gives_the_eager_outputs_for_any_batch_size(module):
    from mtl_music.models.embedder import AudioEmbedder, script_embedder

    embedder = AudioEmbedder.from_module(module)
    scripted = script_embedder(embedder)
    x = torch.randn(5, 2, 216, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for n in (1, 4, 5):
            torch.testing.assert_close(scripted.representation(x[:n]), embedder.representation(x[:n]), atol=1e-6, rtol=0)
        audio = torch.from_numpy(_clip(3.0, channels=2, seed=4))
        torch.testing.assert_close(scripted(audio), embedder(audio), atol=1e-6, rtol=0)


def test_short_and_silent_audio_give_finite_vectors(module):
    from mtl_music.models.embedder import AudioEmbedder

    embedder = AudioEmbedder.from_module(module)
    with torch.no_grad():
        for audio in (torch.zeros(2, SR), torch.zeros(0), torch.from_numpy(_clip(0.3, channels=0, seed=5))):
            vector = embedder(audio)
            assert vector.shape == (1024,) and torch.isfinite(vector).all()
            assert (vector[512:] == 0).all()  # one slice: no spread


# ----------------------------------------------------------------------------- HEAR
def test_hear_model_attributes_and_scene_embeddings_equal_embeds(run_dir, module, tmp_path):
    from mtl_music import hear
    from mtl_music.embed import _embed_files

    model = hear.load_model(str(run_dir), device="cpu")
    assert (model.sample_rate, model.scene_embedding_size, model.timestamp_embedding_size) == (22050, 1024, 512)
    assert isinstance(model, torch.nn.Module)
    audio = np.stack([_clip(3.0, channels=0, seed=s) for s in range(3)])
    scene = hear.get_scene_embeddings(torch.from_numpy(audio), model)
    assert scene.shape == (3, 1024) and scene.dtype == torch.float32
    files = []
    for i, clip in enumerate(audio):
        files.append(tmp_path / f"s{i}.wav")
        sf.write(files[-1], clip, SR, subtype="FLOAT")
    ids, features, skipped = _embed_files(module, files)
    assert ids == ["s0", "s1", "s2"] and not skipped
    np.testing.assert_allclose(scene.numpy(), features, atol=1e-5, rtol=0)


def test_hear_timestamps_contract(run_dir):
    from mtl_music import hear
    from mtl_music.models.embedder import frame_windows

    model = hear.load_model(str(run_dir), device="cpu")
    assert model.hop_frames == 4 and model.timestamp_hop_ms == pytest.approx(46.44, abs=0.01)
    n_samples = int(1.3 * SR)
    audio = torch.from_numpy(np.stack([_clip(1.3, channels=0, seed=s) for s in (7, 8)]))
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    n_frames = 1 + n_samples // 256
    n_ts = 1 + (n_frames - 1) // 4
    assert embeddings.shape == (2, n_ts, 512) and timestamps.shape == (2, n_ts)
    assert embeddings.dtype == timestamps.dtype == torch.float32
    assert torch.equal(timestamps[0], timestamps[1])  # one time axis for the padded batch
    steps = torch.diff(timestamps[0].double())
    assert (steps > 0).all() and torch.allclose(steps, torch.full_like(steps, model.timestamp_hop_ms), atol=1e-3)
    assert timestamps[0, 0] == 0 and timestamps[0, -1] <= 1000 * n_samples / SR
    assert timestamps[0, -1] > 1000 * n_samples / SR - model.timestamp_hop_ms
    # the window of timestamp 0 is 108 floor frames, then the sound's first 108 frames
    embedder = model.embedder
    with torch.no_grad():
        mel = embedder.mel(audio[1])
        window = torch.cat([torch.full((2, 108, 128), float(mel.min())), mel[:, :108]], dim=1)
        torch.testing.assert_close(embeddings[1, 0], embedder.represent(window[None])[0], atol=1e-5, rtol=0)
        third = frame_windows(mel, start=2 * 4 - 108, step=1, count=1, size=216)
        torch.testing.assert_close(embeddings[1, 2], embedder.represent(third)[0], atol=1e-5, rtol=0)
    coarse = hear.load_model(str(run_dir), device="cpu", timestamp_hop_ms=100.0)
    assert coarse.hop_frames == 8
    _, ts = hear.get_timestamp_embeddings(audio, coarse)
    assert ts.shape == (2, 1 + (n_frames - 1) // 8)


def test_hear_loads_an_exported_file_and_rejects_bad_input(run_dir, exported):
    from mtl_music import hear
    from mtl_music.errors import ConfigError, DataError

    from_ckpt = hear.load_model(str(run_dir), device="cpu")
    from_file = hear.load_model(str(exported), device="cpu")
    assert from_file.card["name"] == "tiny_run"
    assert (from_file.sample_rate, from_file.scene_embedding_size, from_file.timestamp_embedding_size) == (22050, 1024, 512)
    audio = torch.from_numpy(np.stack([_clip(2.0, channels=0, seed=s) for s in (9, 10)]))
    torch.testing.assert_close(hear.get_scene_embeddings(audio, from_file), hear.get_scene_embeddings(audio, from_ckpt),
                               atol=1e-5, rtol=0)
    e_file, t_file = hear.get_timestamp_embeddings(audio[:, :SR], from_file)
    e_ckpt, t_ckpt = hear.get_timestamp_embeddings(audio[:, :SR], from_ckpt)
    torch.testing.assert_close(e_file, e_ckpt, atol=1e-5, rtol=0)
    assert torch.equal(t_file, t_ckpt)
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(audio[0], from_file)
    with pytest.raises(DataError, match="needs a model"):
        hear.load_model("")
    with pytest.raises(DataError, match="no such file"):
        hear.load_model(str(run_dir / "nope.ckpt"))
    with pytest.raises(ConfigError, match="unknown option"):
        hear.load_model(str(exported), hop=3)


# ----------------------------------------------------------------------------- export
def test_export_writes_the_file_and_a_model_card(run_dir, exported):
    from mtl_music.hear import CARD_ENTRY

    assert exported == run_dir / "export" / "tiny_run.pt" and exported.is_file()
    extra = {CARD_ENTRY: ""}
    model = torch.jit.load(str(exported), _extra_files=extra)
    card = json.loads(extra[CARD_ENTRY])
    assert (model.sample_rate, model.embedding_size, model.representation_size) == (22050, 1024, 512)
    assert [(s["name"], s["k"], s["category"]) for s in card["sources"]] == [("tag", 3, "crowd"), ("bpm", 3, "feature")]
    assert card["strategy"]["arch"] == "ms_cr@4" and card["strategy"]["branch_at"] == "conv4"
    assert card["strategy"]["shared_layers"] == ["conv1", "conv2", "conv3"]
    assert card["data"]["name"] == "tiny" and "licence" not in card["data"]
    assert card["training"]["from"] == "config.yaml" and card["training"]["batch_size"] == 8
    assert card["training"]["epochs"] == 1 and card["training"]["optimiser"]["name"] == "Adam"
    assert card["input"]["sample_rate"] == 22050 and card["input"]["slice_frames"] == 216
    ours = next(r for r in card["transfer"] if r["run"] == "tiny_run")
    assert ours["n"] == 3 and ours["mean"] == pytest.approx(0.75) and ours["std"] == pytest.approx(0.25)
    text = (run_dir / "export" / "tiny_run.card.md").read_text()
    for needle in ("ms_cr@4", "| tag | 3 | crowd |", "| bpm | 3 | feature |", "first per-source layer: conv4",
                   "training data: `tiny`", "epochs: 1", "batch size: 8", "Adam, lr", "22050 Hz",
                   "216 frames", "1024 per track", "| tiny_run | ms_cr@4 | tag+bpm | demo_region | accuracy | 3 "
                   "| 0.7500 ± 0.2500 |", "| mfcc | mfcc | — | demo_region | accuracy | 1 | 0.2500 ± 0.0000 |"):
        assert needle in text, needle


def test_export_of_a_loose_checkpoint_takes_the_card_from_its_hyper_parameters(run_dir, tmp_path):
    import shutil

    from mtl_music import export
    from mtl_music.config import compose

    loose = tmp_path / "mine.ckpt"
    shutil.copy(run_dir / "checkpoints" / "last.ckpt", loose)
    written = export.run(compose("export", [f"ckpt={loose}"]))
    assert written == tmp_path / "export" / "mine.pt"
    text = (tmp_path / "export" / "mine.card.md").read_text()
    assert "(from checkpoint hyper-parameters)" in text and "Adam, lr 0.00025" in text
    assert "None in the run directory" in text


def test_exported_file_runs_without_mtl_music_and_equals_embed(module, exported, tmp_path):
    """The clean process: ``-I -S`` (no site, so no editable-install .pth/finder) and only the
    site-packages folder holding torch and numpy on sys.path."""
    from mtl_music.embed import _embed_files

    site = str(Path(torch.__file__).resolve().parent.parent)
    assert Path(np.__file__).resolve().parent.parent == Path(site)
    clips = {"stereo": _clip(4.0, channels=2, seed=11), "mono": _clip(1.2, channels=0, seed=12)}
    for name, clip in clips.items():
        np.save(tmp_path / f"{name}.npy", clip)
        sf.write(tmp_path / f"{name}.wav", clip.T, SR, subtype="FLOAT")  # float32 wav: the same samples
    script = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path[:] = [p for p in sys.path if "site-packages" not in p] + [{site!r}]
        assert importlib.util.find_spec("mtl_music") is None, "mtl_music is importable"
        import numpy as np, torch
        model = torch.jit.load({str(exported)!r})
        out = {{name: model(torch.from_numpy(np.load({str(tmp_path)!r} + "/" + name + ".npy"))).numpy()
               for name in ("stereo", "mono")}}
        assert "mtl_music" not in sys.modules
        np.savez({str(tmp_path / "vectors.npz")!r}, **out)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ids, features, _ = _embed_files(module, [tmp_path / "mono.wav", tmp_path / "stereo.wav"])
    assert ids == ["mono", "stereo"]
    with np.load(tmp_path / "vectors.npz") as vectors:
        # float32 throughout, the same ops in the same order: agreement to float32 rounding
        np.testing.assert_allclose(vectors["mono"], features[0], atol=1e-6, rtol=1e-5)
        np.testing.assert_allclose(vectors["stereo"], features[1], atol=1e-6, rtol=1e-5)


def test_export_errors_name_the_fix(run_dir, tmp_path):
    from mtl_music import export
    from mtl_music.config import compose
    from mtl_music.errors import ConfigError, DataError

    with pytest.raises(DataError, match="no such file"):
        export.run(compose("export", [f"ckpt={tmp_path / 'nope.ckpt'}"]))
    with pytest.raises(ConfigError, match="choose one of: torchscript"):
        export.run(compose("export", [f"ckpt={run_dir}", "format=onnx"]))
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create its folder"):
        export.run(compose("export", [f"ckpt={run_dir}", f"output={blocker / 'sub' / 'x.pt'}"]))
def test_export_refuses_a_read_only_folder(run_dir, tmp_path):
    from mtl_music import export
    from mtl_music.config import compose
    from mtl_music.errors import ConfigError

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("root writes into read-only folders (the other output errors are tested above)")
        with pytest.raises(ConfigError, match="not writable"):
            export.run(compose("export", [f"ckpt={run_dir}", f"output={locked / 'x.pt'}"]))
    finally:
        locked.chmod(0o700)


def test_export_command_line_reports_an_unknown_format(run_dir):
    done = subprocess.run([sys.executable, "-m", "mtl_music.export", f"ckpt={run_dir}", "format=onnx",
                           "hydra.run.dir=" + str(run_dir / "hydra_export")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "choose one of: torchscript" in done.stderr
