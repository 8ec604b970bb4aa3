"""trainer.compile and trainer.float32_matmul_precision: read by the run, not passed to Lightning.

Inductor's CPU compile of the vgg trunk takes ~100 s here (measured: 35 s for the first source's
graph, 60 s for the self pair pass), so these tests trace with dynamo's ``eager`` backend; the real
compile runs in tests/training/test_cuda.py on a GPU."""

import pytest
import torch

from mtl_music.config import compose
from mtl_music.errors import ConfigError
from mtl_music.training import MultiSourceModule
from mtl_music.training.trainer import compile_mode


def test_compile_modes():
    assert compile_mode(False) is None and compile_mode(None) is None
    assert compile_mode(True) == "default" and compile_mode("reduce-overhead") == "reduce-overhead"
    with pytest.raises(ConfigError, match="trainer.compile"):
        compile_mode("fastest")


def test_compiled_passes_equal_the_eager_network():
    cfg = compose("train", ["arch=ms_cr@2"])
    kw = dict(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={"tag": 3, "bpm": 3, "self": 2},
              frontend={"n_mels": 128}, optim={"lr": 1e-3, "weight_decay": 0.0})
    torch.manual_seed(0)
    eager = MultiSourceModule(**kw).eval()  # eval: no dropout, so both sides see the same function
    compiled = MultiSourceModule(**kw).eval()
    compiled.load_state_dict(eager.state_dict())
    compiled.compile_network(backend="eager")
    compiled.training = True  # the compiled passes serve training only; the network stays in eval mode
    x = torch.randn(2, 2, 216, 128)
    batch = {"source": "tag", "x": x, "z": torch.softmax(torch.randn(2, 3), -1)}
    pair = {"source": "self", "x": x, "x_right": x.flip(0), "same": torch.tensor([0, 1])}
    for b in (batch, pair):
        torch.testing.assert_close(compiled._source_loss(b, b["source"]), eager._source_loss(b, b["source"]))
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints keep their keys


def test_trainer_compile_reaches_the_module_and_not_lightning(tiny_root, tmp_path, monkeypatch):
    from tests.training.test_train import _cfg

    from mtl_music.train import run

    calls = []
    real = torch.compile

    def eager_compile(fn, **options):
        calls.append(options)
        return real(fn, **{**options, "backend": "eager"})

    monkeypatch.setattr(torch, "compile", eager_compile)
    result = run(_cfg(tiny_root, tmp_path / "c", "source=[bpm]", "arch=ss_r", "limit_train_steps=2",
                      "trainer.compile=true", "trainer.float32_matmul_precision=high"))
    assert result.last_checkpoint and len(calls) == 3 and calls[0]["dynamic"] is False
    assert torch.get_float32_matmul_precision() == "high"
    torch.set_float32_matmul_precision("highest")
