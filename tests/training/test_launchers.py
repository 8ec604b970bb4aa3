"""Sweeps on Hydra's own launcher plugins (``pip install 'mtl_music[launchers]'``): joblib runs
the jobs of a sweep in parallel processes on this machine, submitit runs them as submitit jobs
(locally here, on SLURM on a cluster). Each job is a plain ``mtl_music.train`` run."""

import json
from pathlib import Path

import pytest

from mtl_music.config import CONF_DIR, check_group_overrides

from tests.helpers.tiny_dataset import tiny_train_overrides, write_tiny_dataset
from tests.training.test_train import _train_cli


def _fresh_root(tmp_path: Path) -> Path:
    """A dataset without a mel cache: the sweep's jobs prepare it at the same time."""
    root = tmp_path / "data_root"
    write_tiny_dataset(root / "tiny")
    return root


def _tiny_sweep(root: Path, sweep_dir: Path, *launcher: str) -> list[str]:
    return ["-m", *tiny_train_overrides(root), "k=3", "epochs=1", "limit_train_steps=1",
            "validation.batches_per_source=1", "source=[tag],[bpm]", "arch=ss_r", *launcher,
            f"hydra.sweep.dir={sweep_dir}"]


def _assert_two_trained_jobs(sweep_dir: Path) -> list[Path]:
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [j.name for j in jobs] == ["0_ss_r_tag", "1_ss_r_bpm"]
    for job in jobs:
        summary = json.loads((job / "summary.json").read_text())
        assert summary["arch"] == "ss_r" and summary["global_step"] == 1
        assert (job / "checkpoints" / "last.ckpt").is_file() and (job / "checkpoints" / "best.ckpt").is_file()
    return jobs


def _hydra_config(overrides: list[str]):
    """The composed ``hydra`` node of conf/train.yaml (mtl_music.config.compose drops it)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    check_group_overrides(overrides)  # what `python -m mtl_music.train` checks first
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True).hydra


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_joblib_launcher_trains_two_runs_at_once(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep_dir = tmp_path / "sweep"
    proc = _train_cli(_tiny_sweep(_fresh_root(tmp_path), sweep_dir, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
                      tmp_path, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout
    jobs = _assert_two_trained_jobs(sweep_dir)
    # Every job logs to its own folder, in the sweep's W&B/CSV group (the sweep folder).
    for job in jobs:
        assert (job / "train.log").is_file() and list((job / "csv").glob("version_0/metrics.csv"))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_submitit_local_launcher_runs_the_sweep_as_submitit_jobs(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "sweep"
    proc = _train_cli(_tiny_sweep(_fresh_root(tmp_path), sweep_dir, "hydra/launcher=submitit_local",
                                  "hydra.launcher.timeout_min=4", "hydra.launcher.cpus_per_task=1"),
                      tmp_path, timeout=280)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _assert_two_trained_jobs(sweep_dir)
    # Real submitit jobs: each left its submission, its logs and its pickled result.
    results = list((sweep_dir / ".submitit").glob("*/*_result.pkl"))
    assert len(results) == 2
    assert any("run directory:" in p.read_text() for p in (sweep_dir / ".submitit").glob("*/*_log.out"))


def test_slurm_gpu_preset_sets_only_keys_of_the_plugin():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    launcher = _hydra_config(["hydra/launcher=slurm_gpu", "hydra.launcher.partition=gpu"]).launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.cpus_per_task, launcher.tasks_per_node, launcher.nodes) == (1, 8, 1, 1)
    assert launcher.partition == "gpu" and launcher.timeout_min > 0 and launcher.mem_gb > 0
    # The preset is a structured config: a key the plugin does not have is an error, not ignored.
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="gpus"):
        _hydra_config(["hydra/launcher=slurm_gpu", "hydra.launcher.gpus=2"])


def test_hydra_plugin_groups_are_left_to_hydra():
    """conf/hydra/launcher/ holds only the presets; the plugins' own options are valid choices too."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    assert _hydra_config(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]).launcher.n_jobs == 2
    assert _hydra_config(["hydra/launcher=submitit_local"]).launcher._target_.endswith("LocalLauncher")


def test_a_sweep_job_runs_ddp_only_when_the_launcher_started_its_ranks(monkeypatch):
    from omegaconf import OmegaConf

    from mtl_music.errors import ConfigError
    from mtl_music.training import trainer

    cfg = OmegaConf.create({"trainer": {"strategy": "ddp", "devices": 2}})
    monkeypatch.setattr(trainer, "is_multirun", lambda: True)
    for name in ("TORCHELASTIC_RUN_ID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="multirun"):
        trainer.check_placement(cfg)  # joblib / submitit_local: the job would spawn its own ranks
    monkeypatch.setenv("SLURM_NTASKS", "2")  # submitit_slurm with tasks_per_node=2: SLURM started them
    trainer.check_placement(cfg)


@pytest.mark.parametrize("env, zero", [
    ({}, True), ({"LOCAL_RANK": "1"}, False), ({"NODE_RANK": "1"}, False),  # Lightning's own launch
    ({"RANK": "2", "LOCAL_RANK": "0", "GROUP_RANK": "1"}, False),  # torchrun, second node
    ({"SLURM_PROCID": "3"}, False), ({"SLURM_PROCID": "0"}, True),  # srun
])
def test_rank_zero_from_every_launcher(monkeypatch, env, zero):
    from mtl_music.training.trainer import RANK_VARIABLES, is_rank_zero

    for name in RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert is_rank_zero() is zero
