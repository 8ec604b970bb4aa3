"""The design as a sweep: every line composes as a training config; the files; the app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from mtl_music.config import compose
from mtl_music.experiment import build_design, parse_override_line, write_sweep
from mtl_music.design import run
from mtl_music.errors import ConfigError
from mtl_music.models import build_network
from mtl_music.paper import STRATEGIES

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(sources=["self", "bpm", "tag"], strategies=list(STRATEGIES),
             phase1_repeats=1, phase2_repeats=1, phase3_runs=6, seed=0, train_seed=100)


@pytest.fixture(scope="module")
def small_design():
    return build_design(**SMALL, train_overrides=["epochs=3"])


def test_every_line_composes_into_the_run_it_describes(small_design):
    assert set(small_design["strategy"]) == set(SMALL["strategies"])  # every strategy is exercised
    checked_networks = set()
    for row in small_design.itertuples(index=False):
        cfg = compose("train", parse_override_line(row.overrides))
        names = row.sources.split("+")
        assert cfg.arch.name == row.strategy
        assert list(cfg.source) == names
        assert cfg.seed == row.seed and cfg.epochs == 3
        # ss_r takes exactly one source, the others two or more: the builder's own check, on meta.
        key = (row.strategy, len(names))
        if key not in checked_networks:
            checked_networks.add(key)
            with torch.device("meta"):
                build_network(arch=cfg.arch, trunk=cfg.trunk, sources={n: 50 for n in names})


def test_train_overrides_may_not_set_what_the_design_sets():
    with pytest.raises(ConfigError, match="sets seed"):
        build_design(**SMALL, train_overrides=["seed=3"])
    with pytest.raises(ConfigError, match="Valid trainer options"):
        build_design(**SMALL, train_overrides=["trainer=tpu"])


def test_files_and_script(small_design, tmp_path):
    files = write_sweep(design=small_design, output_dir=tmp_path)
    assert pd.read_csv(files.design_csv).equals(small_design)
    lines = files.runs_txt.read_text().splitlines()
    assert lines == list(small_design["overrides"])
    assert os.access(files.script, os.X_OK)
    # The script, with a stand-in python that records its arguments and "trains" by writing summary.json.
    fake = tmp_path / "fake_python"
    fake.write_text('#!/usr/bin/env bash\ncat >/dev/null\nfor a in "$@"; do case $a in hydra.run.dir=*) d=${a#*=};; esac; done\n'
                    'mkdir -p "$d"; printf "%s\\n" "$@" > "$d/args"; echo {} > "$d/summary.json"\n')
    fake.chmod(0o755)
    (tmp_path / "runs" / "r001").mkdir(parents=True)
    (tmp_path / "runs" / "r001" / "summary.json").write_text("{}")  # already done: skipped
    env = {**os.environ, "PYTHON": str(fake)}
    out = subprocess.run([str(files.script), "trainer=cpu"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "r001 done, skipped" in out.stdout
    assert not (tmp_path / "runs" / "r001" / "args").exists()
    run_dirs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert run_dirs == list(small_design["run_id"])
    args = (tmp_path / "runs" / "r003" / "args").read_text().splitlines()
    row = small_design.iloc[3]
    assert args == ["-m", "mtl_music.train", f"hydra.run.dir={tmp_path}/runs/r003", *parse_override_line(row.overrides),
                    "trainer=cpu"]


def test_app_writes_the_design_and_its_alias_matrix(tmp_path):
    cfg = compose("design", [f"paths.output_dir={tmp_path}", "phase1.repeats=1", "phase2.repeats=1", "phase3.runs=30"])
    result = run(cfg)
    assert len(result.design) == 8 + 5 + 30
    for name in ("design.csv", "runs.txt", "run_design.sh", "alias_matrix.csv"):
        assert (tmp_path / name).is_file()
    alias = pd.read_csv(tmp_path / "alias_matrix.csv", index_col=0)
    assert alias.shape == (14, 14) and list(alias.index[-6:]) == list(cfg.strategies)
    assert set(result.max_aliasing) == {"all", "3"}


def test_cli_unknown_source_exits_2_with_the_valid_choices(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mtl_music.design", "sources=[tag,nope]", f"paths.output_dir={tmp_path}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "'nope'" in out.stderr and "cdr_tag" in out.stderr
