import librosa
import numpy as np
import pytest
import torch

from mtl_music.audio import MelSettings, MelSpectrogram, mel_settings_from_cfg
from mtl_music.config import compose
from mtl_music.errors import ConfigError

from tests.helpers.folder_dataset import music_like

CLIP = 55125  # 2.5 s at 22,050 Hz


@pytest.fixture(scope="module")
def frontend():
    return MelSpectrogram(MelSettings())


def _librosa_db(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=1024, hop_length=256, n_mels=128)
    return librosa.power_to_db(mel, ref=1.0, top_db=80.0).transpose(0, 2, 1)  # (2, T, M)


def test_a_crop_of_audio_gives_the_network_input_shape(frontend):
    out = frontend(torch.zeros(3, 2, CLIP))
    assert out.shape == (3, 2, 216, 128) and out.dtype == torch.float32
    assert MelSettings().n_frames(CLIP) == 216


def test_matches_librosa_within_a_hundredth_of_a_db(frontend):
    """Tolerance 0.01 dB: both compute in float32, so bins far below a frame's peak carry FFT
    rounding of ~1e-7 of the peak; measured worst case ≈ 4e-4 dB, 25x margin. Clipped bins
    (at max − 80 dB in both) are compared separately and must agree exactly in the floor."""
    y = music_like(2.5, seed=7).T.copy()
    y[:, :5000] = 0.0  # true silence: some bins hit the top_db floor
    ours = frontend(torch.from_numpy(y)).numpy()
    ref = _librosa_db(y)
    assert ours.shape == ref.shape == (2, 216, 128)
    floor = ref.max() - 80.0
    clipped = ref <= floor + 1e-4
    assert 0 < clipped.mean() < 0.5
    assert np.abs(ours - ref)[~clipped].max() < 0.01
    assert np.allclose(ours[clipped], floor, atol=0.01)


def test_top_db_floor_is_per_example_in_a_batch(frontend):
    loud = music_like(2.5, seed=1).T.copy()
    quiet = 0.05 * music_like(2.5, seed=2).T
    loud[:, :5000] = quiet[:, :5000] = 0.0  # silent lead-ins reach each example's own floor
    batch = frontend(torch.from_numpy(np.stack([loud, quiet]))).numpy()
    for k, y in enumerate((loud, quiet)):
        np.testing.assert_allclose(batch[k], frontend(torch.from_numpy(y)).numpy(), atol=1e-4)
        assert batch[k].min() == pytest.approx(batch[k].max() - 80.0, abs=1e-3)


def test_blocked_computation_equals_one_pass():
    y = torch.from_numpy(music_like(12.0, seed=4).T.copy())
    whole = MelSpectrogram(MelSettings(), block_columns=1 << 20)(y)
    chunked = MelSpectrogram(MelSettings(), block_columns=97)(y)
    assert whole.shape == (2, 1 + y.shape[-1] // 256, 128)
    torch.testing.assert_close(chunked, whole, atol=1e-4, rtol=0)


def test_cache_key_changes_with_every_setting_and_ignores_spelling():
    base = MelSettings()
    assert base.key() == MelSettings(fmax=11025.0).key() == MelSettings(fmax=None).key()
    changed = [MelSettings(n_mels=96), MelSettings(hop_length=512), MelSettings(n_fft=2048), MelSettings(fmin=30.0),
               MelSettings(fmax=8000.0), MelSettings(top_db=None), MelSettings(top_db=60.0), MelSettings(ref=2.0),
               MelSettings(sample_rate=16000)]
    keys = {s.key() for s in changed}
    assert base.key() not in keys and len(keys) == len(changed)


def test_settings_from_the_frontend_config_and_bad_values():
    cfg = compose("prepare", ["data=folder", "data.name=x", "paths.data_root=/tmp/x"])
    assert mel_settings_from_cfg(cfg.frontend) == MelSettings()
    cfg = compose("prepare", ["frontend.n_mels=64", "frontend.fmax=8000"])
    assert mel_settings_from_cfg(cfg.frontend) == MelSettings(n_mels=64, fmax=8000.0)
    with pytest.raises(ConfigError, match="frontend.fmax"):
        MelSettings(fmax=20000.0)
    with pytest.raises(ConfigError, match="frontend.n_mels"):
        MelSettings(n_mels=0)
    with pytest.raises(ConfigError, match="unknown frontend"):
        mel_settings_from_cfg({"n_mel": 128})


def test_runs_on_the_module_device_and_is_batched_on_leading_dims(frontend):
    y = torch.from_numpy(np.stack([music_like(1.0, seed=s).T for s in range(4)])).reshape(2, 2, 2, -1)
    out = frontend(y)
    assert out.shape == (2, 2, 2, 87, 128)
    torch.testing.assert_close(out[1, 0], frontend(y[1, 0]))
    assert frontend.window.device == frontend.mel_basis_t.device == out.device


def test_scripts_to_the_same_values_and_takes_empty_audio(frontend):
    """TorchScript compiles the module (exported models run this code); zero samples give the one
    centred frame of silence, as librosa does."""
    y = torch.from_numpy(music_like(1.0, seed=5).T.copy())
    scripted = torch.jit.script(frontend)
    assert torch.equal(scripted(y), frontend(y))
    empty = frontend(torch.zeros(2, 0))
    assert empty.shape == (2, 1, 128) and torch.isfinite(empty).all()
