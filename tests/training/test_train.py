"""End-to-end training on the tiny synthetic dataset: run directory, resume, validation
errors, inactive branches, joint mode, loggers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mtl_music.config import compose
from mtl_music.errors import ConfigError

from tests.helpers.tiny_dataset import tiny_train_overrides


def small_k(*names):
    """The tiny dataset has 32 tracks and 6 tags: k = 3 topics / mixture components."""
    return [f"source.{n}.k=3" for n in names if n != "self"]


def _cfg(root, run_dir, *extra):
    cfg = compose("train", [*tiny_train_overrides(root), f"paths.output_dir={run_dir}", "epochs=1",
                            "validation.batches_per_source=1", *extra])
    explicit = {e.split("=")[0] for e in extra}
    for name in cfg.source:
        if name != "self" and f"source.{name}.k" not in explicit:
            cfg.source[name].k = 3
    return cfg


def test_train_writes_a_complete_run_directory(tiny_root, tmp_path):
    from mtl_music.train import run

    result = run(_cfg(tiny_root, tmp_path / "run", "source=[tag,bpm]", "arch=ms_cr@4"))
    run_dir = Path(result.run_dir)
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["arch"] == "ms_cr@4"
    assert set(summary["sources"]) == {"tag", "bpm"}
    assert summary["representation_dim"] == 512
    # 8 steps of 8 crops; the first 4 (at most half) are warm-up: 4 timed.
    speed = summary["throughput"]
    assert speed["warmup_batches"] == 4 and speed["samples"] == 32 and speed["samples_per_s"] > 0 and 0 <= speed["between_share"] < 1
    assert speed["window"][0] <= speed["window"][1]
    assert "val/tag_loss" in result.metrics and "val/bpm_loss" in result.metrics
    metrics_csv = (run_dir / "csv" / "version_0" / "metrics.csv").read_text()
    assert "val/loss" in metrics_csv and "train/loss" in metrics_csv
    assert "train/tag_loss" in metrics_csv and "train/bpm_loss" in metrics_csv  # per source, once an epoch
    assert result.metrics["train/tag_loss"] > 0
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["hyper_parameters"]["sources"] == {"tag": 3, "bpm": 3}
    assert torch.count_nonzero(ckpt["state_dict"]["band_std"] != 1) > 0  # the train statistics are stored


def test_resumed_run_equals_uninterrupted_run(tiny_root, tmp_path):
    from mtl_music.train import run

    common = ["source=[tag,bpm,self]", "arch=ms_cr@2"]
    full = run(_cfg(tiny_root, tmp_path / "full", *common, "epochs=2"))
    # The "killed" run: it stopped after its first epoch, then resumes from last.ckpt.
    run(_cfg(tiny_root, tmp_path / "killed", *common, "epochs=1"))
    resumed = run(_cfg(tiny_root, tmp_path / "killed", *common, "epochs=2", "ckpt=last"))
    a = torch.load(full.last_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(resumed.last_checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    # The first attempt's metrics are kept beside the resumed attempt's.
    assert len(list((tmp_path / "killed" / "csv").glob("version_*/metrics.csv"))) == 2


def test_inactive_branches_are_not_moved(tiny_root, tmp_path):
    """Weight decay and Adam momentum must not touch a branch whose source was not drawn."""
    from mtl_music.training import MultiSourceModule

    module = MultiSourceModule(
        arch=dict(compose("train", ["arch=ms_cr@4"]).arch), trunk=dict(compose("train").trunk),
        sources={"tag": 3, "bpm": 3}, frontend={"n_mels": 128}, optim={"lr": 1e-2, "weight_decay": 1e-2},
    )
    module.train()
    opt = module.configure_optimizers()
    x = torch.randn(4, 2, 216, 128)
    z = torch.softmax(torch.randn(4, 3), -1)

    def step(source):
        # What Lightning does around training_step: zero_grad, loss, backward, hook, step.
        opt.zero_grad(set_to_none=True)
        loss = module._losses({"source": source, "x": x, "z": z})[source]
        module._active = {source}
        loss.backward()
        module.on_before_optimizer_step(opt)
        opt.step()

    step("bpm")  # bpm now has Adam moments and would drift under decay or momentum
    bpm_only = {id(p) for p in module.network.source_parameters("bpm")} - {
        id(p) for p in module.network.source_parameters("tag")}
    before = {n: p.detach().clone() for n, p in module.named_parameters() if id(p) in bpm_only}
    assert before
    for _ in range(3):
        step("tag")
    for n, p in module.named_parameters():
        if n in before:
            assert torch.equal(p, before[n]), n
            assert int(opt.state[p]["step"]) == 1, n  # Adam's moments were not advanced either


@pytest.mark.parametrize("extra", [
    ["source=[tag,bpm]", "arch=ss_r"],
    ["source=[tag]", "training.sampling=sometimes"],
])
def test_invalid_configurations_fail_before_training(tiny_root, tmp_path, extra):
    from mtl_music.train import run

    with pytest.raises(ConfigError) as err:
        run(_cfg(tiny_root, tmp_path / "bad", *extra))
    assert not (tmp_path / "bad" / "checkpoints").exists()
    assert "choose" in str(err.value) or "ss_r" in str(err.value)


def test_a_source_without_labels_in_the_dataset_fails_with_the_usable_ones(tiny_root, tmp_path):
    from mtl_music.train import run

    # Point the tag source at a tag database whose track ids are not in this dataset.
    import sqlite3

    db = tmp_path / "other_tags.db"
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT); "
                      "CREATE TABLE tid_tag (tid INTEGER, tag INTEGER, val FLOAT);"
                      "INSERT INTO tids VALUES ('TROTHER000000000001'); INSERT INTO tids VALUES ('TROTHER000000000002');"
                      "INSERT INTO tags VALUES ('x'); INSERT INTO tags VALUES ('y');"
                      "INSERT INTO tid_tag VALUES (1, 1, 100); INSERT INTO tid_tag VALUES (2, 2, 100);")
    con.commit()
    con.close()
    with pytest.raises(ConfigError, match="tag") as err:
        run(_cfg(tiny_root, tmp_path / "nolabels", "source=[tag,bpm]", "arch=mss_cr", f"source.tag.reader.path={db}",
                 "source.tag.k=2"))
    assert "bpm" in str(err.value)


def test_unknown_source_and_strategy_list_the_valid_choices():
    with pytest.raises(ConfigError) as err:
        compose("train", ["source=[tag,nosuchsource]"])
    assert "nosuchsource" in str(err.value) and "bpm" in str(err.value) and "lyrics" in str(err.value)
    with pytest.raises(ConfigError) as err:
        compose("train", ["arch=ms_cr@3"])
    assert "ms_cr@4" in str(err.value) and "mss_cr" in str(err.value)
    with pytest.raises(ConfigError, match="nope"):
        compose("train", ["source=[tag],[tag,nope]"])  # sweep syntax


def test_unknown_source_on_the_command_line_exits_with_the_valid_choices(tmp_path):
    proc = _train_cli(["source=[tag,nosuchsource]"], tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "nosuchsource" in proc.stderr and "cdr_tag" in proc.stderr and "Traceback" not in proc.stderr


def test_joint_sampling_with_uncertainty_weighting_trains(tiny_root, tmp_path):
    from mtl_music.train import run

    result = run(_cfg(tiny_root, tmp_path / "joint", "source=[tag,bpm,self]", "arch=ms_sr@fc",
                      "training.sampling=joint", "training.loss_weighting=uncertainty"))
    ckpt = torch.load(result.last_checkpoint, map_location="cpu", weights_only=False)
    log_vars = {k: v for k, v in ckpt["state_dict"].items() if "log_vars" in k}
    assert len(log_vars) == 3 and all(v.abs() > 0 for v in log_vars.values())  # every head moved every step


@pytest.mark.parametrize("logger", ["tensorboard", "wandb"])
def test_other_loggers_write_offline(tiny_root, tmp_path, logger):
    from mtl_music.train import run

    result = run(_cfg(tiny_root, tmp_path / logger, "source=[bpm]", "arch=ss_r", f"logger={logger}",
                      "limit_train_steps=2"))
    run_dir = Path(result.run_dir)
    if logger == "tensorboard":
        assert list((run_dir / "tensorboard").rglob("events.out.tfevents*"))
    else:
        assert list((run_dir / "wandb").glob("offline-run-*"))


def _train_cli(args, cwd, env_extra=None, timeout=600):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_MODE": "offline", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "mtl_music.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_keeps_ranks_identical(tiny_root, tmp_path):
    run_dir = tmp_path / "ddp"
    proc = _train_cli([
        *tiny_train_overrides(tiny_root), *small_k("tag", "bpm"), "source=[tag,bpm,self]", "arch=ms_cr@4", "epochs=2",
        "validation.batches_per_source=1", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
        "trainer.precision=32-true", "model.channels_last=false", f"hydra.run.dir={run_dir}",
    ], cwd=tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sync = json.loads((run_dir / "ddp_sync.json").read_text())
    assert sync["identical"] is True and len(sync["digests"]) == 2
    digests = [json.loads((run_dir / f"rank_{r}.digest.json").read_text()) for r in (0, 1)]
    assert digests[0]["digest"] == digests[1]["digest"] and digests[0]["global_step"] > 0


@pytest.mark.slow
def test_cli_run_and_sweep(tiny_root, tmp_path):
    common = [*tiny_train_overrides(tiny_root), "epochs=1", "validation.batches_per_source=1", "limit_train_steps=2"]
    single = _train_cli([*common, *small_k("tag", "bpm"), "source=[tag,bpm]", "arch=ms_cr@4", f"hydra.run.dir={tmp_path / 'one'}"], tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    assert (tmp_path / "one" / ".hydra" / "config.yaml").is_file()
    assert "best checkpoint" in single.stdout

    # k (topics / mixture components of every source, 50 in the paper) is one top-level value
    sweep = _train_cli(["-m", *common, "source=[tag],[tag,bpm]", "k=3", "arch=ss_r,ms_cr@2,ms_sr@fc",
                        f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert len(jobs) == 6
    trained = [j for j in jobs if (j / "summary.json").is_file()]
    skipped = [j for j in jobs if (j / "SKIPPED.txt").is_file()]
    # ss_r takes one source and the multi-source strategies two or more: three jobs train, and
    # the three impossible ones are skipped with their reason instead of ending the sweep.
    assert len(trained) == 3 and len(skipped) == 3
    assert {json.loads((j / "summary.json").read_text())["arch"] for j in trained} == {"ss_r", "ms_cr@2", "ms_sr@fc"}
    assert any("ss_r" in (j / "SKIPPED.txt").read_text() for j in skipped)


def test_multirun_with_in_process_ddp_is_refused(tiny_root, tmp_path):
    proc = _train_cli(["-m", *tiny_train_overrides(tiny_root), "source=[bpm]", "arch=ss_r", "trainer=ddp",
                       "trainer.accelerator=cpu", "trainer.devices=2", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                      tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "multirun" in (proc.stdout + proc.stderr).lower()
