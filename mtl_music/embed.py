"""``python -m mtl_music.embed ckpt=<path> input=<folder or file> output=<file> [explain=true]``: the
learned representation of your own audio (SPEC R6.1 features: mean and std over 2.5 s slices).

``explain=true`` also writes ``<output stem>.explain.json``: per track and learning source, the
head's predicted topic distribution and its strongest raw labels (or expected bpm / year), as
in the paper's Fig. 16 (:mod:`mtl_music.evaluation.explain`).

Output by extension: ``.npy`` (``(n, 2·D)`` float32, ids in ``<output>.ids.txt``), ``.npz``
(``ids`` and ``features``), ``.parquet`` / ``.csv`` (an ``id`` column and ``f0 … f{2D-1}``).
Unreadable or silent files are reported and skipped; the others are still written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from mtl_music import runs
from mtl_music.cli import hydra_app

from mtl_music.errors import AudioError, ConfigError, DataError

log = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".npy", ".npz", ".parquet", ".csv")


def audio_files(path: str | Path) -> list[Path]:
    """One audio file, or every audio file under a folder (sorted, hidden files skipped)."""
    from mtl_music.audio import AUDIO_EXTENSIONS
    from mtl_music.audio.files import audio_files as scan

    root = Path(str(path)).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"input={path}: no such file or folder")
    files = scan(root, recursive=True)
    if not files:
        raise DataError(f"input={path}: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) in this folder")
    return files


def _decoded(files: Sequence[Path], *, sample_rate: int, skipped: list[tuple[str, str]]
             ) -> Iterator[tuple[str, torch.Tensor]]:
    """``(id, (2, samples) audio)`` per usable file; unreadable and silent files go to ``skipped``.
    Ids are the file names relative to the files' common folder, without extension."""
    from mtl_music.audio import load_audio

    common = _common_parent(files)
    for path in files:
        try:
            audio = load_audio(path, sample_rate=sample_rate)
        except AudioError as err:
            skipped.append((str(path), str(err)))
            continue
        if not np.any(np.abs(audio) > 1e-4):
            skipped.append((str(path), "silent"))
            continue
        yield path.relative_to(common).with_suffix("").as_posix(), torch.from_numpy(audio)


@dataclass
class EmbeddedFiles:
    """What :func:`embed_and_explain` gives: ``ids`` of the embedded files, ``features``
    ``(len(ids), 2·D)`` float32, ``explanations`` (one ``{source: SourceExplanation}`` per id,
    empty unless asked for) and ``skipped`` ``[(file, why)]``."""

    ids: list[str]
    features: np.ndarray
    explanations: list[dict]
    skipped: list[tuple[str, str]]


@torch.no_grad()
def embed_and_explain(module, files: Sequence[Path], *, explain_top: int = 0, batch_slices: int = 128,
                      device: str = "cpu") -> EmbeddedFiles:
    """Every usable file's vector through :class:`~mtl_music.models.embedder.AudioEmbedder` (the
    module an export writes) and, when ``explain_top > 0``, each source head's reading of the
    same standardised slices with its ``explain_top`` strongest labels (paper Fig. 16,
    :mod:`mtl_music.evaluation.explain`). Each file is decoded once for both."""
    from mtl_music.evaluation.explain import explain_slices
    from mtl_music.models.embedder import AudioEmbedder

    module = module.to(device).eval()
    embedder = AudioEmbedder.from_module(module, batch_slices=batch_slices).to(device).eval()
    result = EmbeddedFiles(ids=[], features=np.zeros((0, 0), np.float32), explanations=[], skipped=[])
    rows = []
    for track_id, audio in _decoded(files, sample_rate=embedder.sample_rate, skipped=result.skipped):
        rows.append(embedder(audio).cpu().numpy())
        if explain_top > 0:
            result.explanations.append(explain_slices(module, embedder.standardized_slices(audio),
                                                      top_labels=explain_top, batch_slices=batch_slices))
        result.ids.append(track_id)
    if rows:
        result.features = np.stack(rows)
    return result


