"""``python -m mtl_music.compare``: representations side by side (mtl_music.analysis.leaderboard),
on results files written by ResultsTable."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mtl_music import compare
from mtl_music.analysis import leaderboard as lb
from mtl_music.config import compose
from mtl_music.errors import ConfigError, DataError
from mtl_music.evaluation.results import ResultsTable

REPO = Path(__file__).resolve().parents[2]

#: Planted clean scores per (run, layer) on (gtzan accuracy, mtat roc_auc, mtat pr_auc).
PLANTED = {("mfcc", ""): (0.50, 0.70, 0.30), ("rand", ""): (0.40, 0.60, 0.20),
           ("net", ""): (0.80, 0.85, 0.45), ("net", "conv3"): (0.70, 0.90, 0.40)}
SPREAD = np.array([-0.02, 0.0, 0.01, 0.03])  # the repetitions' offsets around the planted mean


def _write_results(path: Path, *, deformed: bool = True) -> Path:
    table = ResultsTable()
    for (run, layer), scores in PLANTED.items():
        strategy, sources = {"mfcc": ("MFCC", ""), "rand": ("Rand", "")}.get(run, ("SS-R", "tag"))
        for (target, metric), score in zip((("gtzan", "accuracy"), ("mtat", "roc_auc"), ("mtat", "pr_auc")), scores):
            table.extend(run=run, strategy=strategy, sources=sources, layer=layer, target=target, metric=metric,
                         values=score + SPREAD)
            if deformed and target == "gtzan":
                for snr, loss in ((20, 0.05), (0, 0.25)):
                    table.extend(run=run, strategy=strategy, sources=sources, layer=layer, target=target,
                                 metric=metric, values=score - loss + SPREAD, condition=f"noise:snr={snr}")
    return table.to_csv(path)


def _cfg(tmp_path, *overrides):
    return compose("compare", [f"paths.output_dir={tmp_path / 'out'}", *overrides])


def test_summary_intervals_are_student_t_over_repetitions(tmp_path):
    path = _write_results(tmp_path / "a" / "transfer.csv")
    rows, notes = lb.read_inputs(paths=[path])
    summary = lb.summarize(rows=rows)
    assert notes == [] and list(summary.columns) == list(lb.SUMMARY_COLUMNS)
    line = summary[(summary["label"] == "net@conv3") & (summary["target"] == "mtat")
                   & (summary["metric"] == "roc_auc")].iloc[0]
    values = 0.90 + SPREAD
    half = stats.t.ppf(0.975, df=len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    assert line["n"] == 4 and line["mean"] == pytest.approx(values.mean())
    assert line["std"] == pytest.approx(values.std(ddof=1))
    assert line["half_ci"] == pytest.approx(half) and line["ci_low"] == pytest.approx(values.mean() - half)
    assert line["ci_high"] == pytest.approx(values.mean() + half)
    # 90 %: a narrower interval from t(0.95, 3)
    narrow = lb.summarize(rows=rows, confidence=0.9)
    assert narrow.loc[line.name, "half_ci"] == pytest.approx(half * stats.t.ppf(0.95, 3) / stats.t.ppf(0.975, 3))
    # one repetition: no interval, and the cell says so
    single = lb.summarize(rows=rows[rows["repetition"] == 0])
    assert (single["n"] == 1).all() and single[["std", "half_ci", "ci_low", "ci_high"]].isna().all().all()
    assert lb.format_cell(mean=0.5, half_ci=float("nan"), n=1) == "0.500 (n=1)"
    with pytest.raises(ConfigError, match="confidence=1.5"):
        lb.summarize(rows=rows, confidence=1.5)


def test_leaderboard_labels_layers_marks_the_best_and_orders_rows(tmp_path):
    rows, _ = lb.read_inputs(paths=[_write_results(tmp_path / "transfer.csv")])
    summary = lb.summarize(rows=rows)
    board = lb.leaderboard(summary=summary)
    assert list(board.mean.columns) == ["gtzan/accuracy", "mtat/pr_auc", "mtat/roc_auc"]
    # by the mean over columns: net (0.70), net@conv3 (0.667), mfcc (0.5), rand (0.4)
    assert list(board.mean.index) == ["net", "net@conv3", "mfcc", "rand"]
    assert board.best == {"gtzan/accuracy": ["net"], "mtat/pr_auc": ["net"], "mtat/roc_auc": ["net@conv3"]}
    text = lb.leaderboard_markdown(board=board)
    net_line = next(l for l in text.splitlines() if l.startswith("| net |"))
    conv3_line = next(l for l in text.splitlines() if l.startswith("| net@conv3 |"))
    half = board.half_ci.at["net", "gtzan/accuracy"]
    assert f"**{0.80 + SPREAD.mean():.3f} ± {half:.3f}**" in net_line
    assert conv3_line.count("**") == 2 and f"**{0.90 + SPREAD.mean():.3f} ±" in conv3_line
    # one metric per target, a subset in the given order
    picked = lb.leaderboard(summary=summary, metrics={"mtat": "roc_auc"}, include=["rand", "net*"], order="given")
    assert list(picked.mean.columns) == ["gtzan/accuracy", "mtat/roc_auc"]
    assert list(picked.mean.index) == ["rand", "net", "net@conv3"]


def test_robustness_drop_from_clean(tmp_path):
    rows, _ = lb.read_inputs(paths=[_write_results(tmp_path / "transfer.csv")])
    table = lb.robustness(summary=lb.summarize(rows=rows))
    assert set(table["condition"]) == {"noise:snr=20", "noise:snr=0"} and set(table["kind"]) == {"noise"}
    line = table[(table["label"] == "net") & (table["condition"] == "noise:snr=0")].iloc[0]
    assert line["strength"] == "snr=0" and line["strength_value"] == 0.0
    assert line["clean"] == pytest.approx(0.80 + SPREAD.mean()) and line["mean"] == pytest.approx(0.55 + SPREAD.mean())
    assert line["drop"] == pytest.approx(0.25) and line["relative_drop"] == pytest.approx(0.25 / line["clean"])
    assert lb.parse_condition("codec:mp3@64") == ("codec", "mp3@64", 64.0)
    assert lb.parse_condition("gain=-12")[::2] == ("gain", -12.0)
    clean_only, _ = lb.read_inputs(paths=[_write_results(tmp_path / "clean.csv", deformed=False)])
    assert lb.robustness(summary=lb.summarize(rows=clean_only)).empty


def test_run_merges_files_and_writes_tables_and_figures(tmp_path, capsys):
    folder = tmp_path / "runs"
    _write_results(folder / "job0" / "transfer.csv")
    _write_results(folder / ".hydra" / "transfer.csv")  # hidden: skipped
    extra = ResultsTable()
    extra.add(run="net", strategy="SS-R", sources="tag", target="gtzan", repetition=0, metric="accuracy", value=0.99)
    extra.add(run="hear", strategy="HEAR", sources="", target="gtzan", repetition=0, metric="accuracy", value=0.6)
    later = extra.to_csv(tmp_path / "later.csv")

    result = compare.run(_cfg(tmp_path, f"results=[{folder},{later}]", "+metrics.mtat=roc_auc"))
    out = tmp_path / "out"
    for name in ("compare.csv", "compare.md", "robustness.csv", "compare.png", "compare.pdf", "robustness.png"):
        assert (out / name).stat().st_size > 0, name
    assert result.notes and "later.csv: 1 row(s)" in result.notes[0] and "last file wins" in result.notes[0]
    summary = pd.read_csv(out / "compare.csv", keep_default_na=False, na_values=[""])
    net = summary[(summary["label"] == "net") & (summary["condition"] == "clean") & (summary["metric"] == "accuracy")]
    assert net["mean"].iloc[0] == pytest.approx((0.99 + 0.80 + 0.81 + 0.83) / 4)  # the later file's rep 0
    assert summary.loc[summary["label"] == "hear", "half_ci"].isna().all()
    printed = capsys.readouterr().out
    assert "| representation | gtzan/accuracy | mtat/roc_auc |" in printed and "0.600 (n=1)" in printed
    assert "## Robustness" in (out / "compare.md").read_text()


def test_command_line(tmp_path):
    path = _write_results(tmp_path / "transfer.csv")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "MTL_MUSIC_TRACEBACK": ""}
    done = subprocess.run([sys.executable, "-m", "mtl_music.compare", f"results=[{path}]", "include=[net*]",
                           "figures=false", f"hydra.run.dir={tmp_path / 'out'}"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| net |" in done.stdout and "| mfcc |" not in done.stdout
    assert (tmp_path / "out" / "compare.md").is_file() and not (tmp_path / "out" / "compare.png").exists()
    bad = subprocess.run([sys.executable, "-m", "mtl_music.compare", f"results=[{path}]", "+metrics.gtzan=f1",
                          f"hydra.run.dir={tmp_path / 'bad'}"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "metrics.gtzan=f1" in bad.stderr and "available: accuracy" in bad.stderr


def test_errors(tmp_path):
    good = _write_results(tmp_path / "transfer.csv")
    picture = tmp_path / "figure.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 20)
    with pytest.raises(DataError, match="figure.png"):
        compare.run(_cfg(tmp_path, f"results=[{good},{picture}]"))
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="other.csv has columns"):
        compare.run(_cfg(tmp_path, f"results=[{other}]"))
    empty = tmp_path / "empty" / "transfer.csv"
    empty.parent.mkdir()
    empty.write_text("run,strategy,sources,layer,target,condition,repetition,metric,value\n")
    with pytest.raises(DataError, match="no result rows"):
        compare.run(_cfg(tmp_path, f"results=[{empty}]"))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="no transfer.csv below"):
        compare.run(_cfg(tmp_path, f"results=[{tmp_path / 'nothing'}]"))
    with pytest.raises(DataError, match="no such file or folder"):
        compare.run(_cfg(tmp_path, f"results=[{tmp_path / 'missing.csv'}]"))
    with pytest.raises(ConfigError, match="available: pr_auc, roc_auc"):
        compare.run(_cfg(tmp_path, f"results=[{good}]", "+metrics.mtat=ndcg@500"))
    with pytest.raises(ConfigError, match="no results for target 'msd'"):
        compare.run(_cfg(tmp_path, f"results=[{good}]", "+metrics.msd=r2"))
    with pytest.raises(ConfigError, match="include: 'vgg\\*' matches no representation"):
        compare.run(_cfg(tmp_path, f"results=[{good}]", "include=[vgg*]"))
    with pytest.raises(ConfigError, match="order=best"):
        compare.run(_cfg(tmp_path, f"results=[{good}]", "order=best"))
    with pytest.raises(ConfigError, match="results=\\[<transfer.csv or folder>"):
        compare.run(_cfg(tmp_path))
