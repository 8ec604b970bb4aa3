"""``python -m mtl_music.analyze``: run(cfg) end to end on a synthetic sweep, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mtl_music import analyze
from mtl_music.config import compose
from mtl_music.errors import ConfigError, DataError

from tests.helpers.analysis import write_sweep

FOUR_SOURCES = ("self", "bpm", "tag", "artist")  # fewer networks to count for Fig. 15


def _demo_region_with_features(data_root, *, per_class: int = 10):
    """A tiny GTZAN-layout ``demo_region`` target (2 classes) and a feature-cache file for it."""
    root = data_root / "demo_region"
    ids = []
    for label in ("north", "south"):
        (root / "genres" / label).mkdir(parents=True)
        for i in range(per_class):
            (root / "genres" / label / f"{label}.{i:05d}.wav").touch()  # the loader only lists files
            ids.append(f"{label}/{label}.{i:05d}")
    (root / "splits").mkdir()
    (root / "splits" / "train_filtered.txt").write_text("\n".join(f"{i}.wav" for i in ids) + "\n")
    (root / "splits" / "valid_filtered.txt").write_text("")
    (root / "splits" / "test_filtered.txt").write_text("")
    features = np.random.default_rng(0).normal(size=(len(ids) + 1, 16)).astype(np.float32)
    path = root / "features" / "abc123.npz"
    path.parent.mkdir()
    np.savez(path, track_ids=np.array(ids + ["other/track"]), features=features)  # one foreign id
    return path


def test_run_writes_report_tables_and_figures(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", n_runs=24, targets=3, sources=FOUR_SOURCES)
    features = _demo_region_with_features(tmp_path / "data")
    cfg = compose("analyze", [f"runs={sweep}", "bootstrap.samples=3", "bootstrap.seed=1",
                              f"paths.data_root={tmp_path / 'data'}", f"tsne.features={features}",
                              "tsne.target=demo_region"])
    report = analyze.run(cfg)

    out = sweep / "analysis"
    assert report == out / "report.md"
    text = report.read_text()
    for heading in ("## Data", "## Findings", "## Model 1", "## Model 2", "(Table 6)", "differs from the paper's lme4"):
        assert heading in text
    for claim in ("outperform single-source", "Strategy order", "number of learning sources"):
        line = next(l for l in text.splitlines() if claim in l)
        assert any(v in line for v in ("holds", "does not hold", "inconclusive", "not testable")), line
    for name in ("fixed_effects_model1", "fixed_effects_model2", "pairwise_model1", "variance_components",
                 "variance_components_table6", "strategy_means", "random_effects", "scores", "findings",
                 "parameters"):
        assert (out / f"{name}.csv").stat().st_size > 0, name
    effects = pd.read_csv(out / "fixed_effects_model1.csv")
    assert {"estimate", "ci_low", "ci_high", "p_boot"} <= set(effects.columns) and (effects["n_boot"] <= 3).all()
    for figure in ("fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "fig14", "fig15", "fig16", "table6"):
        assert (out / "figures" / f"{figure}.png").stat().st_size > 0, figure
        assert f"figures/{figure}.png" in text
    params = pd.read_csv(out / "parameters.csv")
    assert params.loc[params["strategy"] == "ss_r", "n_sources"].tolist() == [1]


def test_run_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no transfer.csv"):
        analyze.run(compose("analyze", [f"runs={tmp_path / 'empty'}"]))
    with pytest.raises(ConfigError, match="runs=<sweep folder> is required"):
        analyze.run(compose("analyze"))
    with pytest.raises(ConfigError, match="tsne.target"):
        analyze._tsne_inputs(compose("analyze", ["runs=x", "tsne.features=f.npz"]))
    with pytest.raises(ConfigError, match="bootstrap.samples=0"):
        write_sweep(tmp_path / "s", n_runs=6, targets=1)
        analyze.run(compose("analyze", [f"runs={tmp_path / 's'}", "bootstrap.samples=0"]))


def test_command_line_reports_a_user_error(tmp_path):
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "MTL_MUSIC_TRACEBACK": ""}
    done = subprocess.run([sys.executable, "-m", "mtl_music.analyze", f"runs={tmp_path / 'empty'}",
                           f"hydra.run.dir={tmp_path / 'hydra'}"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr and "no transfer.csv" in done.stderr
