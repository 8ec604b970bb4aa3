"""Run directories of jobs started in the same second never collide (conf/hydra/default.yaml:
``<time>_${run_id:}``), while one run, one sweep and the ranks of one torchrun job agree on theirs."""

from __future__ import annotations

import re
import types

from omegaconf import OmegaConf

import mtl_music.config as config
from mtl_music.config import compose, run_id


def test_two_runs_composed_in_the_same_second_get_two_folders(monkeypatch):
    monkeypatch.setattr(config, "time", types.SimpleNamespace(strftime=lambda fmt: "2026-01-01_00-00-00"))
    first, second = (str(compose("prepare").paths.output_dir) for _ in range(2))
    assert first != second
    for folder in (first, second):
        assert re.fullmatch(r"outputs/prepare/2026-01-01_00-00-00_[0-9a-f]{6}", folder), folder


def test_hydra_resolves_one_run_id_per_config_and_new_ones_for_other_configs():
    rule = OmegaConf.to_container(OmegaConf.load(config.CONF_DIR / "hydra" / "default.yaml"), resolve=False)
    assert rule["run"]["dir"].endswith("}_${run_id:}") and rule["sweep"]["dir"].endswith("}_${run_id:}")
    one = OmegaConf.create({"dir": "x_${run_id:}", "again": "${dir}"})
    assert one.dir == one.dir == one.again  # cached: one run resolves one folder
    copy = OmegaConf.create({"dir": "x_${run_id:}"})
    OmegaConf.copy_cache(from_config=one, to_config=copy)  # what Hydra does for every job of a sweep
    assert copy.dir == one.dir
    others = {OmegaConf.create({"dir": "x_${run_id:}"}).dir for _ in range(20)}
    assert len(others) == 20


def test_the_ranks_of_one_torchrun_job_share_their_run_id(monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    rank = run_id()
    assert rank == run_id() and re.fullmatch(r"[0-9a-f]{6}", rank)
    monkeypatch.setenv("MASTER_PORT", "29501")  # another job running at the same time
    assert run_id() != rank
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    assert run_id() != run_id()
