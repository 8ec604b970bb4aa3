"""What a run directory holds, and how a checkpoint is found and loaded: defined once.

A training run directory (``python -m mtl_music.train``; ``paths.output_dir``) holds::

    config.yaml                 the composed config (resolved)
    .hydra/                     Hydra's own record of the command line
    checkpoints/last.ckpt       the state after the latest epoch (resume with ckpt=last)
    checkpoints/best.ckpt       the lowest validation loss
    summary.json                sources, metrics, epochs, steps, representation size, seconds,
                                throughput (crops/s, share between steps; training.throughput)
    transfer.csv                transfer results (TransferEvaluation callback, or mtl_music.evaluate)
    csv/ | tensorboard/ | wandb/   the logger's files
    SKIPPED.txt | FAILED.txt    a sweep job that could not be trained, and why

Apps that take a checkpoint accept the ``.ckpt`` file or the run directory (``ckpt=<run dir>``).
"""

from __future__ import annotations

from pathlib import Path

from mtl_music.errors import ConfigError, DataError

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
RESULTS_FILE = "transfer.csv"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
BEST_CHECKPOINT = "best.ckpt"
SKIPPED_FILE = "SKIPPED.txt"
FAILED_FILE = "FAILED.txt"


def checkpoint_dir(run_dir: Path) -> Path:
    """``<run dir>/checkpoints``."""
    return Path(run_dir) / CHECKPOINT_DIR


def last_checkpoint(run_dir: Path) -> Path | None:
    """``<run dir>/checkpoints/last.ckpt`` when it exists."""
    path = checkpoint_dir(run_dir) / LAST_CHECKPOINT
    return path if path.is_file() else None


def is_finished(run_dir: Path) -> bool:
    """A run that completed: training, its transfer evaluation and ``summary.json`` (written last)."""
    return (Path(run_dir) / SUMMARY_FILE).is_file()


def resolve_checkpoint(ckpt: str | Path) -> Path:
    """A ``.ckpt`` file, or a run directory (its ``checkpoints/last.ckpt``, else ``best.ckpt``).

    Raises :class:`DataError` naming the path when there is no checkpoint there.
    """
    path = Path(str(ckpt)).expanduser()
    if path.is_dir():
        for candidate in (checkpoint_dir(path) / LAST_CHECKPOINT, checkpoint_dir(path) / BEST_CHECKPOINT,
                          path / LAST_CHECKPOINT):
            if candidate.is_file():
                return candidate
        raise DataError(f"ckpt={ckpt}: no checkpoints/last.ckpt or best.ckpt in this folder; pass a .ckpt file")
    if not path.is_file():
        raise DataError(f"ckpt={ckpt}: no such file; pass a checkpoint written by mtl_music.train or its run directory")
    return path


def resume_checkpoint(ckpt: str | Path | None, *, run_dir: Path) -> str | None:
    """What ``python -m mtl_music.train ckpt=...`` resumes from: ``None`` (start fresh),
    ``last`` (``<run dir>/checkpoints/last.ckpt``), a run directory or a ``.ckpt`` path."""
    if not ckpt:
        return None
    path = checkpoint_dir(run_dir) / LAST_CHECKPOINT if str(ckpt) == "last" else Path(str(ckpt)).expanduser()
    if path.is_dir():
        path = checkpoint_dir(path) / LAST_CHECKPOINT
    if not path.is_file():
        raise ConfigError(
            f"ckpt={ckpt}: no checkpoint at {path}. To resume a killed run, rerun it with the same "
            "overrides plus hydra.run.dir=<its run directory> ckpt=last (or give a .ckpt path)."
        )
    return str(path)


def run_of_checkpoint(ckpt: Path) -> tuple[Path | None, str]:
    """``(run directory or None, run name)`` of a checkpoint: ``<run>/checkpoints/x.ckpt`` names
    its run; a loose ``.ckpt`` is named after its file."""
    ckpt = Path(ckpt)
    if ckpt.parent.name == CHECKPOINT_DIR:
        return ckpt.parent.parent, ckpt.parent.parent.name
    return None, ckpt.stem


def load_module(ckpt: str | Path):
    """The trained :class:`~mtl_music.training.MultiSourceModule` of a checkpoint or run
    directory, on the CPU. Raises :class:`DataError` when the file is not an mtl_music checkpoint."""
    from mtl_music.training import MultiSourceModule

    path = resolve_checkpoint(ckpt)
    try:
        return MultiSourceModule.load_from_checkpoint(str(path), map_location="cpu")
    except (RuntimeError, KeyError, EOFError, OSError) as err:
        raise DataError(f"ckpt={ckpt} is not a readable mtl_music checkpoint ({err})") from err


__all__ = ["BEST_CHECKPOINT", "CHECKPOINT_DIR", "CONFIG_FILE", "FAILED_FILE", "LAST_CHECKPOINT", "RESULTS_FILE",
           "SKIPPED_FILE", "SUMMARY_FILE", "checkpoint_dir", "is_finished", "last_checkpoint", "load_module",
           "resolve_checkpoint", "resume_checkpoint", "run_of_checkpoint"]
