"""``python -m mtl_music.evaluate ckpt=<path> target=[gtzan,ballroom] [baseline=mfcc|rand|choi|external|hear]``.

Standalone transfer evaluation (SPEC R6.6) of a checkpoint, or of a baseline, on any targets.
Your own audio folder and label file: ``target=folder target.root=DIR target.labels=FILE``
(``target.root`` / ``labels`` / ``task`` are shorthands for the one selected target's keys).
A published HEAR model: ``baseline=hear hear.module=<python module> hear.model=<weights or null>``
(``hear.module`` / ``model`` are shorthands for ``evaluation.hear.<key>``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mtl_music import runs
from mtl_music.cli import hydra_app
from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Keys of conf/evaluate.yaml's ``target:`` body that set the one selected target's key
#: (``target=folder target.root=DIR`` is ``target.folder.root=DIR``); they are not targets.
TARGET_SHORTHANDS = ("root", "labels", "task")


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


#: Keys of conf/evaluate.yaml's ``hear:`` block, shorthands for ``evaluation.hear.<key>``.
HEAR_SHORTHANDS = ("module", "model")


def apply_hear_shorthands(cfg: DictConfig) -> None:
    """Sets ``evaluation.hear.<key>`` from the non-null ``hear.<key>`` shorthands
    (:data:`HEAR_SHORTHANDS`). Raises :class:`ConfigError` when one is set but no ``hear``
    baseline is evaluated (it would be ignored)."""
    given = {key: (cfg.get("hear") or {}).get(key) for key in HEAR_SHORTHANDS}
    given = {key: value for key, value in given.items() if value is not None}
    if not given:
        return
    if cfg.get("baseline") != "hear" and "hear" not in (cfg.evaluation.get("baselines") or []):
        first = next(iter(given))
        raise ConfigError(f"hear.{first}={given[first]} configures the hear baseline, which is not evaluated; "
                          "add baseline=hear")
    for key, value in given.items():
        cfg.evaluation.hear[key] = value


def run(cfg: DictConfig):
    """Evaluates as configured; returns the :class:`ResultsTable` (also written to csv)."""
    from mtl_music.evaluation.settings import EvaluationSettings
    from mtl_music.evaluation.transfer import baseline_representation, check_baselines, evaluate_all
    from mtl_music.evaluation.transfer_callback import evaluate_module

    targets = selected_targets(cfg)
    if not targets:
        raise ConfigError("no target to evaluate on: pass target=[...] (see conf/target/)")
    apply_hear_shorthands(cfg)
    settings = EvaluationSettings.from_cfg(cfg.evaluation)
    data_root = Path(str(cfg.paths.data_root)).expanduser()
    baseline = cfg.get("baseline")
    if baseline is not None:
        check_baselines([baseline], key="baseline", hint=" (or leave it out to evaluate ckpt)")
    ckpt = runs.resolve_checkpoint(cfg.ckpt) if cfg.get("ckpt") else None
    if ckpt is None and baseline in (None, "rand", "choi"):
        raise ConfigError("ckpt=<checkpoint or run dir> is needed"
                          + {"rand": " (rand takes its architecture)", "choi": " (choi pools its network's conv layers)"}
                          .get(baseline, ""))
    if ckpt is not None:
        run_name = runs.run_of_checkpoint(ckpt)[1]
        table = evaluate_module(runs.load_module(ckpt), targets=targets, data_root=data_root, run=run_name,
                                settings=settings, baselines=[baseline] if baseline else [],
                                include_module=baseline is None)
    else:
        representation = baseline_representation(baseline, settings=settings)
        table = evaluate_all([representation], targets, data_root=data_root, settings=settings)
    if not len(table):
        # every target failed (each logged with its error): a non-zero exit, not an empty success
        raise DataError(f"no result: the evaluation failed on every target ({', '.join(targets)}); "
                        "the errors logged above say why")
    run_dir = runs.run_of_checkpoint(ckpt)[0] if ckpt is not None else None
    if cfg.get("output"):
        out = Path(str(cfg.output)).expanduser()
    elif run_dir is not None:
        out = run_dir / runs.RESULTS_FILE
    else:
        out = Path(str(cfg.paths.output_dir)) / runs.RESULTS_FILE
    table.to_csv(out)
    print(f"transfer evaluation ({out}):\n{table.summary()}")
    return table


#: The command line: ``python -m mtl_music.evaluate`` / ``mtl-evaluate``.
main = hydra_app("evaluate")(run)


if __name__ == "__main__":
    main()
