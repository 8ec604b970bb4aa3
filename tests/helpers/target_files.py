"""Writers of tiny target datasets in their real on-disk layouts, for the target-loader tests.

Audio is a few hundred samples of noise written by soundfile (WAV, or MP3/AU where the real
dataset ships those); the loaders never decode it, so one encoded clip per format is written
and its bytes copied. Metadata files follow the real formats: FMA's two-row ``tracks.csv``
header, the emoMusic CSVs with a space after each comma, Last.fm-1K's headerless six-column TSV,
MagnaTagATune's quoted tab-separated ``annotations_final.csv``, MTG-Jamendo's CRLF split files,
GiantSteps+ key files without newline, NSynth's ``examples.json``, VocalSet's ``FULL/`` tree.
"""

from __future__ import annotations

import csv
import io
from functools import cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf
from omegaconf import DictConfig, OmegaConf

from mtl_music.config import CONF_DIR

SR = 8000
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
IRMAS_INSTRUMENTS = ("cel", "cla", "flu", "gac", "gel", "org", "pia", "sax", "tru", "vio", "voi")


@cache
def _clip_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).normal(0.0, 0.1, int(0.2 * SR)).astype(np.float32)
    sf.write(buffer, noise, SR, format=fmt)
    return buffer.getvalue()


def write_audio(path: Path) -> Path:
    """A 0.2 s noise clip encoded as the file's extension says (wav, mp3, au)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_clip_bytes(path.suffix.lstrip(".").upper()))
    return path


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


#: Where the fixtures put the targets whose YAML has no default ``root`` (the user's folder).
FIXTURE_ROOTS = {"folder": "${paths.data_root}/folder"}


def target_node(name: str, data_root: Path, **overrides) -> DictConfig:
    """``conf/target/<name>.yaml`` as the composed ``cfg.target.<name>`` node, with
    ``paths.data_root=data_root`` and ``overrides`` applied (no Hydra: it is fast). A target
    without a default root (``folder``) gets :data:`FIXTURE_ROOTS`'s."""
    node = OmegaConf.load(CONF_DIR / "target" / f"{name}.yaml")
    for key, value in {**({"root": FIXTURE_ROOTS[name]} if name in FIXTURE_ROOTS else {}), **overrides}.items():
        node[key] = value
    cfg = OmegaConf.create({"paths": {"data_root": str(data_root)}, "target": {name: node}})
    return cfg.target[name]


# ---------------------------------------------------------------- GTZAN layout
def write_gtzan_layout(root: Path, *, classes: Sequence[str], per_class: int, ext: str = ".wav",
                       split_of=None) -> dict[str, list[str]]:
    """``root/genres/<c>/<c>.<nnnnn><ext>`` for ``per_class`` files per class and, when
    ``split_of(class, n)`` is given (returns a split name or None), ``root/splits/*_filtered.txt``.
    Returns the split lists written."""
    lists: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    for cls in classes:
        for n in range(per_class):
            write_audio(root / "genres" / cls / f"{cls}.{n:05d}{ext}")
            split = split_of(cls, n) if split_of else None
            if split:
                lists[split].append(f"{cls}/{cls}.{n:05d}.wav")
    if split_of:
        for split, lines in lists.items():
            write_lines(root / "splits" / f"{split}_filtered.txt", lines)
    return lists


def demo_region_split(_cls: str, n: int) -> str | None:
    """6 per class: 3 train, 1 valid, 2 test; a 7th file (n == 6) is in no list."""
    return {0: "train", 1: "train", 2: "train", 3: "valid", 4: "test", 5: "test"}.get(n)


def write_full_gtzan(root: Path) -> None:
    """All 1000 GTZAN files; blues as the original archive's ``.au``, the rest as ``.wav``."""
    for genre in GTZAN_GENRES:
        for n in range(100):
            write_audio(root / "genres" / genre / f"{genre}.{n:05d}{'.au' if genre == 'blues' else '.wav'}")


def write_small_gtzan(root: Path) -> None:
    """The 10 GTZAN genre folders, only the files the packaged lists name among numbers 0-29."""
    for genre in GTZAN_GENRES:
        for n in range(30):
            write_audio(root / "genres" / genre / f"{genre}.{n:05d}.wav")


# ---------------------------------------------------------------- FMA
FMA_GENRES = ("Electronic", "Folk", "Rock")


