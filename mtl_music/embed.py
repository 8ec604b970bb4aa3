"""``python -m mtl_music.embed ckpt=<path> input=<folder or file> output=<file>``: the learned
representation of your own audio (SPEC R6.1 features: mean and std over 2.5 s slices).

Output by extension: ``.npy`` (``(n, 2·D)`` float32, ids in ``<output>.ids.txt``), ``.npz``
(``ids`` and ``features``), ``.parquet`` / ``.csv`` (an ``id`` column and ``f0 … f{2D-1}``).
Unreadable or silent files are reported and skipped; the others are still written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from mtl_music.cli import user_errors_exit
from mtl_music.config import CONF_DIR, check_command_line
from mtl_music.errors import AudioError, ConfigError, DataError

log = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".npy", ".npz", ".parquet", ".csv")


def audio_files(path: str | Path) -> list[Path]:
    """One audio file, or every audio file under a folder (sorted, hidden files skipped)."""
    from mtl_music.audio import AUDIO_EXTENSIONS

    root = Path(str(path)).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"input={path}: no such file or folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise DataError(f"input={path}: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) in this folder")
    return files


def track_slices(mel_db: torch.Tensor, *, slice_frames: int) -> torch.Tensor:
    """``(2, frames, M)`` dB-mel -> ``(ceil(frames / slice_frames), 2, slice_frames, M)``;
    the last slice is padded with the track's own floor, as the mel cache's slicer does."""
    channels, frames, n_mels = mel_db.shape
    n = max(1, -(-frames // slice_frames))
    padded = mel_db.new_full((channels, n * slice_frames, n_mels), float(mel_db.min()))
    padded[:, :frames] = mel_db
    return padded.reshape(channels, n, slice_frames, n_mels).transpose(0, 1)


@torch.no_grad()
def embed_files(module, files: Sequence[Path], *, batch_slices: int = 128, device: str = "cpu"
                ) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """``(ids, (n, 2·D) features, [(file, why skipped)])`` for ``files``; ids are the file names
    relative to their common folder, without extension."""
    from mtl_music.audio import load_audio
    from mtl_music.audio.mel import MelSpectrogram, mel_settings_from_cfg
    from mtl_music.evaluation.features import summarise_slices

    hp = module.hparams
    settings = mel_settings_from_cfg(hp["frontend"])
    frontend = MelSpectrogram(settings).to(device)
    module = module.to(device).eval()
    mean, std = module.band_mean.to(device), module.band_std.to(device)
    slice_frames = int(hp.get("crop_frames", 216))
    common = _common_parent(files)
    ids, rows, skipped = [], [], []
    for path in files:
        try:
            audio = load_audio(path, sample_rate=settings.sample_rate)
        except AudioError as err:
            skipped.append((str(path), str(err)))
            continue
        if not np.any(np.abs(audio) > 1e-4):
            skipped.append((str(path), "silent"))
            continue
        mel = frontend(torch.as_tensor(audio, device=device))
        x = (track_slices(mel, slice_frames=slice_frames) - mean) / std
        rep = torch.cat([module.representation(chunk) for chunk in x.split(batch_slices)]).float().cpu()
        rows.append(summarise_slices(rep).numpy())
        ids.append(path.relative_to(common).with_suffix("").as_posix())
    features = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
    return ids, features, skipped


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
    from mtl_music.evaluate import load_module, resolve_checkpoint

    device = str(cfg.device)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    out = Path(str(cfg.output)).expanduser()
    if out.suffix.lower() not in OUTPUT_SUFFIXES:  # before any work is done
        raise ConfigError(f"output={cfg.output}: use one of {', '.join(OUTPUT_SUFFIXES)}")
    module = load_module(resolve_checkpoint(cfg.ckpt))
    files = audio_files(cfg.input)
    ids, features, skipped = embed_files(module, files, batch_slices=int(cfg.batch_slices), device=device)
    for path, why in skipped:
        log.warning("skipped %s: %s", path, why)
    if not ids:
        raise DataError(f"input={cfg.input}: none of the {len(files)} file(s) could be embedded (see the warnings)")
    written = write_embeddings(out, ids, features)
    print(f"{len(ids)} embedding(s) of {features.shape[1]} values -> {written}"
          + (f" ({len(skipped)} file(s) skipped)" if skipped else ""))
    return written


@hydra.main(config_path=str(CONF_DIR), config_name="embed", version_base="1.3")
@user_errors_exit
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    check_command_line()
    main()