def _embed_files(module, files: Sequence[Path], *, batch_slices: int = 128, device: str = "cpu"
                ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """``(ids, (n, 2·D) features, [(file, why skipped)])`` for ``files``; ids are the file names
    relative to their common folder, without extension (:func:`embed_and_explain` without
    explanations)."""
    result = embed_and_explain(module, files, batch_slices=batch_slices, device=device)
    return result.ids, result.features, result.skipped


def write_explanations(path: Path, ids: Sequence[str], explanations: Sequence[dict], *, checkpoint: str) -> Path:
    """``{"checkpoint", "tracks": [{"id", "sources": {source: explanation}}]}`` as JSON."""
    import json

    payload = {"checkpoint": checkpoint,
               "tracks": [{"id": i, "sources": {s: e.as_dict() for s, e in per.items()}} for i, per in zip(ids, explanations)]}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _common_parent(files: Sequence[Path]) -> Path:
    import os

    return Path(os.path.commonpath([str(Path(f).parent) for f in files]))


def write_embeddings(path: str | Path, ids: Sequence[str], features: np.ndarray) -> Path:
    """Writes ids and features in the format the extension names (see the module docstring)."""
    out = Path(str(path)).expanduser()
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"output={path}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(out, features.astype(np.float32))
        out.with_suffix(".ids.txt").write_text("".join(f"{i}\n" for i in ids))
    elif suffix == ".npz":
        np.savez(out, ids=np.asarray(ids, dtype=str), features=features.astype(np.float32))
    else:
        import pandas as pd

        frame = pd.DataFrame(features.astype(np.float32), columns=[f"f{i}" for i in range(features.shape[1])])
        frame.insert(0, "id", list(ids))
        if suffix == ".csv":
            frame.to_csv(out, index=False)
        else:
            try:
                frame.to_parquet(out, index=False)
            except ImportError as err:
                raise ConfigError(f"output={path}: parquet needs pyarrow (pip install pyarrow), or use .npz") from err
    return out


def run(cfg: DictConfig) -> Path:
    device = str(cfg.device)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(str(cfg.output)).expanduser()
    if out.suffix.lower() not in OUTPUT_SUFFIXES:  # before any work is done
        raise ConfigError(f"output={cfg.output}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    ckpt = runs.resolve_checkpoint(cfg.ckpt)
    module = runs.load_module(ckpt)
    files = audio_files(cfg.input)
    explain_top = int(cfg.explain_top) if cfg.get("explain") else 0
    if explain_top:
        _warn_missing_vocabularies(module, checkpoint=ckpt)
    result = embed_and_explain(module, files, explain_top=explain_top, batch_slices=int(cfg.batch_slices),
                               device=device)
    for path, why in result.skipped:
        log.warning("skipped %s: %s", path, why)
    if not result.ids:
        raise DataError(f"input={cfg.input}: none of the {len(files)} file(s) could be embedded (see the warnings)")
    written = write_embeddings(out, result.ids, result.features)
    print(f"{len(result.ids)} embedding(s) of {result.features.shape[1]} values -> {written}"
          + (f" ({len(result.skipped)} file(s) skipped)" if result.skipped else ""))
    if explain_top:
        _report_explanations(result, checkpoint=ckpt, out=out, shown=int(cfg.explain_print))
    return written


def _warn_missing_vocabularies(module, *, checkpoint: Path) -> None:
    from mtl_music.evaluation.explain import missing_vocabularies

    missing = missing_vocabularies(module)
    if missing:
        log.warning("checkpoint %s stores no topic-label matrix for %s (trained before they were stored): "
                    "topic distributions only; retrain to get the strongest raw labels", checkpoint, ", ".join(missing))


def _report_explanations(result: EmbeddedFiles, *, checkpoint: Path, out: Path, shown: int) -> Path:
    from mtl_music.evaluation.explain import describe_tracks

    path = write_explanations(out.with_name(out.stem + ".explain.json"), result.ids, result.explanations,
                              checkpoint=str(checkpoint))
    print("\n".join(describe_tracks(result.ids[:shown], result.explanations[:shown])))
    print(f"explanations of {len(result.ids)} track(s) -> {path}"
          + (f" (first {shown} shown)" if len(result.ids) > shown else ""))
    return path


#: The command line: ``python -m mtl_music.embed`` / ``mtl-embed``.
main = hydra_app("embed")(run)


if __name__ == "__main__":
    main()
