"""``build(cfg)``: the embedded demo dataset (SPEC section 10), written before ``prepare`` runs.

``python -m mtl_music.prepare data=demo`` calls :func:`build` through ``cfg.data.builder``.
From the composed config it writes:

* ``${data.root}/audio/<track_id>.ogg`` — 30 s stereo 22,050 Hz previews of real public-domain
  scores from the music21 corpus (OGG Vorbis: ~0.22 MB a clip; FLAC would be ~1.5 MB, over
  the 2 GiB budget at 2,000 clips; ``data.corpus.audio_format`` switches);
* ``${data.manifest}`` — ``track_id\\tpath\\tsplit\\tduration`` (paths relative to its folder);
* the raw label files of every learning source into ``${data.labels_dir}``
  (:mod:`mtl_music.corpus.labels`);
* the demo targets ``${paths.data_root}/demo_region`` and ``demo_dance``
  (:mod:`mtl_music.corpus.demo_targets`).

Shared data roots: jobs that start together (sweep jobs, DDP ranks) all call :func:`build`; the
first takes the lock ``${data.root}/.corpus.lock`` and builds, the others wait for it and then
find the corpus up to date (nothing is rendered twice).

Idempotent: a completed build leaves a marker (``.corpus_complete.json``) and a second call
with the same settings only checks the marker, the manifest, the label files and that every
listed audio file exists. Resumable: audio and per-track records are written atomically as
they are rendered, so an interrupted build re-renders only what is missing. Deterministic:
every random choice is seeded by (``data.corpus.seed``, track id).
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mtl_music.corpus import catalog, demo_targets, plan
from mtl_music.corpus.crowd import CrowdSettings
from mtl_music.corpus.jobs import RENDER_VERSION, RenderJob, RenderPool, render_fingerprint, render_selection
from mtl_music.corpus.labels import LABEL_FILES, write_all
from mtl_music.atomic import write_text_atomic
from mtl_music.corpus.store import AUDIO_FORMATS, read_json, write_json_atomic
from mtl_music.errors import ConfigError
from mtl_music.locks import exclusive

log = logging.getLogger(__name__)

MARKER = ".corpus_complete.json"
REPORT = "corpus_report.json"
#: The lock concurrent builds of one corpus take (:func:`mtl_music.locks.exclusive`).
LOCK = ".corpus.lock"
#: Bump when the label files' content rules change (forces a relabel, not a re-render).
LABELS_VERSION = 1


@dataclass(frozen=True)
class CorpusSettings:
    """``data.corpus`` of the config, validated (see ``conf/data/demo.yaml``)."""

    size: int
    seed: int
    duration: float
    sample_rate: int
    audio_format: str
    num_workers: int
    mix: dict[str, float]
    crowd: CrowdSettings
    region: demo_targets.TargetSettings
    dance: demo_targets.TargetSettings
    progress: bool = True

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> "CorpusSettings":
        """Reads and checks ``cfg.data.corpus``; raises :class:`ConfigError` naming the key."""
        corpus = cfg.data.get("corpus")
        if corpus is None:
            raise ConfigError("data.corpus is missing: the demo builder needs the corpus section of conf/data/demo.yaml")
        c = OmegaConf.to_container(corpus, resolve=True)

        def number(key: str, kind, minimum):
            try:
                value = kind(c[key])
            except KeyError as exc:
                raise ConfigError(f"data.corpus.{key} is missing (see conf/data/demo.yaml)") from exc
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"data.corpus.{key}={c[key]!r} is not a {kind.__name__}") from exc
            if value < minimum:
                raise ConfigError(f"data.corpus.{key}={value} must be >= {minimum}")
            return value

        audio_format = str(c.get("audio_format", "ogg")).lower()
        if audio_format not in AUDIO_FORMATS:
            raise ConfigError(f"data.corpus.audio_format={audio_format!r}: choose one of {', '.join(AUDIO_FORMATS)}")
        mix = {str(k): float(v) for k, v in (c.get("mix") or plan.DEFAULT_MIX).items()}
        unknown = sorted(set(mix) - set(catalog.TRAINING_COLLECTIONS))
        if unknown:
            raise ConfigError(f"data.corpus.mix has unknown collection(s) {unknown}; known: {list(catalog.TRAINING_COLLECTIONS)}")
        crowd_cfg = c.get("crowd") or {}
        crowd = CrowdSettings(**{k: (int(v) if k == "n_users" else float(v)) for k, v in crowd_cfg.items()})
        target_cfg = c.get("targets") or {}

        def target(key: str, default_name: str, default_channels: int) -> demo_targets.TargetSettings:
            t = target_cfg.get(key) or {}
            classes = tuple(str(x) for x in t.get("classes") or ())
            if not classes and int(t.get("per_class", 0)) > 0:
                raise ConfigError(f"data.corpus.targets.{key}.classes is empty; list the classes or set per_class: 0")
            channels = int(t.get("channels", default_channels))
            if channels not in (1, 2):
                raise ConfigError(f"data.corpus.targets.{key}.channels={channels}: use 1 (mono) or 2 (stereo)")
            return demo_targets.TargetSettings(
                name=str(t.get("name", default_name)), classes=classes, per_class=int(t.get("per_class", 0)),
                min_per_class=int(t.get("min_per_class", 1)), channels=channels,
            )

        return cls(
            size=number("size", int, 1),
            seed=number("seed", int, 0),
            duration=number("duration", float, 2.5),
            sample_rate=number("sample_rate", int, 8000),
            audio_format=audio_format,
            num_workers=number("num_workers", int, 0),
            mix=mix,
            crowd=crowd,
            region=target("region", "demo_region", 1),
            dance=target("dance", "demo_dance", 2),
            progress=bool(c.get("progress", True)),
        )

    def payload(self) -> dict:
        """What decides the built files (for the completion marker); not the worker count."""
        return {
            "render_version": RENDER_VERSION, "labels_version": LABELS_VERSION, "size": self.size, "seed": self.seed,
            "duration": self.duration, "sample_rate": self.sample_rate, "audio_format": self.audio_format,
            "mix": self.mix, "crowd": self.crowd.__dict__,
            "region": self.region.__dict__ | {"classes": list(self.region.classes)},
            "dance": self.dance.__dict__ | {"classes": list(self.dance.classes)},
        }


@dataclass
class BuildReport:
    """What :func:`build` did: counts, failures, label statistics and wall time."""

    root: Path
    manifest: Path
    tracks: int = 0
    rendered: int = 0
    reused: int = 0
    failures: list[dict] = field(default_factory=list)
    per_collection: dict[str, int] = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    targets: dict[str, dict] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    artists: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    up_to_date: bool = False

    def as_json(self) -> dict:
        """The report as written to ``${data.root}/corpus_report.json``."""
        return {"tracks": self.tracks, "per_collection": self.per_collection, "splits": self.splits,
                "labels": self.labels, "artists": self.artists, "targets": self.targets, "failures": self.failures,
                "rendered": self.rendered, "reused": self.reused, "seconds": round(self.seconds, 1)}

    def summary(self) -> str:
        if self.up_to_date:
            return f"demo corpus up to date: {self.tracks} tracks in {self.root}"
        lines = [
            f"demo corpus: {self.tracks} tracks in {self.root} ({self.rendered} rendered, {self.reused} reused, "
            f"{len(self.failures)} works skipped) in {self.seconds:.1f} s",
            "  per collection: " + ", ".join(f"{k}={v}" for k, v in self.per_collection.items()),
        ]
        for source, stats in self.labels.items():
            lines.append(f"  {source}: " + ", ".join(f"{k}={v}" for k, v in stats.items()))
        for name, stats in self.targets.items():
            lines.append(f"  target {name}: " + ", ".join(f"{k}={v}" for k, v in stats.items()))
        return "\n".join(lines)


def _manifest_rows(manifest: Path) -> list[list[str]] | None:
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if not lines or lines[0] != "track_id\tpath\tsplit\tduration":
        return None
    return [line.split("\t") for line in lines[1:] if line]


def _is_up_to_date(settings: CorpusSettings, *, root: Path, manifest: Path, labels_dir: Path, data_root: Path) -> int | None:
    """Number of tracks when the marker, manifest, labels, audio and targets are all in place."""
    marker = read_json(root / MARKER)
    if not marker or marker.get("payload") != settings.payload():
        return None
    rows = _manifest_rows(manifest)
    if rows is None or len(rows) != marker.get("tracks"):
        return None
    if not all((labels_dir / name).is_file() for name in LABEL_FILES):
        return None
    if not all((manifest.parent / row[1]).is_file() for row in rows):
        return None
    for target in (settings.region, settings.dance):
        if target.per_class > 0 and not demo_targets.is_up_to_date(target, data_root=data_root, seed=settings.seed,
                                                              duration=settings.duration, sample_rate=settings.sample_rate):
            return None
    return len(rows)


def build(cfg: DictConfig) -> BuildReport:
    """Writes the demo corpus, its label files and the demo targets (see the module docstring)."""
    started = time.perf_counter()
    settings = CorpusSettings.from_cfg(cfg)
    root = Path(str(cfg.data.root)).expanduser()
    manifest = Path(str(cfg.data.manifest)).expanduser()
    labels_dir = Path(str(cfg.data.labels_dir)).expanduser()
    data_root = Path(str(cfg.paths.data_root)).expanduser()
    val_fraction = float(cfg.data.get("val_fraction", 0.1))

    paths = dict(root=root, manifest=manifest, labels_dir=labels_dir, data_root=data_root)
    report = _up_to_date_report(settings, **paths)
    if report is not None:
        return report
    # Jobs sharing the data root: the first builds, the others wait here and then find it built.
    with exclusive(root / LOCK, what=f"the demo corpus in {root}"):
        report = _up_to_date_report(settings, **paths)
        if report is not None:
            return report
        return _build_locked(settings, started=started, val_fraction=val_fraction, **paths)


def _up_to_date_report(settings: CorpusSettings, *, root: Path, manifest: Path, labels_dir: Path,
                       data_root: Path) -> BuildReport | None:
    up_to_date = _is_up_to_date(settings, root=root, manifest=manifest, labels_dir=labels_dir, data_root=data_root)
    if up_to_date is None:
        return None
    report = BuildReport(root=root, manifest=manifest, tracks=up_to_date, up_to_date=True)
    log.info(report.summary())
    return report


def _build_locked(settings: CorpusSettings, *, started: float, root: Path, manifest: Path, labels_dir: Path,
                  data_root: Path, val_fraction: float) -> BuildReport:
    """The build itself, under the corpus lock."""
    (root / MARKER).unlink(missing_ok=True)

    # 1. the training collection
    fingerprint = render_fingerprint(seed=settings.seed, duration=settings.duration, sample_rate=settings.sample_rate,
                                     channels=2, audio_format=settings.audio_format)
    available = {name: catalog.works(name) for name in settings.mix}
    counts = plan.collection_counts(settings.size, settings.mix, {n: len(w) for n, w in available.items()})
    candidates: dict[str, list[RenderJob]] = {}
    for name, works in available.items():
        candidates[name] = [
            RenderJob(
                track_id=plan.track_id(work),
                work=work,
                audio_path=str(root / "audio" / f"{plan.track_id(work)}.{settings.audio_format}"),
                record_path=str(root / "records" / f"{plan.track_id(work)}.json"),
                channels=2,
                duration=settings.duration,
                sample_rate=settings.sample_rate,
                seed=settings.seed,
                fingerprint=fingerprint,
            )
            for work in plan.candidate_order(works, seed=settings.seed, collection=name)
        ]
    log.info("demo corpus: %d tracks (%s) into %s", sum(counts.values()), counts, root)
    with RenderPool(num_workers=settings.num_workers, sample_rate=settings.sample_rate) as pool:
        report = _build_with_pool(settings, pool, candidates=candidates, counts=counts, root=root, manifest=manifest,
                                  labels_dir=labels_dir, data_root=data_root, val_fraction=val_fraction)
    report.seconds = time.perf_counter() - started
    write_json_atomic(root / REPORT, report.as_json())
    write_json_atomic(root / MARKER, {"payload": settings.payload(), "tracks": report.tracks})
    log.info(report.summary())
    return report


def _build_with_pool(settings: CorpusSettings, pool: RenderPool, *, candidates: dict[str, list[RenderJob]],
                     counts: dict[str, int], root: Path, manifest: Path, labels_dir: Path, data_root: Path,
                     val_fraction: float) -> BuildReport:
    selection = render_selection(candidates, counts, pool=pool, desc="demo corpus", progress=settings.progress)
    records = [r for name in settings.mix for r in selection.records[name]]

    # 2. manifest and labels
    splits = plan.assign_splits({n: [r["track_id"] for r in rs] for n, rs in selection.records.items()},
                                val_fraction=val_fraction, seed=settings.seed)
    rows = []
    for record in sorted(records, key=lambda r: r["track_id"]):
        audio = root / "audio" / f"{record['track_id']}.{settings.audio_format}"
        relative = Path(os.path.relpath(audio, manifest.parent)).as_posix()
        rows.append(f"{record['track_id']}\t{relative}\t{splits[record['track_id']]}\t{settings.duration:g}\n")
    write_text_atomic(manifest, "track_id\tpath\tsplit\tduration\n" + "".join(rows))
    label_stats = write_all(records, splits=splits, labels_dir=labels_dir, seed=settings.seed, crowd=settings.crowd)

    report = BuildReport(
        root=root, manifest=manifest, tracks=len(records), rendered=selection.rendered, reused=selection.reused,
        failures=[{"track_id": f["track_id"], "work": f["work"]["key"], "reason": f["reason"]} for f in selection.failures],
        per_collection={n: len(rs) for n, rs in selection.records.items()}, labels=label_stats.per_source,
        splits={s: sum(1 for v in splits.values() if v == s) for s in ("train", "valid")},
        artists=dict(sorted(Counter(r["work"]["artist"] for r in records).items())),
    )

    # 3. the demo targets
    for key, target_settings, builder in (("region", settings.region, demo_targets.build_region),
                                          ("dance", settings.dance, demo_targets.build_dance)):
        if target_settings.per_class <= 0:
            continue
        result = builder(target_settings, data_root=data_root, seed=settings.seed, duration=settings.duration,
                         sample_rate=settings.sample_rate, pool=pool, progress=settings.progress)
        report.targets[target_settings.name] = (
            {"up_to_date": True} if result.skipped else
            {"classes": len(result.files), "files": sum(len(f) for f in result.files.values()),
             "dropped_classes": list(result.dropped_classes)}
        )
    return report
