"""The contract of every app in ``mtl_music.cli.APPS``: one module with ``run`` and ``main``, a
config that composes, a console script, and the same answers to the same user errors."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mtl_music.cli import APPS, check_added_keys
from mtl_music.config import compose
from mtl_music.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(APPS))
def test_app_has_run_main_and_a_config_that_composes(name, tmp_path):
    module_name, config_name = APPS[name]
    module = importlib.import_module(module_name)
    assert callable(module.run) and callable(module.main)
    assert module.main.config_name == config_name
    cfg = compose(config_name, [f"paths.output_dir={tmp_path}"])
    assert str(cfg.paths.output_dir) == str(tmp_path)
    assert (REPO / "conf" / f"{config_name}.yaml").is_file()


def test_every_app_has_its_console_script():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {f"mtl-{name}": f"{module}:main" for name, (module, _) in APPS.items()}


@pytest.mark.parametrize("name", sorted(APPS))
def test_unknown_group_option_exits_2_naming_the_valid_choices(name, tmp_path):
    module_name, _ = APPS[name]
    proc = subprocess.run([sys.executable, "-m", module_name, "paths=nowhere"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "unknown paths option(s) 'nowhere'" in proc.stderr and "Valid paths options: default" in proc.stderr


def test_an_added_key_that_no_app_reads_is_refused(tmp_path):
    # `+epoch=3` (a typo of `epochs`) would otherwise be accepted and ignored.
    with pytest.raises(ConfigError, match="adds the key 'epoch', which mtl_music.train does not read"):
        check_added_keys(["+epoch=3"], app="mtl_music.train", open_keys=("trainer.",))
    check_added_keys(["+trainer.gradient_clip_val=1", "+hydra.job.env_set.X=1", "epochs=3"],
                     app="mtl_music.train", open_keys=("trainer.",))
    proc = subprocess.run([sys.executable, "-m", "mtl_music.train", "+epoch=3"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "does not read" in proc.stderr


def test_trainer_group_maps_onto_lightnings_trainer(tmp_path):
    from mtl_music.training.trainer import build_trainer

    def trainer(*overrides):
        cfg = compose("train", [f"paths.output_dir={tmp_path}", "target=[]", *overrides])
        return build_trainer(cfg, run_dir=tmp_path, run_name="t", tags=[]).trainer

    assert trainer("+trainer.gradient_clip_val=1").gradient_clip_val == 1
    assert trainer("trainer.fast_dev_run=true").fast_dev_run is True
    assert trainer("epochs=3").max_epochs == 3
    with pytest.raises(ConfigError, match="trainer.not_an_argument is not an argument of pytorch_lightning.Trainer"):
        trainer("+trainer.not_an_argument=1")
    with pytest.raises(ConfigError, match="trainer.callbacks is set by mtl_music.train itself"):
        trainer("+trainer.callbacks=[]")
