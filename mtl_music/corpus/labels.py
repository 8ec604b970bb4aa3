"""The raw label files of the demo corpus, in the public formats of the MSD-era originals.

Written into ``${data.labels_dir}``, one per learning source (file names are fixed with
``mtl_music.sources``):

=============  ====================================  =========================================
source         file                                  format
=============  ====================================  =========================================
tag            ``lastfm_tags.db``                    SQLite ``tids(tid)``, ``tags(tag)``,
                                                     ``tid_tag(tid, tag, val)`` (ROWIDs, 0-100)
taste          ``train_triplets.txt``                ``user \\t song_id \\t count``
artist, ids    ``unique_tracks.txt``                 ``track_id<SEP>song_id<SEP>artist<SEP>title``
bpm            ``tempo.tsv``                         header ``track_id\\tbpm``; beats of the meter
year           ``tracks_per_year.txt``               ``year<SEP>track_id<SEP>artist<SEP>title``
cdr_tag        ``cdr_genres.tsv``                    header ``track_id\\tlabel\\tweight``
lyrics         ``mxm_dataset_{train,test}.txt``      ``#`` comments, ``%vocab``, ``tid,mxm_id,i:c``
=============  ====================================  =========================================

Every file is written to a temporary name and renamed, after all tracks are rendered, from the
per-track records; the same records and seed always give byte-identical files.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mtl_music.corpus.crowd import CrowdSettings, crowd_tags, listening_counts
from mtl_music.atomic import atomic_path, write_text_atomic
from mtl_music.corpus.text import tokenise_lyrics

SEP = "<SEP>"
MXM_VOCABULARY_SIZE = 5000
LABEL_FILES = ("lastfm_tags.db", "train_triplets.txt", "unique_tracks.txt", "tempo.tsv", "tracks_per_year.txt",
               "cdr_genres.tsv", "mxm_dataset_train.txt", "mxm_dataset_test.txt")


@dataclass
class LabelStats:
    """Per-source counts of a label build (for logs, the notes and the data card)."""

    tracks: int = 0
    per_source: dict[str, dict[str, float]] = field(default_factory=dict)


def song_id(track_id: str) -> str:
    """The MSD-style song id (``SO`` + 16 upper-case hex) of a demo track."""
    return "SO" + hashlib.sha1(f"song:{track_id}".encode()).hexdigest()[:16].upper()


def _field(text: str) -> str:
    """A metadata field safe for the ``<SEP>`` and tab formats (one line, no separators)."""
    return " ".join(text.replace(SEP, " ").replace("\t", " ").split())


def track_text(record: dict) -> str:
    """The real text of a track: the Essen title (the song's first line) and sung score lyrics."""
    return " ".join(part for part in (record["work"]["lyrics"], record["score"]["lyrics"]) if part)


def write_lastfm_tags(path: Path, *, track_ids: list[str], tags: list[list[tuple[str, float]]]) -> None:
    """``lastfm_tags.db`` with the MSD schema; every track is listed in ``tids`` (tagged or not)."""
    with atomic_path(path) as temp:
        temp.unlink()  # sqlite creates its own file
        con = sqlite3.connect(temp)
        try:
            con.executescript(
                "CREATE TABLE tids (tid TEXT); CREATE TABLE tags (tag TEXT); "
                "CREATE TABLE tid_tag (tid INTEGER, tag INTEGER, val FLOAT);"
            )
            vocabulary = sorted({tag for track in tags for tag, _ in track})
            tag_row = {tag: i + 1 for i, tag in enumerate(vocabulary)}
            con.executemany("INSERT INTO tids (rowid, tid) VALUES (?, ?)", [(i + 1, t) for i, t in enumerate(track_ids)])
            con.executemany("INSERT INTO tags (rowid, tag) VALUES (?, ?)", [(tag_row[t], t) for t in vocabulary])
            con.executemany(
                "INSERT INTO tid_tag (tid, tag, val) VALUES (?, ?, ?)",
                [(i + 1, tag_row[tag], float(val)) for i, track in enumerate(tags) for tag, val in track],
            )
            con.execute("CREATE INDEX idx_tid_tag_tid ON tid_tag (tid)")
            con.commit()
        finally:
            con.close()


def _mxm_text(rows: list[tuple[str, int, list[tuple[int, int]]]], vocabulary: list[str], *, title: str) -> str:
    lines = [
        f"# {title} of the mtl_music demo corpus, in the musiXmatch dataset format",
        "# real texts: Essen titles (first lines of the songs) and lyrics sung in the scores",
        "# format: %word list (1-based indices), then track_id,mxm_track_id,word_index:count,...",
        "%" + ",".join(vocabulary),
    ]
    for track_id, mxm_id, counts in rows:
        lines.append(",".join([track_id, str(mxm_id)] + [f"{index}:{count}" for index, count in counts]))
    return "\n".join(lines) + "\n"


def write_all(records: list[dict], *, splits: dict[str, str], labels_dir: Path, seed: int,
              crowd: CrowdSettings) -> LabelStats:
    """Writes every raw label file for ``records`` (rendered tracks, any order) into ``labels_dir``."""
    records = sorted(records, key=lambda r: r["track_id"])
    track_ids = [r["track_id"] for r in records]
    stats = LabelStats(tracks=len(records))
    labels_dir.mkdir(parents=True, exist_ok=True)

    # tag
    tags = crowd_tags(records, seed=seed, settings=crowd)
    write_lastfm_tags(labels_dir / "lastfm_tags.db", track_ids=track_ids, tags=tags)
    tag_vocabulary = {tag for track in tags for tag, _ in track}
    stats.per_source["tag"] = {"tracks_with_labels": sum(1 for t in tags if t), "vocabulary": len(tag_vocabulary),
                               "pairs": sum(len(t) for t in tags)}

    # unique_tracks (ids, artist, title) and taste
    write_text_atomic(
        labels_dir / "unique_tracks.txt",
        "".join(f"{r['track_id']}{SEP}{song_id(r['track_id'])}{SEP}{_field(r['work']['artist'])}{SEP}{_field(r['work']['title'])}\n"
                for r in records),
    )
    artists = Counter(r["work"]["artist"] for r in records)
    stats.per_source["artist"] = {"tracks_with_labels": sum(1 for t in tags if t), "artists": len(artists),
                                  "largest_artist": max(artists.values()) if artists else 0}
    triplets = listening_counts(records, seed=seed, settings=crowd)
    write_text_atomic(
        labels_dir / "train_triplets.txt",
        "".join(f"{user}\t{song_id(track_ids[t])}\t{count}\n" for user, t, count in triplets),
    )
    stats.per_source["taste"] = {"tracks_with_labels": len({t for _, t, _ in triplets}),
                                 "users": len({u for u, _, _ in triplets}), "triplets": len(triplets)}

    # bpm
    write_text_atomic(
        labels_dir / "tempo.tsv",
        "track_id\tbpm\n" + "".join(f"{r['track_id']}\t{r['performance']['reported_bpm']:.2f}\n" for r in records),
    )
    bpms = [r["performance"]["reported_bpm"] for r in records]
    stats.per_source["bpm"] = {"tracks_with_labels": len(bpms), "min": round(min(bpms, default=0), 2), "max": round(max(bpms, default=0), 2)}

    # year (sorted by year like the original file)
    by_year = sorted(records, key=lambda r: (r["work"]["year"], r["track_id"]))
    write_text_atomic(
        labels_dir / "tracks_per_year.txt",
        "".join(f"{r['work']['year']}{SEP}{r['track_id']}{SEP}{_field(r['work']['artist'])}{SEP}{_field(r['work']['title'])}\n"
                for r in by_year),
    )
    years = [r["work"]["year"] for r in records]
    stats.per_source["year"] = {"tracks_with_labels": len(years), "min": min(years, default=0), "max": max(years, default=0),
                                "distinct": len(set(years))}

    # cdr_tag: the most specific genre weighs 1, a second genre 0.5
    genre_lines = []
    for r in records:
        for rank, genre in enumerate(r["work"]["genres"][:2]):
            genre_lines.append(f"{r['track_id']}\t{genre}\t{1.0 if rank == 0 else 0.5:g}\n")
    write_text_atomic(labels_dir / "cdr_genres.tsv", "track_id\tlabel\tweight\n" + "".join(genre_lines))
    stats.per_source["cdr_tag"] = {"tracks_with_labels": len(records),
                                   "vocabulary": len({g for r in records for g in r["work"]["genres"][:2]})}

    # lyrics: bag of words over the real texts, train split -> train file, valid -> test file
    bags = {r["track_id"]: Counter(tokenise_lyrics(track_text(r))) for r in records}
    totals: Counter = Counter()
    for bag in bags.values():
        totals.update(bag)
    vocabulary = [w for w, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:MXM_VOCABULARY_SIZE]]
    index = {w: i + 1 for i, w in enumerate(vocabulary)}
    rows: dict[str, list[tuple[str, int, list[tuple[int, int]]]]] = {"train": [], "test": []}
    for track_id in track_ids:
        counts = sorted((index[w], c) for w, c in bags[track_id].items() if w in index)
        if counts:
            mxm_id = int(hashlib.sha1(f"mxm:{track_id}".encode()).hexdigest()[:8], 16) % 10_000_000
            rows["train" if splits.get(track_id, "train") == "train" else "test"].append((track_id, mxm_id, counts))
    write_text_atomic(labels_dir / "mxm_dataset_train.txt", _mxm_text(rows["train"], vocabulary, title="TRAINING SET"))
    write_text_atomic(labels_dir / "mxm_dataset_test.txt", _mxm_text(rows["test"], vocabulary, title="TEST SET (valid split)"))
    stats.per_source["lyrics"] = {"tracks_with_labels": len(rows["train"]) + len(rows["test"]), "vocabulary": len(vocabulary)}
    return stats
