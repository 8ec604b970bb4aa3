"""Gathering a sweep's transfer.csv files (mtl_music.analysis.collect)."""

from __future__ import annotations

import pytest

from mtl_music.analysis import collect
from mtl_music.errors import DataError

from tests.helpers.analysis import write_sweep


def test_collect_reads_a_nested_sweep(tmp_path):
    sweep = write_sweep(tmp_path / "sweep", n_runs=12, targets=2, repetitions=3)
    found = collect.collect_runs(runs_dir=sweep)

    scores = found.scores
    assert len(scores) == 12 * 2 and scores["run_id"].nunique() == 12
    assert (scores["n_repetitions"] == 3).all()  # one score = mean over the repetitions
    assert set(scores["strategy"]) <= set(collect.STRATEGIES)
    assert found.sources == [s for s in collect.PAPER_SOURCE_ORDER if s in found.sources]
    row = scores.iloc[0]
    assert row["n_sources"] == len(row["sources"].split("+")) == sum(row[s] for s in found.sources)
    # Baselines are kept apart, one row per (run folder, baseline, target).
    assert set(found.baselines["baseline"]) == {"rand", "mfcc"} and len(found.baselines) == 12 * 2 * 2
    assert len(found.summaries) == 12 and found.summaries["k"].iloc[0]
    # design.csv phases matched to the run folders; the skipped job is reported.
    assert set(scores["phase"]) == {1, 3}
    assert any("SKIPPED" in note for note in found.notes)
    assert found.alias is None


def test_metric_choice_and_flat_layout(tmp_path):
    sweep = write_sweep(tmp_path / "flat", n_runs=6, targets=1, repetitions=1, nested=False)
    for path in sweep.glob("*/transfer.csv"):  # a second metric on every row
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines + [l.replace(",accuracy,", ",f1,") for l in lines[1:]]) + "\n")
    found = collect.collect_runs(runs_dir=sweep)
    assert set(found.scores["metric"]) == {"accuracy"} and any("f1" in n for n in found.notes)
    chosen = collect.collect_runs(runs_dir=sweep, metrics={"target0": "f1"})
    assert set(chosen.scores["metric"]) == {"f1"}
    with pytest.raises(DataError, match="metrics.target0=ndcg"):
        collect.collect_runs(runs_dir=sweep, metrics={"target0": "ndcg@500"})


def test_a_multilabel_target_is_analysed_on_its_primary_metric():
    import pandas as pd

    from mtl_music.targets import TASK_METRICS

    # every task's primary metric is preferred, so roc_auc wins over pr_auc (alphabetically first)
    assert set(TASK_METRICS.values()) <= set(collect.METRIC_PREFERENCE)
    learned = pd.DataFrame({"target": ["tags", "tags", "genre"], "metric": ["pr_auc", "roc_auc", "accuracy"]})
    notes: list[str] = []
    chosen = collect._choose_metrics(learned, metrics={}, notes=notes)
    assert dict(zip(chosen["target"], chosen["metric"])) == {"genre": "accuracy", "tags": "roc_auc"}
    assert any("tags" in note and "roc_auc" in note for note in notes)


def test_empty_or_missing_folders_are_data_errors(tmp_path):
    (tmp_path / "empty" / "run0").mkdir(parents=True)
    with pytest.raises(DataError, match=r"runs=.*empty: no transfer.csv"):
        collect.collect_runs(runs_dir=tmp_path / "empty")
    with pytest.raises(DataError, match="no such folder"):
        collect.collect_runs(runs_dir=tmp_path / "nope")
    baselines_only = tmp_path / "baselines" / "run0"
    baselines_only.mkdir(parents=True)
    (baselines_only / "transfer.csv").write_text(
        "run,strategy,sources,target,repetition,metric,value\nmfcc,mfcc,,gtzan,0,accuracy,0.5\n")
    with pytest.raises(DataError, match="only baseline rows"):
        collect.collect_runs(runs_dir=tmp_path / "baselines")


def test_alias_csv_is_read_and_checked(tmp_path):
    good = tmp_path / "alias.csv"
    good.write_text(",a,b\na,1,0.1\nb,0.1,1\n")
    assert collect.read_alias(path=good).loc["a", "b"] == 0.1
    bad = tmp_path / "bad.csv"
    bad.write_text(",a\na,x\n")
    with pytest.raises(DataError, match="numbers only"):
        collect.read_alias(path=bad)
