"""The two demo target datasets, in the on-disk layouts of the real ones, from unseen material.

* ``demo_region`` — GTZAN layout: ``genres/<class>/<class>.<nnnnn>.wav`` (mono, 22,050 Hz,
  16-bit, 30 s, like GTZAN) and ``splits/{train,valid,test}_filtered.txt`` (like the
  fault-filtered split). Essen folk songs of non-German regions, classified by region.
  Split: 60/20/20 per class over groups of related tunes (same normalised title or same EsAC
  signature = variants of one song), so variants never straddle splits (GTZAN's artist filter).
* ``demo_dance`` — Extended Ballroom layout: ``<Type>/<id>.wav`` (stereo, 22,050 Hz, 16-bit,
  30 s; the original is MP3, WAV here avoids a lossy re-encode). Ryan's Mammoth Collection by
  tune type. No split files: Extended Ballroom has none (evaluation stratifies).

No target tune may leak from the training collection: a tune is dropped when its normalised
title is the normalised title of any training candidate (all of O'Neill, all German Essen
tunes, all chorales…, not only the drawn ones) or, for Essen, when its EsAC signature is a
German tune's. ``nnnnn``/``id`` is the tune's position in its class's fixed candidate order,
so names stay the same across builds and sizes; a candidate that cannot be rendered leaves a
gap in the numbering. Each target also gets ``meta.tsv`` (file, class, split, source work,
source id, title) for auditing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from mtl_music.corpus import catalog
from mtl_music.corpus.catalog import Work
from mtl_music.corpus.jobs import RenderJob, RenderPool, render_fingerprint, render_selection
from mtl_music.atomic import write_text_atomic
from mtl_music.corpus.store import read_json, write_json_atomic
from mtl_music.corpus.text import normalise_title
from mtl_music.errors import ConfigError
from mtl_music.locks import exclusive

log = logging.getLogger(__name__)

REGION_SPLIT = {"train": 0.6, "valid": 0.2, "test": 0.2}


@dataclass(frozen=True)
class TargetSettings:
    """One target's knobs: folder ``name`` under the data root, classes, tunes per class."""

    name: str
    classes: tuple[str, ...]
    per_class: int
    min_per_class: int
    channels: int


@dataclass
class TargetResult:
    """What a target build produced: files per class and the folder."""

    root: Path
    files: dict[str, list[str]]
    skipped: bool = False
    dropped_classes: tuple[str, ...] = ()


def training_titles() -> set[str]:
    """Normalised titles of every training candidate (of all six training collections)."""
    titles: set[str] = set()
    for collection in catalog.TRAINING_COLLECTIONS:
        titles.update(t for t in (normalise_title(w.title) for w in catalog.works(collection)) if t)
    return titles


def _signature_base(source_id: str) -> str:
    match = re.match(r"([A-Z]{1,2}\d{3,5})", source_id)
    return match.group(1) if match else ""


def _ordered(works: Sequence[Work], *, seed: int, label: str) -> list[Work]:
    rng = np.random.default_rng([int(seed), int(hashlib.sha1(label.encode()).hexdigest()[:8], 16)])
    return [works[i] for i in rng.permutation(len(works))]


def _fingerprint_payload(settings: TargetSettings, *, seed: int, duration: float, sample_rate: int) -> dict:
    return {"settings": [settings.name, list(settings.classes), settings.per_class, settings.min_per_class, settings.channels],
            "render": render_fingerprint(seed=seed, duration=duration, sample_rate=sample_rate, channels=settings.channels,
                                         audio_format="wav")}


def is_up_to_date(settings: TargetSettings, *, data_root: Path, seed: int, duration: float, sample_rate: int) -> bool:
    """True when the target folder was completed with these settings and all its files exist."""
    payload = _fingerprint_payload(settings, seed=seed, duration=duration, sample_rate=sample_rate)
    return _is_complete(data_root / settings.name, payload)


def _is_complete(root: Path, payload: dict) -> bool:
    marker = read_json(root / ".complete.json")
    if not marker or marker.get("payload") != payload:
        return False
    return all((root / f).is_file() for f in marker.get("files", []))


