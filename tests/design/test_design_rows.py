"""A design as one Hydra sweep: job i trains design row i; a rerun skips finished runs and
resumes killed ones; the study runs its rows the same way on a launcher."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtl_music.config import compose
from mtl_music.errors import ConfigError
from tests.helpers.tiny_dataset import tiny_train_overrides

SMALL = ["sources=[tag,bpm,year]", "strategies=[ss_r,ms_cr@4]", "phase1.repeats=1", "phase2.repeats=1",
         "phase3.runs=0"]


def _train_overrides(tiny_root: Path) -> list[str]:
    # the design stores the lines as given: no ${...} that only resolves inside a train config
    train = [o if not o.startswith("data.manifest=") else f"data.manifest={tiny_root / 'tiny' / 'manifest.tsv'}"
             for o in tiny_train_overrides(tiny_root)]
    return [*train, "k=3", "epochs=1", "limit_train_steps=2", "validation.batches_per_source=1"]


def _sweep(design_dir: Path, rows: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mtl_music.train", "-m", f"design.dir={design_dir}",
                           f"design.row={rows}", f"hydra.sweep.dir={design_dir / 'jobs'}"],
                          cwd=design_dir, capture_output=True, text=True, timeout=400)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_design_rows_as_one_sweep_skip_finished_and_resume_killed(tiny_root, tmp_path):
    from mtl_music import design
    from mtl_music.experiment.sweep import design_row

    quoted = ",".join(f'"{o}"' for o in _train_overrides(tiny_root))
    result = design.run(compose("design", [f"paths.output_dir={tmp_path}", *SMALL, f"train_overrides=[{quoted}]"]))
    assert len(result.design) == 4  # 3 single-source runs + 1 all-source run
    assert design_row(tmp_path, 3)[1][:2] == ["arch=ms_cr@4", "source=[tag,bpm,year]"]

    proc = _sweep(tmp_path, "range(0,2)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = {r: tmp_path / "runs" / r / "summary.json" for r in ("r000", "r001")}
    assert all(p.is_file() for p in summaries.values())
    assert list(json.loads(summaries["r000"].read_text())["sources"]) == [design_row(tmp_path, 0)[1][1][8:-1]]

    # Run again: nothing is trained again. Then "kill" r001 after its last epoch (no summary).
    before = {r: p.stat().st_mtime_ns for r, p in summaries.items()}
    summaries["r001"].unlink()
    proc = _sweep(tmp_path, "range(0,2)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summaries["r000"].stat().st_mtime_ns == before["r000"]
    assert summaries["r001"].is_file()
    log = proc.stdout + proc.stderr + "".join(p.read_text() for p in (tmp_path / "jobs").rglob("*.log"))
    assert "is finished" in log and "resuming from" in log


def test_a_design_row_outside_the_design_names_its_size(tmp_path):
    from mtl_music.experiment.sweep import design_row

    with pytest.raises(ConfigError, match="no design.csv"):
        design_row(tmp_path, 0)
    (tmp_path / "design.csv").write_text("run_id,overrides\nr000,arch=ss_r 'source=[tag]' seed=0\n")
    assert design_row(tmp_path, 0) == ("r000", ["arch=ss_r", "source=[tag]", "seed=0"])
    with pytest.raises(ConfigError, match=r"has 1 rows; use design.row=range\(0,1\)"):
        design_row(tmp_path, 1)