def fma_rows() -> list[tuple[int, str, str, str]]:
    """(track_id, subset, split, genre_top) of the tiny FMA: 8 small/medium tracks per genre,
    plus rows that must be left out."""
    rows = []
    track_id = 2
    for g, genre in enumerate(FMA_GENRES):
        for n in range(8):
            subset = "small" if n % 2 else "medium"
            split = "test" if n in (0, 5) else "validation" if n == 3 else "training"
            rows.append((track_id, subset, split, genre))
            track_id += 1 + g  # ids are sparse in FMA
    rows.append((140000, "large", "training", "Rock"))       # not in small/medium
    rows.append((140001, "medium", "training", ""))          # no genre_top
    rows.append((140002, "medium", "training", "Folk"))      # its mp3 is missing
    return rows


def write_fma(root: Path) -> list[tuple[int, str, str, str]]:
    """``fma_metadata/tracks.csv`` with FMA's header rows and ``fma_medium/NNN/NNNNNN.mp3``."""
    rows = fma_rows()
    columns = [("album", "title"), ("artist", "name"), ("set", "split"), ("set", "subset"),
               ("track", "comments"), ("track", "genre_top"), ("track", "title")]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([""] + [top for top, _ in columns])
    writer.writerow([""] + [sub for _, sub in columns])
    writer.writerow(["track_id"] + [""] * len(columns))
    for track_id, subset, split, genre in rows:
        writer.writerow([track_id, "An Album, vol. 2", "Artist", split, subset,
                         'a comment with "quotes",\nand a newline', genre, f"Title {track_id}"])
    path = root / "fma_metadata" / "tracks.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    for track_id, subset, _, _ in rows:
        if subset in ("small", "medium") and track_id != 140002:
            padded = f"{track_id:06d}"
            write_audio(root / "fma_medium" / padded[:3] / f"{padded}.mp3")
    return rows


# ---------------------------------------------------------------- Ballroom layout
def write_ballroom_layout(root: Path, *, classes: Sequence[str], per_class: int, ext: str = ".mp3") -> None:
    """``root/<Type>/<id><ext>`` plus a ``meta.tsv`` and a hidden file at the root (ignored)."""
    for c, cls in enumerate(classes):
        for n in range(per_class):
            write_audio(root / cls / f"{(c + 1) * 100000 + n:06d}{ext}")
    write_lines(root / "meta.tsv", ["file\tclass"])
    write_lines(root / ".complete.json", ["{}"])


# ---------------------------------------------------------------- IRMAS
def irmas_names(instrument: str, n_songs: int = 5, excerpts: int = 2) -> list[str]:
    """IRMAS training names: plain ``[ins][gen]NNNN__K.wav`` and the drum/prefix form
    ``PPP__[ins][dru][gen]NNNN__K.wav`` for every second song."""
    names = []
    for song in range(n_songs):
        for k in range(1, excerpts + 1):
            if song % 2:
                names.append(f"{song:03d}__[{instrument}][nod][cla]{song:04d}__{k}.wav")
            else:
                names.append(f"[{instrument}][pop_roc]{song:04d}__{k}.wav")
    return names


def write_irmas(root: Path, *, instruments: Sequence[str] = IRMAS_INSTRUMENTS) -> None:
    for instrument in instruments:
        for name in irmas_names(instrument):
            write_audio(root / instrument / name)
    write_lines(root / "README.txt", ["IRMAS training data"])


# ---------------------------------------------------------------- MediaEval
MEDIAEVAL_GENRES = ("Blues", "Electronic", "Rock", "Classical")


def write_mediaeval(root: Path, *, n_songs: int = 40, split_column: bool = True) -> dict[str, tuple[float, float, str]]:
    """emoMusic's ``annotations/{static_annotations,songs_info}.csv`` and ``clips_45seconds``.
    Song ids 2..n_songs+1; song 2 has no audio; one extra annotation row has no info row.
    Returns ``{song_id: (mean_arousal, mean_valence, genre)}`` of all annotated songs."""
    rng = np.random.default_rng(1)
    truth = {}
    static = ["song_id, mean_arousal, std_arousal, mean_valence, std_valence"]
    info = ["song_id,file_name,Artist,Song title,start of the segment (min.sec),end of the segment (min.sec),Genre"
            + (",Mediaeval 2013 set" if split_column else "")]
    for i in range(n_songs):
        song_id = i + 2
        genre = MEDIAEVAL_GENRES[i % len(MEDIAEVAL_GENRES)]
        arousal, valence = (round(float(v), 2) for v in rng.uniform(1, 9, 2))
        truth[str(song_id)] = (arousal, valence, genre)
        static.append(f"{song_id}, {arousal}, 0.9, {valence}, 1.1")
        split = "evaluation" if i % 5 == 0 else "development"
        info.append(f'{song_id},{song_id}.mp3,Artist {i},"Song, part {i}",0.45,1.30,\t{genre}'
                    + (f",{split}" if split_column else ""))
        if song_id != 2:
            write_audio(root / "clips_45seconds" / f"{song_id}.mp3")
    static.append("9999, 5.0, 1.0, 5.0, 1.0")  # annotated, but no songs_info row
    write_lines(root / "annotations" / "static_annotations.csv", static)
    write_lines(root / "annotations" / "songs_info.csv", info)
    return truth


