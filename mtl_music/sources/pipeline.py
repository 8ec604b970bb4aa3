"""From a source YAML to :class:`SourceLabels`: validate the config, read the raw labels,
factorise them (pLSA, TF-IDF + pLSA, GMM, or nothing for ``self``) and keep the result in the
dataset's source store.

A source YAML (``conf/source/<name>.yaml``) has the keys ``name``, ``category``, ``k``,
``reader`` (``kind`` plus the kind's file keys) and ``preprocess`` (``kind`` plus the
method's parameters); see :data:`READER_KEYS` and :data:`PREPROCESS_KEYS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mtl_music.config import group_options
from mtl_music.errors import ConfigError, DataError, SourceError
from mtl_music.locks import exclusive
from mtl_music.sources import readers
from mtl_music.sources.base import CATEGORIES, LabelMatrix, ScalarLabels, SourceLabels, SourceReport
from mtl_music.sources.gmm import COMPONENT_COLUMNS, fit_scalar_mixture
from mtl_music.sources.plsa import PLSA
from mtl_music.sources.store import load_labels, save_labels, source_key, store_path
from mtl_music.sources.tfidf import tfidf

log = logging.getLogger(__name__)

#: Reader kinds: required file keys, optional keys, and what they return.
READER_KEYS: dict[str, dict[str, Any]] = {
    "lastfm_tags": {"files": ["path"], "optional": [], "returns": "matrix"},
    "taste_triplets": {"files": ["path", "tracks"], "optional": [], "returns": "matrix"},
    "mxm_lyrics": {"files": ["paths"], "optional": [], "returns": "matrix"},
    "artist_tags": {"files": ["path", "tracks"], "optional": [], "returns": "matrix"},
    "tracks_per_year": {"files": ["path"], "optional": [], "returns": "scalar"},
    "tempo": {"files": ["path"], "optional": [], "returns": "scalar"},
    "table": {"files": ["path"], "optional": ["delimiter", "header"], "returns": "either"},
}

#: Preprocessing kinds and the parameters each accepts.
PREPROCESS_KEYS: dict[str, list[str]] = {
    "self": [],
    "plsa": ["max_iter", "tol", "seed", "n_init", "backend", "tfidf"],
    "gmm": ["max_iter", "tol", "seed", "reg_covar", "n_init"],
}
TFIDF_KEYS = ["smooth_idf", "sublinear_tf", "norm"]


def available_sources() -> list[str]:
    """Names of the source YAMLs in ``conf/source/`` (what ``source=[...]`` accepts)."""
    return group_options("source")


@dataclass(frozen=True)
class LearningSource:
    """One learning source as its YAML describes it (values resolved).

    Attributes:
        name: the source name; its YAML is ``conf/source/<name>.yaml``.
        category: Table 1 category, one of :data:`~mtl_music.sources.base.CATEGORIES`.
        k: dimension of z (pLSA topics or GMM components).
        reader: ``{"kind": ..., <file keys>...}`` or ``None`` for ``self``.
        preprocess: ``{"kind": "plsa" | "gmm" | "self", <parameters>...}``.
        raw: the YAML's values before interpolation (for messages that name ``${data...}`` keys).
    """

    name: str
    category: str
    k: int
    reader: dict[str, Any] | None
    preprocess: dict[str, Any]
    raw: dict[str, Any]

    # -------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, source_cfg: DictConfig, *, data_cfg: DictConfig | None = None) -> "LearningSource":
        """Validate and resolve a source config node (``cfg.source.<name>``)."""
        raw = OmegaConf.to_container(source_cfg, resolve=False) if isinstance(source_cfg, DictConfig) else dict(source_cfg)
        name = raw.get("name")
        where = f"conf/source/{name}.yaml" if name else "the source YAML"
        if not name:
            raise ConfigError(f"a learning source config has no 'name' key ({raw}); every YAML in conf/source/ "
                              "starts with '# @package source.<name>' and 'name: <name>'")
        values = _resolve(source_cfg, data_cfg=data_cfg, where=where)
        for key in ("category", "preprocess"):
            if key not in values:
                raise ConfigError(f"{where} lacks the key '{key}'")
        category = str(values["category"])
        if category not in CATEGORIES:
            raise ConfigError(f"{where}: category {category!r} is unknown; choose one of {', '.join(CATEGORIES)}")
        preprocess = dict(values["preprocess"] or {})
        kind = preprocess.get("kind")
        if kind not in PREPROCESS_KEYS:
            raise ConfigError(f"{where}: preprocess.kind {kind!r} is unknown; choose one of {', '.join(PREPROCESS_KEYS)}")
        unknown = set(preprocess) - {"kind", *PREPROCESS_KEYS[kind]}
        if unknown:
            raise ConfigError(f"{where}: preprocess key(s) {', '.join(sorted(unknown))} are unknown for kind {kind!r}; "
                              f"valid: {', '.join(PREPROCESS_KEYS[kind]) or 'none'}")
        if kind == "plsa" and preprocess.get("tfidf"):
            bad = set(preprocess["tfidf"]) - set(TFIDF_KEYS)
            if bad:
                raise ConfigError(f"{where}: preprocess.tfidf key(s) {', '.join(sorted(bad))} are unknown; "
                                  f"valid: {', '.join(TFIDF_KEYS)}")
        reader = values.get("reader")
        if kind == "self":
            reader = None
        else:
            reader = dict(reader or {})
            rkind = reader.get("kind")
            if rkind not in READER_KEYS:
                raise ConfigError(f"{where}: reader.kind {rkind!r} is unknown; choose one of {', '.join(READER_KEYS)}")
            spec = READER_KEYS[rkind]
            missing = [key for key in spec["files"] if not reader.get(key)]
            unknown = set(reader) - {"kind", *spec["files"], *spec["optional"]}
            if missing or unknown:
                raise ConfigError(f"{where}: reader kind {rkind!r} takes the keys {', '.join(spec['files'] + spec['optional'])}"
                                  f"{'; missing ' + ', '.join(missing) if missing else ''}"
                                  f"{'; unknown ' + ', '.join(sorted(unknown)) if unknown else ''}")
            wants = "matrix" if kind == "plsa" else "scalar"
            if spec["returns"] not in (wants, "either"):
                raise ConfigError(f"{where}: reader {rkind!r} gives {spec['returns']} labels but preprocess {kind!r} "
                                  f"needs {wants} labels (pLSA: sparse labels; GMM: one value per track)")
        k = int(values.get("k", 2 if kind == "self" else 50))
        if k < 1:
            raise ConfigError(f"{where}: k={k} must be a positive number of topics/components")
        return cls(name=str(name), category=category, k=k, reader=reader, preprocess=preprocess, raw=raw)

    @property
    def is_self(self) -> bool:
        return self.preprocess["kind"] == "self"

    @property
    def config_file(self) -> str:
        return f"conf/source/{self.name}.yaml"

    def params(self) -> dict[str, Any]:
        """Everything that determines the output (hashed into the store key)."""
        return {"name": self.name, "category": self.category, "k": self.k, "reader": self.reader,
                "preprocess": self.preprocess}

    # -------------------------------------------------------------- input files
    def input_files(self) -> list[Path]:
        """The label files this source reads; raises :class:`SourceError` naming a missing one."""
        if self.reader is None:
            return []
        files: list[Path] = []
        for key in READER_KEYS[self.reader["kind"]]["files"]:
            value = self.reader[key]
            if key == "paths":  # musiXmatch: train and test, whichever are present (at least one)
                candidates = [Path(p) for p in (value if isinstance(value, (list, tuple)) else [value])]
                present = [p for p in candidates if p.is_file()]
                if not present:
                    raise self._missing(key, candidates)
                files.extend(present)
            else:
                path = Path(value)
                if not path.is_file():
                    raise self._missing(key, [path])
                files.append(path)
        return files

    def _missing(self, key: str, paths: list[Path]) -> SourceError:
        raw_value = (self.raw.get("reader") or {}).get(key)
        shown = " or ".join(str(p) for p in paths)
        via_labels_dir = "data.labels_dir" in str(raw_value)
        return SourceError(
            f"source {self.name!r}: label file {shown} does not exist. It is reader.{key} of {self.config_file} "
            f"(= {raw_value}). "
            + ("Put the file in data.labels_dir, point data.labels_dir=... at the folder that holds it, "
               if via_labels_dir else "Put the file there, ")
            + f"or override source.{self.name}.reader.{key}=...; a dataset builder (e.g. data=demo) writes its "
            "label files when the dataset is prepared (python -m mtl_music.prepare)."
        )

    # -------------------------------------------------------------- computing
    def compute(self) -> SourceLabels:
        """Read and factorise (no store): the :class:`SourceLabels` of this source."""
        report = SourceReport(source=self.name)
        if self.is_self:
            return SourceLabels(name=self.name, category=self.category, track_ids=None, z=None, topic_labels=None,
                                label_names=None, report=report, preprocess="self")
        self.input_files()  # fail on a missing file before reading anything
        raw = self._read(report)
        if isinstance(raw, ScalarLabels):
            labels = self._mixture(raw, report)
        else:
            labels = self._topics(raw, report)
        report.log_warnings(log)
        return labels

    def _read(self, report: SourceReport) -> LabelMatrix | ScalarLabels:
        r = self.reader
        kind = r["kind"]
        if kind == "lastfm_tags":
            return readers.read_lastfm_tags(r["path"], report=report)
        if kind == "taste_triplets":
            return readers.read_taste_triplets(r["path"], tracks_path=r["tracks"], report=report)
        if kind == "mxm_lyrics":
            return readers.read_mxm_lyrics(self.input_files(), report=report)
        if kind == "artist_tags":
            return readers.read_artist_tags(r["path"], tracks_path=r["tracks"], report=report)
        if kind == "tracks_per_year":
            return readers.read_tracks_per_year(r["path"], report=report)
        if kind == "tempo":
            return readers.read_tempo(r["path"], report=report)
        options = {"delimiter": r.get("delimiter"), "header": r.get("header")}
        if self.preprocess["kind"] == "gmm":
            return readers.read_scalar_table(r["path"], report=report, **options)
        return readers.read_label_table(r["path"], report=report, **options)

    def _no_tracks(self, what: str) -> SourceError:
        files = ", ".join(str(p) for p in self.input_files())
        return SourceError(f"source {self.name!r} has no usable track: {what} (files: {files}; config "
                           f"{self.config_file}). Check the file format, or leave {self.name!r} out of source=[...]")

    def _topics(self, raw: LabelMatrix, report: SourceReport) -> SourceLabels:
        matrix = raw.matrix.tocsr()
        report.counts.update(rows_read=int(matrix.shape[0]), labels=int(matrix.shape[1]), entries=int(matrix.nnz))
        options = self.preprocess.get("tfidf")
        if options:
            matrix = tfidf(matrix, **options)
        mass = np.asarray(matrix.sum(axis=1)).ravel()
        empty = np.flatnonzero(mass <= 0)
        report.add_many("empty_rows", [f"{raw.row_ids[i]}: all labels zero (excluded)" for i in empty[:5]],
                        count=len(empty))
        kept = np.flatnonzero(mass > 0)
        if kept.size == 0:
            raise self._no_tracks(f"all {matrix.shape[0]} label rows are empty or malformed")
        matrix = matrix[kept]
        p = self.preprocess
        model = PLSA(n_topics=self.k, max_iter=int(p.get("max_iter", 200)), tol=float(p.get("tol", 1e-5)),
                     seed=int(p.get("seed", 0)), n_init=int(p.get("n_init", 1)), backend=str(p.get("backend", "numba")))
        log.info("source %r: pLSA with k=%d on %d x %d (%d non-zeros)", self.name, self.k, *matrix.shape, matrix.nnz)
        theta = model.fit_transform(matrix)
        if raw.track_rows is None:
            track_ids, z = raw.row_ids[kept], theta
        else:  # rows are songs/artists: each track takes its row's topics
            new_row = np.full(len(raw.row_ids), -1, dtype=np.int64)
            new_row[kept] = np.arange(kept.size)
            rows = new_row[raw.track_rows]
            has = rows >= 0
            track_ids, z = raw.track_ids[has], theta[rows[has]]
        if len(track_ids) == 0:
            raise self._no_tracks("no track can be joined to the factorised rows")
        report.counts.update(rows_factorised=int(kept.size), tracks=int(len(track_ids)))
        report.fit.update(method="tfidf+plsa" if options else "plsa", n_iter=model.n_iter_,
                          converged=model.converged_, log_likelihood=model.log_likelihood_)
        return SourceLabels(name=self.name, category=self.category, track_ids=np.asarray(track_ids, dtype=str),
                            z=_as_distributions(z), topic_labels=model.topic_word_.astype(np.float32),
                            label_names=list(raw.label_names), report=report,
                            preprocess="tfidf+plsa" if options else "plsa")

    def _mixture(self, raw: ScalarLabels, report: SourceReport) -> SourceLabels:
        report.counts.update(tracks=int(len(raw.track_ids)))
        if len(raw.track_ids) == 0:
            raise self._no_tracks("no line holds a valid value")
        if len(raw.track_ids) < self.k:
            raise SourceError(f"source {self.name!r} has {len(raw.track_ids)} tracks with values, fewer than its "
                              f"k={self.k} mixture components; lower source.{self.name}.k (in {self.config_file})")
        p = self.preprocess
        mixture = fit_scalar_mixture(raw.values, k=self.k, seed=int(p.get("seed", 0)), max_iter=int(p.get("max_iter", 500)),
                                     tol=float(p.get("tol", 1e-4)), reg_covar=float(p.get("reg_covar", 1e-4)),
                                     n_init=int(p.get("n_init", 1)))
        report.fit.update(method="gmm", n_iter=mixture.n_iter, converged=mixture.converged,
                          log_likelihood=mixture.log_likelihood)
        return SourceLabels(name=self.name, category=self.category, track_ids=np.asarray(raw.track_ids, dtype=str),
                            z=_as_distributions(mixture.posterior(raw.values)),
                            topic_labels=mixture.components.astype(np.float32), label_names=list(COMPONENT_COLUMNS),
                            report=report, preprocess="gmm")


def _as_distributions(z: np.ndarray) -> np.ndarray:
    """float32 rows that sum to 1 (renormalised after the cast)."""
    z = np.asarray(z, dtype=np.float32)
    return z / z.sum(axis=1, keepdims=True, dtype=np.float32)


def _resolve(source_cfg, *, data_cfg, where: str) -> dict[str, Any]:
    """The source's values with ``${data...}`` resolved, whether or not the node is attached
    to a full config (``cfg.source.<name>``) or stands alone."""
    if not isinstance(source_cfg, DictConfig):
        source_cfg = OmegaConf.create(dict(source_cfg))
    try:
        return OmegaConf.to_container(source_cfg, resolve=True)
    except OmegaConfBaseException:
        if data_cfg is None:
            raise ConfigError(f"{where} refers to ${{data...}} keys; pass data_cfg=cfg.data") from None
    try:
        data = OmegaConf.to_container(data_cfg, resolve=True)
        root = OmegaConf.create({"data": data, "source": OmegaConf.to_container(source_cfg, resolve=False)})
        return OmegaConf.to_container(root.source, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{where}: cannot resolve its values ({err})") from err


def load_source_labels(source_cfg: DictConfig, *, data_cfg: DictConfig, recompute: bool = False) -> SourceLabels:
    """The labels of one learning source for one dataset, from the store when up to date.

    Args:
        source_cfg: ``cfg.source.<name>`` (a node of ``conf/source/<name>.yaml``).
        data_cfg: ``cfg.data``; its ``root`` holds the store (``<root>/sources/``) and its
            ``labels_dir`` the raw label files.
        recompute: ignore a stored result.

    Returns:
        :class:`SourceLabels`; for ``self`` with ``track_ids=None, z=None``.

    Raises:
        SourceError: a label file is missing (naming it, the YAML and the config key to change),
            or the source has no usable track.
    """
    source = LearningSource.from_config(source_cfg, data_cfg=data_cfg)
    if source.is_self:
        return source.compute()
    files = source.input_files()
    try:
        root = OmegaConf.to_container(data_cfg, resolve=True)["root"] if isinstance(data_cfg, DictConfig) else data_cfg["root"]
    except (OmegaConfBaseException, KeyError) as err:
        raise ConfigError(f"data.root cannot be resolved ({err}); set data.root or paths.data_root") from err
    key = source_key(params=source.params(), input_files=files)
    path = store_path(root=root, name=source.name, key=key)
    if not recompute:
        labels = _stored(path, source.name)
        if labels is not None:
            return labels
    # Jobs sharing the data root (sweep jobs, DDP ranks): one computes, the others wait and load.
    with exclusive(path, what=f"the source store of {source.name!r} ({path.name})"):
        if not recompute:
            labels = _stored(path, source.name)  # stored by the process this one waited for
            if labels is not None:
                return labels
        log.info("source %r: computing from %s", source.name, ", ".join(map(str, files)))
        labels = source.compute()
        save_labels(path, labels, key=key)
    log.info("source %r: %d tracks, k=%d, stored in %s", source.name, len(labels), labels.k, path)
    return labels


def _stored(path: Path, name: str) -> SourceLabels | None:
    """The store at ``path``, or ``None`` when it is missing or unreadable (warned)."""
    if not path.is_file():
        return None
    try:
        labels = load_labels(path)
    except DataError as err:
        log.warning("%s; recomputing", err)
        return None
    log.info("source %r: loaded %d tracks from %s", name, len(labels), path)
    return labels