def _group_split(items: list[tuple[str, set[str]]], *, seed: int, label: str) -> dict[str, str]:
    """60/20/20 split of ``items`` (name, group keys) keeping items that share a key together."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, (_, keys) in enumerate(items):
        for key in keys:
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[str]] = {}
    for i, (name, _) in enumerate(items):
        groups.setdefault(find(i), []).append(name)
    ordered = sorted(groups.values(), key=lambda names: names[0])
    rng = np.random.default_rng([int(seed), int(hashlib.sha1(f"split:{label}".encode()).hexdigest()[:8], 16)])
    ordered = [ordered[i] for i in rng.permutation(len(ordered))]
    total = len(items)
    counts = {split: 0 for split in REGION_SPLIT}
    assignment: dict[str, str] = {}
    for names in ordered:
        # the split furthest below its share takes the next group
        split = max(REGION_SPLIT, key=lambda s: (REGION_SPLIT[s] * total - counts[s], -list(REGION_SPLIT).index(s)))
        for name in names:
            assignment[name] = split
        counts[split] += len(names)
    return assignment


def _validate(settings: TargetSettings, available: Sequence[str], *, key: str) -> None:
    unknown = [c for c in settings.classes if c not in available]
    if unknown:
        raise ConfigError(
            f"data.corpus.targets.{key}.classes has unknown class(es) {unknown}; available: {sorted(available)} "
            "(edit conf/data/demo.yaml or override on the command line)"
        )
    if settings.per_class < settings.min_per_class or settings.min_per_class < 1:
        raise ConfigError(
            f"data.corpus.targets.{key}: need 1 <= min_per_class <= per_class, got "
            f"min_per_class={settings.min_per_class}, per_class={settings.per_class}"
        )


def _build(
    *,
    settings: TargetSettings,
    key: str,
    root: Path,
    works_by_class: dict[str, list[Work]],
    file_name,
    seed: int,
    duration: float,
    sample_rate: int,
    pool: RenderPool,
    progress: bool,
) -> tuple[dict[str, list[dict]], list[str]]:
    fingerprint = render_fingerprint(seed=seed, duration=duration, sample_rate=sample_rate, channels=settings.channels,
                                     audio_format="wav")
    candidates: dict[str, list[RenderJob]] = {}
    for class_index, name in enumerate(settings.classes):
        jobs = []
        for position, work in enumerate(_ordered(works_by_class[name], seed=seed, label=f"{settings.name}:{name}")):
            relative = file_name(name, class_index, position)
            jobs.append(
                RenderJob(
                    track_id=f"{settings.name}:{work.key}",
                    work=work,
                    audio_path=str(root / relative),
                    record_path=str(root / "records" / (Path(relative).stem + ".json")),
                    channels=settings.channels,
                    duration=duration,
                    sample_rate=sample_rate,
                    seed=seed,
                    fingerprint=fingerprint,
                )
            )
        candidates[name] = jobs
    result = render_selection(candidates, {c: settings.per_class for c in settings.classes}, pool=pool,
                              desc=settings.name, progress=progress)
    dropped = [c for c in settings.classes if len(result.records[c]) < settings.min_per_class]
    for name in dropped:
        log.warning("%s: class %s dropped: only %d tunes (min_per_class=%d)", settings.name, name,
                    len(result.records[name]), settings.min_per_class)
    records = {c: result.records[c] for c in settings.classes if c not in dropped}
    audio_of = {job.track_id: job.audio_path for jobs in candidates.values() for job in jobs}
    for name in records:
        for record in records[name]:
            record["file"] = str(Path(audio_of[record["track_id"]]).relative_to(root))
    return records, dropped


def _locked_build(build, settings: TargetSettings, *, data_root: Path, seed: int, duration: float, sample_rate: int,
                  pool: RenderPool, progress: bool) -> TargetResult:
    """``build(...)`` unless the target is complete. Jobs sharing the data root (also two corpora
    of one root, which build the same targets) take ``<data_root>/<name>.lock`` first: one builds,
    the others wait and then find the target complete."""
    root = data_root / settings.name
    payload = _fingerprint_payload(settings, seed=seed, duration=duration, sample_rate=sample_rate)
    if _is_complete(root, payload):
        return TargetResult(root=root, files={}, skipped=True)
    with exclusive(root, what=f"the demo target {settings.name} in {data_root}"):
        if _is_complete(root, payload):  # built by the process this one waited for
            return TargetResult(root=root, files={}, skipped=True)
        return build(settings, root=root, payload=payload, seed=seed, duration=duration, sample_rate=sample_rate,
                     pool=pool, progress=progress)


def _meta_tsv(rows: list[tuple[str, ...]]) -> str:
    header = "file\tclass\tsplit\tsource_work\tsource_id\ttitle\n"
    return header + "".join("\t".join(" ".join(str(v).split()) for v in row) + "\n" for row in rows)


def _build_region(settings: TargetSettings, *, root: Path, payload: dict, seed: int, duration: float,
                  sample_rate: int, pool: RenderPool, progress: bool) -> TargetResult:
    titles = training_titles()
    german_signatures = {_signature_base(w.source_id) for w in catalog.works("essen_german")} - {""}
    by_class: dict[str, list[Work]] = {}
    for work in catalog.works("essen_regional"):
        title = normalise_title(work.title)
        if not title or title in titles or _signature_base(work.source_id) in german_signatures:
            continue
        by_class.setdefault(work.region, []).append(work)
    _validate(settings, sorted(by_class), key="region")

    records, dropped = _build(
        settings=settings, key="region", root=root, works_by_class=by_class,
        file_name=lambda name, _i, position: f"genres/{name}/{name}.{position:05d}.wav",
        seed=seed, duration=duration, sample_rate=sample_rate, pool=pool, progress=progress,
    )
    splits: dict[str, str] = {}
    for name, class_records in records.items():
        items = [(r["file"], {"title:" + normalise_title(r["work"]["title"]), "esac:" + _signature_base(r["work"]["source_id"])} - {"esac:"})
                 for r in class_records]
        splits.update(_group_split(items, seed=seed, label=f"{settings.name}:{name}"))
    files = {name: [r["file"] for r in rs] for name, rs in records.items()}
    for split in REGION_SPLIT:
        listed = sorted(f[len("genres/"):] for f, s in splits.items() if s == split)
        write_text_atomic(root / "splits" / f"{split}_filtered.txt", "".join(f"{line}\n" for line in listed))
    rows = [(r["file"], name, splits[r["file"]], r["work"]["key"], r["work"]["source_id"], r["work"]["title"])
            for name, rs in records.items() for r in rs]
    write_text_atomic(root / "meta.tsv", _meta_tsv(sorted(rows)))
    listed_files = [f for fs in files.values() for f in fs] + [f"splits/{s}_filtered.txt" for s in REGION_SPLIT] + ["meta.tsv"]
    write_json_atomic(root / ".complete.json", {"payload": payload, "files": listed_files, "classes": list(files)})
    return TargetResult(root=root, files=files, dropped_classes=tuple(dropped))


def dance_folder(tune_type: str) -> str:
    """Extended-Ballroom-style folder name of a tune type (``"slip jig"`` -> ``"Slipjig"``)."""
    return tune_type.replace(" ", "").capitalize()


def _build_dance(settings: TargetSettings, *, root: Path, payload: dict, seed: int, duration: float,
                 sample_rate: int, pool: RenderPool, progress: bool) -> TargetResult:
    titles = training_titles()
    by_class: dict[str, list[Work]] = {}
    for work in catalog.works("ryans"):
        title = normalise_title(work.title)
        if title and title not in titles:
            by_class.setdefault(work.tune_type, []).append(work)
    _validate(settings, sorted(by_class), key="dance")

    records, dropped = _build(
        settings=settings, key="dance", root=root, works_by_class=by_class,
        file_name=lambda name, index, position: f"{dance_folder(name)}/{(index + 1) * 100000 + position:06d}.wav",
        seed=seed, duration=duration, sample_rate=sample_rate, pool=pool, progress=progress,
    )
    files = {name: [r["file"] for r in rs] for name, rs in records.items()}
    rows = [(r["file"], dance_folder(name), "", r["work"]["key"], r["work"]["source_id"], r["work"]["title"])
            for name, rs in records.items() for r in rs]
    write_text_atomic(root / "meta.tsv", _meta_tsv(sorted(rows)))
    listed_files = [f for fs in files.values() for f in fs] + ["meta.tsv"]
    write_json_atomic(root / ".complete.json", {"payload": payload, "files": listed_files,
                                                "classes": [dance_folder(c) for c in files]})
    return TargetResult(root=root, files=files, dropped_classes=tuple(dropped))


#: ``build_region(settings, *, data_root, seed, duration, sample_rate, pool, progress=True)``: builds
#: ``demo_region`` (GTZAN layout) under ``data_root / settings.name`` unless it is complete, once
#: among jobs sharing the data root (:func:`_locked_build`); ``build_dance`` likewise builds
#: ``demo_dance`` (Extended Ballroom layout).
build_region = functools.partial(_locked_build, _build_region)
build_dance = functools.partial(_locked_build, _build_dance)