# ---------------------------------------------------------------- Last.fm-1K
def mbid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def lastfm_events() -> list[tuple[str, str]]:
    """(user, track MBID) listening events with a chain that only the iterated filter removes.

    Core: users 0-9 × tracks 0-7, 1-3 plays each (all survive). Track 20 has 4 users (0-2, 10)
    → dropped; user 10 (tracks 0-2, 20, 21) then has 4 tracks → dropped; track 21 (users 10-14)
    then has 4 users → dropped; users 11-14 (tracks 3-6, 21) then have 4 tracks → dropped.
    """
    events = []
    for u in range(10):
        for t in range(8):
            events += [(f"user_{u:06d}", mbid(t))] * (1 + (u + t) % 3)
    for u in range(3):
        events.append((f"user_{u:06d}", mbid(20)))
    events += [("user_000010", mbid(t)) for t in (0, 1, 2, 20, 21)]
    for u in range(11, 15):
        events += [(f"user_{u:06d}", mbid(t)) for t in (3, 4, 5, 6, 21)]
    return events


def write_lastfm(root: Path) -> list[tuple[str, str]]:
    """The six-column listens TSV (with a no-MBID event, a malformed line, a track without
    audio mapping and one mapped to a missing file) and ``audio_map.tsv``."""
    events = lastfm_events()
    lines = [f"{user}\t2009-05-04T23:08:57Z\tartist-mbid\tDeep \"Dish\"\t{track}\tTrack\twith tab" for user, track in events]
    lines.append("user_000001\t2009-05-04T23:08:57Z\t\tSome Artist\t\tNo MBID")
    lines.append("garbage line without tabs")
    lines += [f"user_{u:06d}\t2009-05-04T23:08:57Z\ta\tA\t{mbid(30)}\tUnmapped" for u in range(10)]
    lines += [f"user_{u:06d}\t2009-05-04T23:08:57Z\ta\tA\t{mbid(31)}\tMissing audio" for u in range(10)]
    write_lines(root / "userid-timestamp-artid-artname-traid-traname.tsv", lines)
    tracks = sorted({t for _, t in events})
    for track in tracks:
        write_audio(root / "audio" / f"{track}.wav")
    write_lines(root / "audio_map.tsv", ["track_id\taudio_path", *(f"{t}\taudio/{t}.wav" for t in tracks),
                                         f"{mbid(31)}\taudio/missing.wav"])
    return events


# ---------------------------------------------------------------- your own folder
FOLDER_GENRES = ("folk", "jazz", "rock")

#: The folder loader's contract cases: conf/target/folder.yaml's default label file (a
#: classification CSV with groups) and the other label files :func:`write_folder` writes.
#: Case -> (target node overrides, the task the file makes).
FOLDER_CASES = {
    "folder": ({}, "classification"),
    "folder[tags]": ({"labels": "${.root}/tags.tsv"}, "multilabel"),
    "folder[values]": ({"labels": "${.root}/values.csv"}, "regression"),
    "folder[split]": ({"labels": "${.root}/split.csv"}, "classification"),
}


def case_node(case: str, data_root: Path) -> DictConfig:
    """The target node of a contract case: a conf/target name or a :data:`FOLDER_CASES` key."""
    if case in FOLDER_CASES:
        return target_node("folder", data_root, **FOLDER_CASES[case][0])
    return target_node(case, data_root)


