"""Topic inspection (paper Table 2): the strongest raw labels per topic."""

import os
import subprocess
import sys

from mtl_music.config import compose
from mtl_music.topics import run

from tests.helpers.source_files import STYLES, overrides


def test_inspect_prints_the_strongest_tags_of_each_topic(label_root, capsys):
    cfg = compose("topics", overrides(label_root, "source=[tag,bpm,self]", "source.tag.k=4", "source.bpm.k=4",
                                       "top_n=3"))
    lines = run(cfg)
    out = capsys.readouterr().out
    assert "== tag (crowd, plsa)" in out and "== bpm (feature, gmm)" in out and "== self" in out
    topic_lines = [line for line in lines if line.strip().startswith("tag") and "(" in line]
    assert len(topic_lines) == 4
    # Each planted style's three tags make up one topic, strongest first.
    found = {tuple(part.split(" (")[0] for part in line.split(None, 1)[1].split(", ")) for line in topic_lines}
    assert found == {tuple(style["tags"]) for style in STYLES.values()}
    bpm_means = sorted(float(line.split("mean")[1].split()[0]) for line in lines if line.strip().startswith("bpm"))
    assert [round(m) for m in bpm_means] == [81, 121, 141, 171]


def test_inspect_cli_selects_topics(label_root):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mtl_music.topics", *overrides(label_root), "source=cdr_tag",
         "source.cdr_tag.k=4", "topics=[0,2]", "top_n=1", f"hydra.run.dir={label_root / 'run'}"],
        capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    topic_lines = [line for line in proc.stdout.splitlines() if line.strip().startswith("cdr_tag")]
    assert [line.split()[0] for line in topic_lines] == ["cdr_tag1", "cdr_tag3"]
    assert all("genre/" in line for line in topic_lines)


def test_inspect_cli_reports_a_missing_file_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mtl_music.topics", *overrides(tmp_path), "source=tag",
         f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "lastfm_tags.db" in proc.stderr and "Traceback" not in proc.stderr
