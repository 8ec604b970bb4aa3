"""A tiny real build: audio, manifest, label files in their public formats, targets, leaks,
determinism, idempotence and resume."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtl_music.corpus.labels import LABEL_FILES, SEP
from mtl_music.corpus.text import normalise_title

SR = 22050
N_SAMPLES = 30 * SR


def _paths(cfg):
    return Path(cfg.data.root), Path(cfg.data.manifest), Path(cfg.data.labels_dir), Path(cfg.paths.data_root)


def _manifest(cfg) -> list[dict]:
    with Path(cfg.data.manifest).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _sql_dump(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return [tuple(row) for table in ("tids", "tags", "tid_tag")
                for row in con.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid")]
    finally:
        con.close()


# ------------------------------------------------------------------ audio and manifest


def test_manifest_and_audio_are_real(built_a):
    cfg, report = built_a
    root, manifest, _, _ = _paths(cfg)
    rows = _manifest(cfg)
    assert manifest.read_text().splitlines()[0] == "track_id\tpath\tsplit\tduration"
    assert len(rows) == report.tracks == 24 and not report.failures
    assert {r["split"] for r in rows} == {"train", "valid"}
    assert sum(r["split"] == "valid" for r in rows) in range(1, 6)
    for row in rows:
        assert re.fullmatch(r"TR[0-9A-F]{16}", row["track_id"])
        path = manifest.parent / row["path"]
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.format) == (SR, 2, N_SAMPLES, "OGG")
    for row in rows[:4]:
        audio, sr = sf.read(manifest.parent / row["path"], dtype="float32")
        assert sr == SR and audio.shape == (N_SAMPLES, 2)
        assert np.sqrt(np.mean(audio**2)) > 0.02, "not silent"
        assert np.abs(audio[:, 0] - audio[:, 1]).mean() > 1e-3, "the channels differ"


def test_every_collection_is_drawn(built_a):
    _, report = built_a
    assert set(report.per_collection) == {"essen_german", "oneills", "bach", "palestrina", "monteverdi", "trecento"}
    assert all(count >= 1 for count in report.per_collection.values())


# ------------------------------------------------------------------ label files


def test_lastfm_tags_db_has_the_msd_schema(built_a):
    cfg, _ = built_a
    _, _, labels, _ = _paths(cfg)
    con = sqlite3.connect(labels / "lastfm_tags.db")
    try:
        schema = {t: [(c[1], c[2]) for c in con.execute(f"PRAGMA table_info({t})")] for t in ("tids", "tags", "tid_tag")}
        assert schema == {"tids": [("tid", "TEXT")], "tags": [("tag", "TEXT")],
                          "tid_tag": [("tid", "INTEGER"), ("tag", "INTEGER"), ("val", "FLOAT")]}
        tids = {rowid: tid for rowid, tid in con.execute("SELECT rowid, tid FROM tids")}
        tags = {rowid: tag for rowid, tag in con.execute("SELECT rowid, tag FROM tags")}
        pairs = con.execute("SELECT tid, tag, val FROM tid_tag").fetchall()
    finally:
        con.close()
    assert set(tids.values()) == {r["track_id"] for r in _manifest(cfg)}
    assert all(t in tids and g in tags and 0 < v <= 100 for t, g, v in pairs)
    tagged = {t for t, _, _ in pairs}
    assert len(tagged) >= 0.75 * len(tids), "most tracks have tags"
    assert {"german folk", "irish", "baroque"} & set(tags.values())


def test_text_label_files_parse(built_a):
    cfg, _ = built_a
    _, _, labels, _ = _paths(cfg)
    rows = _manifest(cfg)
    ids = {r["track_id"] for r in rows}
    split = {r["track_id"]: r["split"] for r in rows}

    unique = [line.split(SEP) for line in (labels / "unique_tracks.txt").read_text().splitlines()]
    assert all(len(f) == 4 for f in unique) and {f[0] for f in unique} == ids
    songs = {f[1] for f in unique}
    assert all(re.fullmatch(r"SO[0-9A-F]{16}", s) for s in songs)
    assert len({f[2] for f in unique}) >= 8, "several artists"

    triplets = [line.split("\t") for line in (labels / "train_triplets.txt").read_text().splitlines()]
    assert triplets and all(len(t) == 3 and t[1] in songs and int(t[2]) >= 1 for t in triplets)
    assert all(re.fullmatch(r"[0-9a-f]{40}", t[0]) for t in triplets[:50])

    tempo = (labels / "tempo.tsv").read_text().splitlines()
    assert tempo[0] == "track_id\tbpm"
    bpm = {line.split("\t")[0]: float(line.split("\t")[1]) for line in tempo[1:]}
    assert set(bpm) == ids and all(25 <= b <= 600 for b in bpm.values())
    assert np.median(list(bpm.values())) == pytest.approx(100, rel=0.5)

    years = [line.split(SEP) for line in (labels / "tracks_per_year.txt").read_text().splitlines()]
    assert {y[1] for y in years} == ids and all(1300 <= int(y[0]) <= 2000 for y in years)
    assert [int(y[0]) for y in years] == sorted(int(y[0]) for y in years)

    genres = (labels / "cdr_genres.tsv").read_text().splitlines()
    assert genres[0] == "track_id\tlabel\tweight"
    parsed = [g.split("\t") for g in genres[1:]]
    assert {g[0] for g in parsed} == ids and all(g[1].count("/") >= 2 and float(g[2]) in (1.0, 0.5) for g in parsed)

    for name, wanted_split in (("mxm_dataset_train.txt", "train"), ("mxm_dataset_test.txt", "valid")):
        lines = (labels / name).read_text().splitlines()
        vocab_lines = [line for line in lines if line.startswith("%")]
        assert len(vocab_lines) == 1
        vocabulary = vocab_lines[0][1:].split(",")
        assert 0 < len(vocabulary) <= 5000 and all(w == w.lower() for w in vocabulary)
        body = [line for line in lines if not line.startswith(("#", "%"))]
        for line in body:
            fields = line.split(",")
            assert split[fields[0]] == wanted_split and fields[1].isdigit()
            assert all(1 <= int(i) <= len(vocabulary) and int(c) >= 1 for i, c in (f.split(":") for f in fields[2:]))
    n_lyrics = sum(1 for name in ("mxm_dataset_train.txt", "mxm_dataset_test.txt")
                   for line in (labels / name).read_text().splitlines() if line.startswith("TR"))
    assert n_lyrics >= 8, "Essen titles and chorale texts give lyrics to many tracks"


def test_label_files_are_read_by_the_source_readers(built_a):
    readers = pytest.importorskip("mtl_music.sources.readers")
    base = pytest.importorskip("mtl_music.sources.base")
    cfg, _ = built_a
    _, _, labels, _ = _paths(cfg)
    n = len(_manifest(cfg))

    def report(name):
        return base.SourceReport(source=name)

    results = {
        "tag": readers.read_lastfm_tags(labels / "lastfm_tags.db", report=(r_tag := report("tag"))),
        "taste": readers.read_taste_triplets(labels / "train_triplets.txt", tracks_path=labels / "unique_tracks.txt",
                                             report=(r_taste := report("taste"))),
        "lyrics": readers.read_mxm_lyrics([labels / "mxm_dataset_train.txt", labels / "mxm_dataset_test.txt"],
                                          report=(r_lyrics := report("lyrics"))),
        "year": readers.read_tracks_per_year(labels / "tracks_per_year.txt", report=(r_year := report("year"))),
        "bpm": readers.read_tempo(labels / "tempo.tsv", report=(r_bpm := report("bpm"))),
        "artist": readers.read_artist_tags(labels / "lastfm_tags.db", tracks_path=labels / "unique_tracks.txt",
                                           report=(r_artist := report("artist"))),
    }
    for rep in (r_tag, r_taste, r_lyrics, r_year, r_bpm, r_artist):
        assert "malformed" not in rep.issues, (rep.source, rep.issues)
    assert len(results["bpm"].track_ids) == n and len(results["year"].track_ids) == n


# ------------------------------------------------------------------ targets


def test_region_target_has_the_gtzan_layout(built_a):
    cfg, _ = built_a
    root = Path(cfg.paths.data_root) / "demo_region"
    files = sorted(p.relative_to(root / "genres").as_posix() for p in (root / "genres").rglob("*.wav"))
    assert len(files) == 12
    assert all(re.fullmatch(r"([a-z_]+)/\1\.\d{5}\.wav", f) for f in files)
    assert {f.split("/")[0] for f in files} == {"china", "luxembourg", "lorraine", "austria"}
    info = sf.info(root / "genres" / files[0])
    assert (info.samplerate, info.channels, info.frames) == (SR, 1, N_SAMPLES)
    listed = {s: (root / "splits" / f"{s}_filtered.txt").read_text().split() for s in ("train", "valid", "test")}
    assert sorted(sum(listed.values(), [])) == files, "every file in exactly one split"
    meta = (root / "meta.tsv").read_text().splitlines()
    assert meta[0] == "file\tclass\tsplit\tsource_work\tsource_id\ttitle" and len(meta) == 13


def test_dance_target_has_the_extended_ballroom_layout(built_a):
    cfg, _ = built_a
    root = Path(cfg.paths.data_root) / "demo_dance"
    files = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.wav"))
    assert len(files) == 12 and all(re.fullmatch(r"[A-Z][a-z]+/\d{6}\.wav", f) for f in files)
    assert {f.split("/")[0] for f in files} == {"Reel", "Jig", "Hornpipe", "Strathspey"}
    info = sf.info(root / files[0])
    assert (info.samplerate, info.channels, info.frames) == (SR, 2, N_SAMPLES)


def test_no_target_tune_leaks_from_training_and_nothing_from_airds_airs(built_a):
    cfg, _ = built_a
    root, _, labels, data_root = _paths(cfg)
    train_titles = {normalise_title(line.split(SEP)[3]) for line in (labels / "unique_tracks.txt").read_text().splitlines()}
    train_works = {json.loads(p.read_text())["work"]["key"] for p in (root / "records").glob("*.json")}
    for target in ("demo_region", "demo_dance"):
        for line in (data_root / target / "meta.tsv").read_text().splitlines()[1:]:
            _, _, _, work, _, title = line.split("\t")
            assert work not in train_works
            assert normalise_title(title) and normalise_title(title) not in train_titles
    for path in data_root.rglob("*.json"):
        assert "airdsAirs" not in path.read_text()
    for path in data_root.rglob("meta.tsv"):
        assert "airdsAirs" not in path.read_text()


# ------------------------------------------------------------------ determinism, idempotence, resume


def test_second_call_is_a_quick_no_op(built_a):
    from mtl_music.corpus.demo import build

    cfg, _ = built_a
    again = build(cfg)
    assert again.up_to_date and again.tracks == 24 and again.rendered == 0


def test_same_config_gives_the_same_files(built_a, built_b):
    (cfg_a, _), (cfg_b, _) = built_a, built_b
    root_a, manifest_a, labels_a, data_a = _paths(cfg_a)
    root_b, manifest_b, labels_b, data_b = _paths(cfg_b)
    assert manifest_a.read_bytes() == manifest_b.read_bytes()
    for name in LABEL_FILES:
        if name.endswith(".db"):
            assert _sql_dump(labels_a / name) == _sql_dump(labels_b / name)
        else:
            assert (labels_a / name).read_bytes() == (labels_b / name).read_bytes(), name
    for row in _manifest(cfg_a)[:3]:
        a, _ = sf.read(manifest_a.parent / row["path"], dtype="float32")
        b, _ = sf.read(manifest_b.parent / row["path"], dtype="float32")
        assert np.array_equal(a, b), row["track_id"]
    for target in ("demo_region", "demo_dance"):
        assert (data_a / target / "meta.tsv").read_bytes() == (data_b / target / "meta.tsv").read_bytes()
        wav = sorted((data_a / target).rglob("*.wav"))[0]
        assert wav.read_bytes() == (data_b / target / wav.relative_to(data_a / target)).read_bytes()


def test_interrupted_build_resumes_only_the_missing_tracks(built_a, built_b):
    from mtl_music.corpus.demo import MARKER, build

    (cfg_a, _), (cfg_b, _) = built_a, built_b
    root_b, manifest_b, labels_b, _ = _paths(cfg_b)
    rows = _manifest(cfg_b)
    removed = [rows[i] for i in (0, 5, 11)]
    for row in removed:
        (manifest_b.parent / row["path"]).unlink()
    (root_b / MARKER).unlink()
    (labels_b / "tempo.tsv").unlink()
    report = build(cfg_b)
    assert report.rendered == 3 and report.reused == 21 and report.tracks == 24
    assert all((manifest_b.parent / row["path"]).is_file() for row in removed)
    _, _, labels_a, _ = _paths(cfg_a)
    assert (labels_a / "tempo.tsv").read_bytes() == (labels_b / "tempo.tsv").read_bytes()
    assert not list(root_b.rglob("*.part")), "no temporary files left behind"