def folder_track(i: int) -> tuple[str, str, str, tuple[str, ...], tuple[float, float]]:
    """(path relative to the root, genre, album, tags, two values) of track ``i`` of the folder
    fixture: 30 tracks, 10 per genre, albums of two tracks of one genre (``i`` and ``i + 15``)."""
    genre = FOLDER_GENRES[i % 3]
    tags = (genre,) + (("vocal",) if i % 2 else ()) + (("live",) if i % 5 == 0 else ())
    path = f"{'more/' if i >= 20 else ''}{genre}/song {i:02d}.wav"  # a space, and nested folders
    return path, genre, f"album {i % 15}", tags, (round(0.1 * i, 2), round(0.3 * (i % 7) - 1, 2))


def write_folder(root: Path, *, n: int = 30) -> None:
    """Audio files under ``root`` and four label files: ``labels.csv`` (path,label,group),
    ``tags.tsv`` (file, ';'-separated tags), ``values.csv`` (no header: path, two values) and
    ``split.csv`` (path,label,split,group; whole albums in test)."""
    tracks = [folder_track(i) for i in range(n)]
    for path, *_ in tracks:
        write_audio(root / path)
    write_lines(root / "labels.csv", ["path,label,group", *(f"{p},{g},{a}" for p, g, a, _, _ in tracks)])
    write_lines(root / "tags.tsv", ["file\ttags", *(f"{p}\t{';'.join(t)}" for p, _, _, t, _ in tracks)])
    write_lines(root / "values.csv", [f"{p},{v[0]},{v[1]}" for p, _, _, _, v in tracks])
    split = {"album 0": "test", "album 1": "test", "album 2": "test", "album 3": "valid"}
    write_lines(root / "split.csv", ["path,label,split,group",
                                     *(f"{p},{g},{split.get(a, 'train')},{a}" for p, g, a, _, _ in tracks)])


# ---------------------------------------------------------------- MagnaTagATune
#: MTT's first tag columns (the release has 188); the fixture's file has 60.
MTT_TAGS = tuple(["no voice", "singer", "duet", "plucking", "hard rock", "world", "bongos", "harpsichord"]
                 + [f"tag {j:02d}" for j in range(8, 60)])
MTT_FOLDERS = tuple("0123456789abcdef")


