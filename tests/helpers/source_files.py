"""Writers of tiny label files in the real MSD-era formats, for the learning-source tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable, Sequence


def write_lastfm_db(path: Path, tracks: Sequence[str], tags: Sequence[str],
                    entries: Iterable[tuple[int, int, object]]) -> Path:
    """The MSD schema; ``entries`` are (tids ROWID, tags ROWID, val), 1-based like SQLite."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT); "
                      "CREATE TABLE tid_tag (tid INTEGER, tag INTEGER, val FLOAT);")
    con.executemany("INSERT INTO tids (tid) VALUES (?)", [(t,) for t in tracks])
    con.executemany("INSERT INTO tags (tag) VALUES (?)", [(t,) for t in tags])
    con.executemany("INSERT INTO tid_tag VALUES (?, ?, ?)", list(entries))
    con.commit()
    con.close()
    return path


def write_unique_tracks(path: Path, rows: Iterable[tuple[str, str, str, str]]) -> Path:
    path.write_text("".join("<SEP>".join(r) + "\n" for r in rows))
    return path


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def write_mxm(path: Path, vocab: Sequence[str], rows: Iterable[str]) -> Path:
    header = ["# musiXmatch dataset, bag of words", "# test fixture", "%" + ",".join(vocab)]
    return write_lines(path, [*header, *rows])


#: Four planted "styles"; every source's labels follow them, so topics are easy to check.
STYLES = {
    "metal": {"tags": ["metal", "heavy", "loud"], "bpm": 170.0, "year": 1990, "words": ["fire", "death"]},
    "folk": {"tags": ["folk", "acoustic", "quiet"], "bpm": 80.0, "year": 1965, "words": ["river", "home"]},
    "disco": {"tags": ["disco", "dance", "party"], "bpm": 120.0, "year": 1978, "words": ["night", "dance"]},
    "jazz": {"tags": ["jazz", "swing", "smooth"], "bpm": 140.0, "year": 1955, "words": ["blue", "moon"]},
}
N_TRACKS = 40


def track_id(i: int) -> str:
    return f"TRLBL{i:013d}"


def style_of(i: int) -> str:
    return list(STYLES)[i % len(STYLES)]


def write_all_label_files(labels_dir: Path, *, n_tracks: int = N_TRACKS) -> Path:
    """Every source's raw file, in its real format, for ``n_tracks`` tracks of four styles."""
    labels_dir.mkdir(parents=True, exist_ok=True)
    styles = list(STYLES)
    all_tags = [t for s in styles for t in STYLES[s]["tags"]]
    vocab = ["the", "a"] + [w for s in styles for w in STYLES[s]["words"]]
    entries = []
    for i in range(n_tracks):
        tags = STYLES[style_of(i)]["tags"]
        entries += [(i + 1, all_tags.index(t) + 1, 100.0 - 30 * j) for j, t in enumerate(tags)]
    write_lastfm_db(labels_dir / "lastfm_tags.db", [track_id(i) for i in range(n_tracks)], all_tags, entries)
    write_unique_tracks(labels_dir / "unique_tracks.txt", [
        (track_id(i), f"SOLBL{i:013d}", f"{style_of(i)} band {i % 8}", f"song {i}") for i in range(n_tracks)])
    write_lines(labels_dir / "train_triplets.txt", [
        f"user_{style_of(i)}_{u}\tSOLBL{i:013d}\t{1 + (i + u) % 4}" for i in range(n_tracks) for u in range(3)])
    rows = []
    for i in range(n_tracks):
        words = STYLES[style_of(i)]["words"]
        rows.append(f"{track_id(i)},{1000 + i},1:6,2:4," + ",".join(f"{vocab.index(w) + 1}:{2 + j}" for j, w in enumerate(words)))
    write_mxm(labels_dir / "mxm_dataset_train.txt", vocab, rows[: n_tracks // 2])
    write_mxm(labels_dir / "mxm_dataset_test.txt", vocab, rows[n_tracks // 2:])
    write_lines(labels_dir / "tracks_per_year.txt", [
        f"{STYLES[style_of(i)]['year'] + i % 3}<SEP>{track_id(i)}<SEP>{style_of(i)} band<SEP>song {i}" for i in range(n_tracks)])
    write_lines(labels_dir / "tempo.tsv", ["track_id\tbpm"] + [
        f"{track_id(i)}\t{STYLES[style_of(i)]['bpm'] + (i % 5) * 0.5:.2f}" for i in range(n_tracks)])
    write_lines(labels_dir / "cdr_genres.tsv", ["track_id\tlabel\tweight"] + [
        f"{track_id(i)}\tgenre/{style_of(i)}\t1" for i in range(n_tracks)])
    return labels_dir


def overrides(data_root: Path, *extra: str) -> list[str]:
    """Hydra overrides pointing ``data=folder`` at the dataset written by :func:`write_all_label_files`."""
    return ["data=folder", "data.name=labels", f"paths.data_root={data_root}", *extra]
