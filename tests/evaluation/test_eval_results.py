"""The tidy results table (R6.6)."""

from __future__ import annotations

import csv

import pytest

from mtl_music.errors import DataError
from mtl_music.evaluation.results import COLUMNS, ResultsTable, join_sources


def test_roundtrip_summary_and_sources(tmp_path):
    table = ResultsTable()
    table.extend(run="r1", strategy="MSS-CR", sources=["bpm", "tag"], target="gtzan", metric="accuracy",
                 values=[0.5, 0.7, 0.6])
    table.add(run="mfcc", strategy="MFCC", sources=None, target="lastfm", repetition=0, metric="ndcg@500",
              value=0.1234)
    path = table.to_csv(tmp_path / "out" / "results.csv")
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == COLUMNS == ("run", "strategy", "sources", "layer", "target", "condition", "repetition",
                                         "metric", "value")
    assert rows[1] == ["r1", "MSS-CR", "bpm+tag", "", "gtzan", "clean", "0", "accuracy", "0.5"]

    back = ResultsTable.from_csv(path)
    assert back.rows() == table.rows()
    text = back.summary()
    # mean 0.6, sample std 0.1 over the three repetitions
    assert "0.6000 ± 0.1000" in text and "bpm+tag" in text
    assert "0.1234 ± 0.0000" in text
    assert text.splitlines()[0].split() == ["run", "strategy", "sources", "target", "metric", "n", "mean", "±", "std"]
    assert back.to_frame().shape == (4, 9)


def test_to_csv_merges_and_replaces_equal_keys(tmp_path):
    path = tmp_path / "results.csv"
    first = ResultsTable()
    first.extend(run="a", strategy="SS-R", sources="bpm", target="gtzan", metric="accuracy", values=[0.1, 0.2])
    first.to_csv(path)
    second = ResultsTable()
    second.add(run="a", strategy="SS-R", sources="bpm", target="gtzan", repetition=1, metric="accuracy", value=0.9)
    second.add(run="b", strategy="SS-R", sources="tag", target="gtzan", repetition=0, metric="accuracy", value=0.3)
    second.to_csv(path)
    merged = {(r["run"], r["repetition"]): r["value"] for r in ResultsTable.from_csv(path).rows()}
    assert merged == {("a", 0): 0.1, ("a", 1): 0.9, ("b", 0): 0.3}
    assert len(second) == 3  # the writer now holds the merged table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.csv.lock"]  # no temp files left


def test_values_roundtrip_exactly_and_odd_text_is_quoted(tmp_path):
    table = ResultsTable()
    table.add(run='run, "quoted"', strategy="S", sources="", target="t", repetition=0, metric="r2", value=1 / 3)
    table.add(run="n", strategy="S", sources="", target="t", repetition=0, metric="r2", value=float("nan"))
    path = table.to_csv(tmp_path / "r.csv")
    rows = ResultsTable.from_csv(path).rows()
    assert rows[0]["run"] == 'run, "quoted"' and rows[0]["value"] == 1 / 3
    assert rows[1]["value"] != rows[1]["value"]  # NaN survives


def test_errors(tmp_path):
    table = ResultsTable()
    with pytest.raises(DataError, match="not a number"):
        table.add(run="a", strategy="S", sources="", target="t", repetition=0, metric="m", value="high")
    with pytest.raises(DataError, match="repetition"):
        table.add(run="a", strategy="S", sources="", target="t", repetition=-1, metric="m", value=1)
    with pytest.raises(DataError, match="run is empty"):
        table.add(run="", strategy="S", sources="", target="t", repetition=0, metric="m", value=1)
    with pytest.raises(DataError, match="contain '\\+'"):
        join_sources(["a+b", "c"])
    bad = tmp_path / "bad.csv"
    bad.write_text("run,target,value\nx,y,1\n")
    with pytest.raises(DataError, match="not a results file"):
        ResultsTable.from_csv(bad)
    with pytest.raises(DataError, match="not a results file"):
        ResultsTable().to_csv(bad)  # never overwrites a foreign file
    assert bad.read_text() == "run,target,value\nx,y,1\n"
    broken = tmp_path / "broken.csv"
    broken.write_text(",".join(COLUMNS) + "\na,S,,,t,clean,zero,m,1\n")
    with pytest.raises(DataError, match="line 2"):
        ResultsTable.from_csv(broken)
    with pytest.raises(DataError, match="does not exist"):
        ResultsTable.from_csv(tmp_path / "missing.csv")
    assert ResultsTable().summary() == "(no results)"


def test_first_version_files_read_with_the_defaults_and_new_columns_group(tmp_path):
    old = tmp_path / "v1.csv"
    old.write_text("run,strategy,sources,target,repetition,metric,value\nmfcc,mfcc,,gtzan,0,accuracy,0.5\n")
    table = ResultsTable.from_csv(old)
    assert table.rows() == [{"run": "mfcc", "strategy": "mfcc", "sources": "", "layer": "", "target": "gtzan",
                             "condition": "clean", "repetition": 0, "metric": "accuracy", "value": 0.5}]
    table.add(run="mfcc", strategy="mfcc", sources="", target="gtzan", repetition=0, metric="accuracy", value=0.2,
              condition="noise:snr=0")
    table.add(run="r", strategy="ms_cr", sources="tag", target="gtzan", repetition=0, metric="accuracy", value=0.7,
              layer="conv3")
    assert len(table) == 3 and len(table.summary_rows()) == 3
    text = table.summary()
    assert text.splitlines()[0].split()[:6] == ["run", "strategy", "sources", "layer", "target", "condition"]
    table.to_csv(old)  # rewritten in the current layout
    assert old.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert ResultsTable.from_csv(old).rows() == table.rows()