def mtt_rows() -> list[tuple[str, str, tuple[int, ...]]]:
    """(clip_id, mp3_path, 60 tag values) of the tiny MTT: 2 clips per folder (32), the first 50
    tags on ~8 clips each, the last 10 on clip 2 only (so not in the top 50); clip 999 carries only
    rare tags (left out), clip 1000 has no mp3 (left out)."""
    rows = []
    for i in range(32):
        values = [1 if (i * 7 + j) % 4 == 0 else 0 for j in range(50)] + [1 if i == 0 else 0] * 10
        folder = MTT_FOLDERS[i // 2]
        rows.append((str(i + 2), f"{folder}/artist_{i}-album-{i:02d}-song_{i}-30-59.mp3", tuple(values)))
    rows.append(("999", "3/rare_only-album-01-x-0-29.mp3", tuple([0] * 50 + [1] * 10)))
    rows.append(("1000", "e/missing-album-01-x-0-29.mp3", tuple([1] * 50 + [0] * 10)))
    return rows


def write_mtt(root: Path, rows: Sequence[tuple[str, str, tuple[int, ...]]] | None = None,
              tags: Sequence[str] = MTT_TAGS) -> list[tuple[str, str, tuple[int, ...]]]:
    """``annotations_final.csv`` (tab-separated, every field double-quoted, as released) and the
    mp3s under the 16 folders (none for clip ``1000``)."""
    rows = mtt_rows() if rows is None else list(rows)
    quote = lambda fields: "\t".join(f'"{f}"' for f in fields)  # noqa: E731
    write_lines(root / "annotations_final.csv",
                [quote(["clip_id", *tags, "mp3_path"]), *(quote([c, *v, p]) for c, p, v in rows)])
    for clip_id, mp3_path, _ in rows:
        if clip_id != "1000":
            write_audio(root / mp3_path)
    return rows


# ---------------------------------------------------------------- MTG-Jamendo
JAMENDO_SUBSETS = {
    "autotagging_top50tags": ("genre---rock", "genre---pop", "instrument---piano", "mood/theme---happy"),
    "autotagging_genre": ("genre---rock", "genre---pop", "genre---jazz"),
    "autotagging_instrument": ("instrument---piano", "instrument---guitar", "instrument---voice"),
    "autotagging_moodtheme": ("mood/theme---happy", "mood/theme---sad", "mood/theme---film"),
}


def jamendo_rows(subset: str) -> dict[str, list[tuple[int, tuple[str, ...]]]]:
    """Split → (track number, tags) of one subset: 12 tracks, 8 train / 2 validation / 2 test,
    one or two tags each; track 1000 (train) has no audio."""
    tags = JAMENDO_SUBSETS[subset]
    rows: dict[str, list[tuple[int, tuple[str, ...]]]] = {"train": [], "validation": [], "test": []}
    for i in range(12):
        split = "test" if i in (3, 8) else "validation" if i in (5, 10) else "train"
        own = (tags[i % len(tags)],) + ((tags[(i + 1) % len(tags)],) if i % 3 == 0 else ())
        rows[split].append((200 + i, own))
    rows["train"].append((1000, (tags[0],)))
    return rows


def write_jamendo(root: Path) -> None:
    """The repository's ``data/splits/split-0/<subset>-{train,validation,test}.tsv`` (CRLF, as
    released) for the four subsets, and ``audio/<NN>/<id>.mp3`` (every third track the
    low-quality ``<id>.low.mp3``)."""
    for subset in JAMENDO_SUBSETS:
        for split, rows in jamendo_rows(subset).items():
            lines = ["TRACK_ID\tARTIST_ID\tALBUM_ID\tPATH\tDURATION\tTAGS"]
            for number, tags in rows:
                lines.append("\t".join([f"track_{number:07d}", f"artist_{number // 4:06d}", f"album_{number // 2:06d}",
                                        f"{number % 100:02d}/{number}.mp3", "212.5", *tags]))
                if number != 1000:
                    suffix = ".low.mp3" if number % 3 == 0 else ".mp3"
                    write_audio(root / "audio" / f"{number % 100:02d}" / f"{number}{suffix}")
            path = root / "data" / "splits" / "split-0" / f"{subset}-{split}.tsv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))


# ---------------------------------------------------------------- GiantSteps key
#: (key file text, its canonical key) of the GiantSteps fixture: 6 keys in several spellings.
GIANTSTEPS_KEYS = (("D major", "D major"), ("Db minor", "C# minor"), ("C# minor", "C# minor"), ("A minor", "A minor"),
                   ("a min", "A minor"), ("F# major", "F# major"), ("Gb major", "F# major"), ("Eb minor", "D# minor"),
                   ("G major", "G major"), ("Bb minor", "A# minor"))
#: Key texts that leave a track out.
GIANTSTEPS_UNUSABLE = ("-", "", "C major / A minor", "E dorian")


def write_giantsteps(root: Path, *, per_spelling: int = 5, lofi: bool = False) -> dict[str, str]:
    """GiantSteps+ as mirdata reads it (``audio/<id> <Artist> - <Title> (Original Mix).mp3``,
    ``keys_gs+/<same stem>.txt``, ``meta/<same stem>.json``) or, with ``lofi``, the original
    ``audio/<id>.LOFI.mp3`` + ``annotations/key/<id>.LOFI.key``. Returns ``{track id: canonical
    key}`` of the usable tracks; the unusable keys and a track without key file are also written."""
    expected = {}
    entries = [(text, key) for text, key in GIANTSTEPS_KEYS for _ in range(per_spelling)]
    entries += [(text, None) for text in GIANTSTEPS_UNUSABLE] + [(None, None)]
    for n, (text, key) in enumerate(entries):
        track = 10000 + 7 * n
        stem = f"{track}.LOFI" if lofi else f"{track} Artist {n} - Track, No. {n} (Original Mix)"
        write_audio(root / "audio" / f"{stem}.mp3")
        if text is not None:
            key_path = root / ("annotations/key" if lofi else "keys_gs+") / f"{stem}{'.key' if lofi else '.txt'}"
            key_path.parent.mkdir(parents=True, exist_ok=True)
            key_path.write_text(text, encoding="utf-8")  # no newline, as released
        if not lofi:
            write_lines(root / "meta" / f"{stem}.json", ['{"bpm": 128}'])
        if key is not None:
            expected[str(track)] = key
    return expected


# ---------------------------------------------------------------- NSynth
NSYNTH_FAMILIES = ("bass", "brass", "guitar", "keyboard")


def nsynth_notes() -> dict[str, list[dict]]:
    """Part → examples of the tiny NSynth: per part and family two instruments x 3 pitches
    (one of them outside 21-108: 9 or 115); test's ``keyboard`` notes lack audio for one."""
    parts = {}
    for p, part in enumerate(("train", "valid", "test")):
        examples = []
        for f, family in enumerate(NSYNTH_FAMILIES):
            for k in range(2):
                instrument = f"{family}_{'acoustic' if k else 'electronic'}_{p * 10 + k:03d}"
                for pitch in (9 if k else 115, 40 + f, 60 + f):
                    note_str = f"{instrument}-{pitch:03d}-100"
                    examples.append({"note": 1000 * p + len(examples), "note_str": note_str, "pitch": pitch,
                                     "velocity": 100, "sample_rate": 16000, "instrument_family": f,
                                     "instrument_family_str": family, "instrument_source": k,
                                     "instrument_source_str": "acoustic" if k else "electronic",
                                     "instrument_str": instrument, "qualities": [0] * 10, "qualities_str": []})
        parts[part] = examples
    return parts


def write_nsynth(root: Path) -> dict[str, list[dict]]:
    """``nsynth-{train,valid,test}/examples.json`` and ``audio/<note_str>.wav`` (one missing)."""
    import json

    parts = nsynth_notes()
    for part, examples in parts.items():
        folder = root / f"nsynth-{part}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "examples.json").write_text(json.dumps({e["note_str"]: e for e in examples}), encoding="utf-8")
        for e in examples:
            if e["note_str"] != "keyboard_electronic_020-063-100":
                write_audio(folder / "audio" / f"{e['note_str']}.wav")
    return parts


# ---------------------------------------------------------------- VocalSet
VOCALSET_SINGERS = ("f1", "f2", "f3", "m1", "m2", "m3")
#: (context, technique folder) of every singer's files; messa is not one of MARBLE's 10.
VOCALSET_FOLDERS = (("arpeggios", "belt"), ("arpeggios", "vibrato"), ("scales", "breathy"), ("scales", "vocal_fry"),
                    ("long_tones", "vibrato"), ("long_tones", "messa"), ("excerpts", "spoken"), ("excerpts", "straight"))


def write_vocalset(root: Path, *, singer_lists: bool = True) -> None:
    """``FULL/<singer>/<context>/<technique>/<singer>_<context>_<technique>_a.wav`` for the fixture's
    6 singers, one file without singer prefix (as released), a ``(1)`` duplicate, a misplaced file
    and, with ``singer_lists``, the release's singer lists (``female2``, ``male3`` in test)."""
    full = root / "FULL"
    for singer in VOCALSET_SINGERS:
        for context, technique in VOCALSET_FOLDERS:
            write_audio(full / singer / context / technique / f"{singer}_{context}_{technique}_a.wav")
    write_audio(full / "f2" / "arpeggios" / "lip_trill" / "lip_trill_arps.wav")
    write_audio(full / "f1" / "arpeggios" / "lip_trill" / "f1_lip_trill_arps.wav")
    write_audio(full / "f1" / "scales" / "vibrato" / "f1_scales_vibrato_a(1).wav")
    write_audio(full / "f1" / "stray.wav")
    if singer_lists:
        write_lines(root / "test_singers_technique.txt", ["female2", "male3"])
        write_lines(root / "train_singers_technique.txt", ["female1", "female3", "male1", "male2"])


# ---------------------------------------------------------------- everything
def write_all_targets(data_root: Path) -> None:
    """Every target of ``conf/target/`` under ``data_root`` at its default ``root``."""
    write_small_gtzan(data_root / "gtzan")
    write_fma(data_root / "fma")
    write_ballroom_layout(data_root / "extended_ballroom", classes=("Chacha", "Jive", "Tango", "Waltz"), per_class=6)
    write_irmas(data_root / "irmas" / "IRMAS-TrainingData")
    write_mediaeval(data_root / "mediaeval")
    write_lastfm(data_root / "lastfm-dataset-1K")
    write_gtzan_layout(data_root / "demo_region", classes=("austria", "ireland", "low_countries"), per_class=7,
                       split_of=demo_region_split)
    write_ballroom_layout(data_root / "demo_dance", classes=("Hornpipe", "Jig", "Reel"), per_class=5, ext=".wav")
    write_folder(data_root / "folder")
    write_mtt(data_root / "magnatagatune")
    write_jamendo(data_root / "mtg-jamendo-dataset")
    write_giantsteps(data_root / "giantsteps_key")
    write_nsynth(data_root / "nsynth")
    write_vocalset(data_root / "vocalset")
    # The demo builder keeps per-tune render records next to the class folders.
    for demo in ("demo_region", "demo_dance"):
        write_lines(data_root / demo / "records" / "100000.json", ["{}"])
