"""``python -m mtl_music.evaluate ckpt=<path> target=[gtzan,ballroom] [baseline=mfcc|rand|external]``.

Standalone transfer evaluation (SPEC R6.6) of a checkpoint, or of a baseline, on any targets.
Your own audio folder and label file: ``target=folder target.root=DIR target.labels=FILE``
(``target.root`` / ``labels`` / ``task`` are shorthands for the one selected target's keys).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mtl_music.cli import hydra_app

from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Keys of conf/evaluate.yaml's ``target:`` body that set the one selected target's key
#: (``target=folder target.root=DIR`` is ``target.folder.root=DIR``); they are not targets.
TARGET_SHORTHANDS = ("root", "labels", "task")


def resolve_checkpoint(ckpt: str | Path) -> Path:
    """A ``.ckpt`` file, or a run directory (its ``checkpoints/last.ckpt``)."""
    path = Path(str(ckpt)).expanduser()
    if path.is_dir():
        candidates = [path / "checkpoints" / "last.ckpt", path / "checkpoints" / "best.ckpt", path / "last.ckpt"]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise DataError(f"ckpt={ckpt}: no checkpoints/last.ckpt or best.ckpt in this folder; pass a .ckpt file")
    if not path.is_file():
        raise DataError(f"ckpt={ckpt}: no such file; pass a checkpoint written by mtl_music.train or its run directory")
    return path


def load_module(ckpt: Path):
    from mtl_music.training import MultiSourceModule

    try:
        return MultiSourceModule.load_from_checkpoint(str(ckpt), map_location="cpu")
    except (RuntimeError, KeyError, EOFError, OSError) as err:
        raise DataError(f"ckpt={ckpt} is not a readable mtl_music checkpoint ({err})") from err


def selected_targets(cfg: DictConfig) -> dict[str, Any]:
    """The selected targets (name -> composed node), with the non-null shorthand keys
    (:data:`TARGET_SHORTHANDS`) applied to the only one. Raises :class:`ConfigError` when a
    shorthand is set with several targets selected, or names a key the target does not have."""
    nodes = cfg.get("target") or {}
    targets = {name: node for name, node in nodes.items() if name not in TARGET_SHORTHANDS}
    shorthands = {key: nodes.get(key) for key in TARGET_SHORTHANDS if nodes.get(key) is not None}
    if not shorthands:
        return targets
    given = " ".join(f"target.{key}={value}" for key, value in shorthands.items())
    if len(targets) != 1:
        raise ConfigError(f"{given} sets a key of the one selected target, but {len(targets)} are selected "
                          f"({', '.join(targets) or 'none'}); use the long form, e.g. "
                          f"target.<name>.{next(iter(shorthands))}=...")
    (name, node), = targets.items()
    for key, value in shorthands.items():
        if key not in node:
            raise ConfigError(f"target.{key}={value}: target {name} has no {key!r} option "
                              f"(its options: {', '.join(node)})")
        node[key] = value
    return targets


def run(cfg: DictConfig, *, output_dir: Path | None = None):
    """Evaluates as configured; returns the :class:`ResultsTable` (also written to csv)."""
    from mtl_music.evaluation.transfer_callback import evaluate_module
    from mtl_music.evaluation.transfer import evaluate, external_representation, mfcc_representation

    targets = selected_targets(cfg)
    if not targets:
        raise ConfigError("no target to evaluate on: pass target=[...] (see conf/target/)")
    ev = cfg.evaluation
    data_root = Path(str(cfg.paths.data_root)).expanduser()
    baseline = cfg.get("baseline")
    ckpt = resolve_checkpoint(cfg.ckpt) if cfg.get("ckpt") else None
    common = dict(n_repetitions=int(ev.repetitions), seed=int(ev.seed))
    if baseline in (None, "rand"):
        if ckpt is None:
            raise ConfigError("ckpt=<checkpoint or run dir> is needed" + (" (rand takes its architecture)" if baseline else ""))
        module = load_module(ckpt)
        run_name = ckpt.parent.parent.name if ckpt.parent.name == "checkpoints" else ckpt.stem
        table = evaluate_module(module, targets=targets, data_root=data_root, run=run_name,
                                baselines=["rand"] if baseline == "rand" else [], num_workers=int(ev.num_workers),
                                batch_slices=int(ev.batch_slices), include_module=baseline is None, **common)
    elif baseline == "mfcc":
        table = evaluate(mfcc_representation(num_workers=int(ev.num_workers)), targets, data_root=data_root, **common)
    elif baseline == "external":
        if not cfg.get("external_dir"):
            raise ConfigError("baseline=external needs external_dir=<folder of <track_id>.npy files>")
        table = evaluate(external_representation(cfg.external_dir), targets, data_root=data_root, **common)
    else:
        raise ConfigError(f"baseline={baseline!r}: choose mfcc, rand or external (or leave it out to evaluate ckpt)")
    if not len(table):
        # every target failed (each logged with its error): a non-zero exit, not an empty success
        raise DataError(f"no result: the evaluation failed on every target ({', '.join(targets)}); "
                        "the errors logged above say why")
    if cfg.get("output"):
        out = Path(str(cfg.output)).expanduser()
    elif ckpt is not None and ckpt.parent.name == "checkpoints":
        out = ckpt.parent.parent / "transfer.csv"
    else:
        out = (output_dir or Path.cwd()) / "transfer.csv"
    table.to_csv(out)
    print(f"transfer evaluation ({out}):\n{table.summary()}")
    return table


@hydra_app("evaluate")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    run(cfg, output_dir=Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
