"""The on-disk store of computed learning sources: one ``.npz`` per source per dataset,
``${data.root}/sources/<name>-<key>.npz``.

The key is a hash over a format version, every parameter of the source (its resolved YAML:
reader, preprocessing, k, ...) and the identity of each input file: resolved path, size and
``mtime_ns``. Identity rather than content: hashing the 3 GB taste file would cost seconds
on every training start, while a changed file (rewritten, copied over, touched) gets a new
size or mtime; the price is a needless recompute after a bare ``touch``. Files are written
to a temporary name and renamed, so a killed process never leaves a half-written store and
two processes (DDP ranks) computing the same source both end with a complete file. Processes
sharing a data root do not compute it twice: :func:`~mtl_music.sources.load_source_labels`
computes under the lock ``<store>.npz.lock`` and loads what a process it waited for stored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mtl_music.atomic import atomic_path
from mtl_music.errors import DataError
from mtl_music.sources.base import SourceLabels, SourceReport

#: Bump when the content or meaning of a stored file changes; old files are then ignored.
FORMAT_VERSION = 1


def file_identity(path: Path) -> dict[str, Any]:
    """``{"path", "size", "mtime_ns"}`` of an existing file."""
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def source_key(*, params: dict[str, Any], input_files: Sequence[Path]) -> str:
    """16 hex digits identifying (format version, parameters, input files)."""
    payload = {
        "format": FORMAT_VERSION,
        "params": params,
        "inputs": [file_identity(p) for p in sorted(map(Path, input_files))],
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def store_path(*, root: str | Path, name: str, key: str) -> Path:
    """Where source ``name`` with ``key`` lives under a dataset root."""
    return Path(root) / "sources" / f"{name}-{key}.npz"


def save_labels(path: Path, labels: SourceLabels, *, key: str) -> Path:
    """Write ``labels`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps({"format": FORMAT_VERSION, "key": key, "name": labels.name,
                                     "category": labels.category, "preprocess": labels.preprocess,
                                     "is_self": labels.is_self})),
        "report": np.array(labels.report.to_json()),
    }
    if not labels.is_self:
        arrays["track_ids"] = np.asarray(labels.track_ids, dtype=str)
        arrays["z"] = np.asarray(labels.z, dtype=np.float32)
    if labels.topic_labels is not None:
        arrays["topic_labels"] = np.asarray(labels.topic_labels, dtype=np.float32)
    if labels.label_names is not None:
        arrays["label_names"] = np.asarray(labels.label_names, dtype=str)
    with atomic_path(path, fsync=True, suffix=".part.npz") as temp:
        np.savez(temp, **arrays)
    return path


def load_labels(path: Path) -> SourceLabels:
    """Read a store written by :func:`save_labels`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise DataError(f"{path} has store format {meta.get('format')}, this code reads {FORMAT_VERSION}; "
                                "delete it to recompute")
            return SourceLabels(
                name=meta["name"],
                category=meta["category"],
                track_ids=data["track_ids"] if "track_ids" in data else None,
                z=data["z"] if "z" in data else None,
                topic_labels=data["topic_labels"] if "topic_labels" in data else None,
                label_names=data["label_names"].tolist() if "label_names" in data else None,
                report=SourceReport.from_json(str(data["report"])),
                preprocess=meta.get("preprocess", ""),
            )
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"the source store {path} is unreadable ({err}); delete it to recompute") from err
