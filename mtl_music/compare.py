"""``python -m mtl_music.compare results=[<file or folder>, ...]``: representations side by side.

Reads every given ``transfer.csv`` (folders: every one below them), and writes to
``paths.output_dir`` (``outputs/compare/<time>_<id>/`` unless ``hydra.run.dir=`` moves it):
``compare.csv`` (the tidy summary with Student-t intervals), ``compare.md`` (the leaderboard on
clean audio, best per column in bold, and the robustness table), ``robustness.csv`` (with deformed
rows), ``compare.png``/``.pdf`` and ``robustness.png``. The leaderboard is also printed.

    python -m mtl_music.compare results=[outputs/evaluate,runs/mine/transfer.csv] +metrics.magnatagatune=roc_auc
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from mtl_music.cli import hydra_app
from mtl_music.errors import ConfigError

if TYPE_CHECKING:
    from mtl_music.analysis.leaderboard import Leaderboard

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """What :func:`run` computed and wrote: the summary, the leaderboard, the robustness table
    (empty without deformed rows), the notes and the written files (name → path)."""

    summary: pd.DataFrame
    board: "Leaderboard"
    robustness: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def _list(cfg: DictConfig, key: str) -> list[str]:
    value = cfg.get(key)
    if value is None:
        return []
    if isinstance(value, str):  # results=one/path
        return [value]
    return [str(v) for v in OmegaConf.to_container(value)]


def compare(cfg: DictConfig, *, output_dir: Path) -> Comparison:
    """Reads, summarises and writes everything into ``output_dir``; returns the :class:`Comparison`."""
    from mtl_music.analysis import figures, leaderboard as lb

    if OmegaConf.is_missing(cfg, "results") or not _list(cfg, "results"):
        raise ConfigError("results=[<transfer.csv or folder>, ...] is required: the results files to compare "
                          "(a folder stands for every transfer.csv below it)")
    metrics = {str(k): str(v) for k, v in (OmegaConf.to_container(cfg.metrics) if cfg.get("metrics") else {}).items()}
    include = _list(cfg, "include")
    digits = int(cfg.get("digits", 3))

    paths = lb.find_inputs(paths=_list(cfg, "results"))
    rows, notes = lb.read_inputs(paths=paths)
    summary = lb.summarize(rows=rows, confidence=float(cfg.get("confidence", 0.95)))
    board = lb.leaderboard(summary=summary, metrics=metrics, include=include, order=str(cfg.get("order", "mean")))
    robust = lb.robustness(summary=summary, metrics=metrics, include=include)

    output_dir.mkdir(parents=True, exist_ok=True)
    result = Comparison(summary=summary, board=board, robustness=robust, notes=notes)
    result.files["compare.csv"] = output_dir / "compare.csv"
    summary.to_csv(result.files["compare.csv"], index=False)
    table = lb.leaderboard_markdown(board=board, digits=digits)
    sections = [f"# Comparison of {len(board.mean)} representations\n",
                f"Inputs: {len(paths)} results file(s). Cells: mean ± half-width of the "
                f"{100 * float(cfg.get('confidence', 0.95)):g} % Student-t interval over repetitions "
                "(n=1: no interval); best per column in bold; clean audio.\n", table + "\n"]
    if not robust.empty:
        result.files["robustness.csv"] = output_dir / "robustness.csv"
        robust.to_csv(result.files["robustness.csv"], index=False)
        sections += ["## Robustness\n", "Probe trained on clean audio, test part deformed; drop = clean − score.\n",
                     lb.robustness_markdown(table=robust, digits=digits) + "\n"]
    if cfg.get("figures", True):
        result.files["compare.png"] = figures.representation_bars(mean=board.mean, half_ci=board.half_ci,
                                                                  best=board.best, path=output_dir / "compare.png")
        result.files["compare.pdf"] = output_dir / "compare.pdf"
        if not robust.empty:
            result.files["robustness.png"] = figures.robustness_curves(table=robust, path=output_dir / "robustness.png")
    if notes:
        sections += ["## Notes\n", "\n".join(f"- {n}" for n in notes) + "\n"]
    result.files["compare.md"] = output_dir / "compare.md"
    result.files["compare.md"].write_text("\n".join(sections), encoding="utf-8")
    return result


def run(cfg: DictConfig) -> Comparison:
    """Compares as configured, prints the leaderboard; returns the :class:`Comparison`."""
    from mtl_music.analysis.leaderboard import leaderboard_markdown

    output_dir = Path(str(cfg.paths.output_dir)).expanduser()
    result = compare(cfg, output_dir=output_dir)
    print(leaderboard_markdown(board=result.board, digits=int(cfg.get("digits", 3))))
    for note in result.notes:
        print(f"note: {note}")
    print(f"written: {result.files['compare.md']} (and compare.csv{', robustness.csv' if not result.robustness.empty else ''}"
          f"{', figures' if cfg.get('figures', True) else ''} beside it)")
    return result


#: The command line: ``python -m mtl_music.compare`` / ``mtl-compare``.
main = hydra_app("compare", open_keys=("metrics.",))(run)


if __name__ == "__main__":
    main()
