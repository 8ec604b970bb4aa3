"""`mtl_music.study` end to end on the tiny dataset: design → training + transfer → analysis."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.helpers.region_target import write_region_target
from tests.helpers.tiny_dataset import tiny_train_overrides


def test_study_runs_design_training_and_analysis(tiny_root, tmp_path):
    from mtl_music import study
    from mtl_music.config import compose

    if not (tiny_root / "demo_region").exists():
        write_region_target(tiny_root / "demo_region")
    # the study config would resolve ${...} inside its own strings: give the manifest as a path
    train = [o if not o.startswith("data.manifest=") else f"data.manifest={tiny_root / 'tiny' / 'manifest.tsv'}"
             for o in tiny_train_overrides(tiny_root)]
    train += ["k=3", "epochs=1",
             "limit_train_steps=2", "validation.batches_per_source=1", "target=[demo_region]",
             "evaluation.baselines=[]", "evaluation.repetitions=2", "evaluation.num_workers=0"]
    quoted = ",".join(f'"{o}"' for o in train)
    cfg = compose("study", [f"paths.output_dir={tmp_path / 'study'}", "sources=[tag,bpm,year]",
                            "strategies=[ss_r,ms_cr@4,ms_sr@fc]", "budget.phase3_runs=1", f"train_overrides=[{quoted}]",
                            "bootstrap_samples=5"])
    report = Path(study.run(cfg))
    assert report.is_file() and "## Findings" in report.read_text()
    runs = sorted(p.parent.name for p in (tmp_path / "study").glob("r*/transfer.csv"))
    # 3 single-source runs, 2 all-source runs (one per multi-source strategy), 1 greedy pair
    assert runs == ["r000", "r001", "r002", "r003", "r004", "r005"]
    rows = list(csv.DictReader((tmp_path / "study" / "r003" / "transfer.csv").open()))
    assert {r["sources"] for r in rows} == {"tag+bpm+year"}
    # a second call resumes: every run is done, nothing is trained again
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "study").glob("r*/transfer.csv")}
    study.run(cfg)
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "study").glob("r*/transfer.csv")}


def test_study_on_a_hydra_launcher_runs_every_row_as_a_job(tiny_root, tmp_path):
    # hydra/launcher=basic is Hydra's own sequential launcher: the same path as joblib or
    # submitit_slurm (python -m mtl_music.train -m design.dir=... 'design.row=range(0,N)').
    from mtl_music import study
    from mtl_music.config import compose

    if not (tiny_root / "demo_region").exists():
        write_region_target(tiny_root / "demo_region")
    train = [o if not o.startswith("data.manifest=") else f"data.manifest={tiny_root / 'tiny' / 'manifest.tsv'}"
             for o in tiny_train_overrides(tiny_root)]
    train += ["k=3", "epochs=1", "limit_train_steps=2", "validation.batches_per_source=1", "target=[demo_region]",
              "evaluation.baselines=[]", "evaluation.repetitions=2", "evaluation.num_workers=0"]
    quoted = ",".join(f'"{o}"' for o in train)
    cfg = compose("study", [f"paths.output_dir={tmp_path / 'study'}", "sources=[tag,bpm,year]",
                            "strategies=[ss_r,ms_cr@4,ms_sr@fc]", "budget.phase3_runs=1", f"train_overrides=[{quoted}]",
                            "bootstrap_samples=5", "launcher=basic"])
    report = Path(study.run(cfg))
    assert report.is_file() and "## Findings" in report.read_text()
    runs = sorted(p.parent.name for p in (tmp_path / "study").glob("r*/transfer.csv"))
    assert runs == ["r000", "r001", "r002", "r003", "r004", "r005"]
    assert len(list((tmp_path / "study" / "jobs").iterdir())) >= 6  # one Hydra job folder per row
