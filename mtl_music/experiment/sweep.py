"""The design as a sweep of ``python -m mtl_music.train`` runs.

Hydra's ``-m`` crosses the values it is given; it cannot run an arbitrary list of rows. So the
design is written as

* ``runs.txt``: one line per run, in design order, each the shell-quoted overrides of one
  ``python -m mtl_music.train`` call (``arch=ms_cr@4 'source=[tag,bpm]' seed=3``) — line i is
  row i of ``design.csv``; usable by any launcher (a SLURM array takes line
  ``$SLURM_ARRAY_TASK_ID + 1``);
* ``run_design.sh``: runs them one after the other, run i into ``<sweep dir>/<run id>``
  (``hydra.run.dir``), so that ``<sweep dir>/*/transfer.csv`` are the analysis' inputs and
  each folder name is a ``run_id`` of ``design.csv``;
* or, on any Hydra launcher, one job per row: ``python -m mtl_music.train -m
  design.dir=<folder> 'design.row=range(0,N)' hydra/launcher=...`` — job i reads row i
  (:func:`design_row`) and trains into ``<folder>/runs/<run id>``, the same folders.
"""

from __future__ import annotations

import shlex
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from mtl_music.config import check_group_overrides
from mtl_music.errors import ConfigError

#: Keys every line sets itself (or the script does); ``train_overrides`` may not set them.
DESIGN_KEYS: tuple[str, ...] = ("arch", "source", "seed", "hydra.run.dir", "paths.output_dir", "design")


def check_train_overrides(overrides: Sequence[str]) -> tuple[str, ...]:
    """The extra ``mtl_music.train`` overrides for every run, checked.

    Raises:
        ConfigError: one sets a key the design owns (:data:`DESIGN_KEYS`), is not
            ``key=value``, or names an unknown config-group option (listing the valid ones).
    """
    checked = tuple(str(o).strip() for o in overrides)
    for override in checked:
        key = override.split("=", 1)[0].lstrip("+~")
        if "=" not in override:
            raise ConfigError(f"train_overrides entry {override!r} is not key=value (e.g. trainer=gpu)")
        if key in DESIGN_KEYS or key.startswith("design."):
            raise ConfigError(
                f"train_overrides entry {override!r} sets {key}, which the design sets for every run "
                f"({', '.join(DESIGN_KEYS)}); change the design's sources/strategies/train_seed instead"
            )
    check_group_overrides(checked)
    return checked


def override_tokens(*, strategy: str, sources: Sequence[str], seed: int, extra: Sequence[str] = ()) -> list[str]:
    """The ``mtl_music.train`` overrides of one run, unquoted (for :func:`mtl_music.config.compose`)."""
    return [f"arch={strategy}", f"source=[{','.join(sources)}]", f"seed={int(seed)}", *extra]


def override_line(*, strategy: str, sources: Sequence[str], seed: int, extra: Sequence[str] = ()) -> str:
    """One run's overrides as a shell command-line fragment: ``arch=ss_r 'source=[tag]' seed=0``."""
    return shlex.join(override_tokens(strategy=strategy, sources=sources, seed=seed, extra=extra))


def parse_override_line(line: str) -> list[str]:
    """A ``runs.txt`` line → the override list (undoes the shell quoting)."""
    return shlex.split(line)


_SCRIPT = r"""#!/usr/bin/env bash
# Trains the {count} runs of this experimental design ({phases}), written by
# `python -m mtl_music.design`. Line i of runs.txt is row i of design.csv; it runs as
#   $PYTHON -m mtl_music.train hydra.run.dir=$SWEEP_DIR/<run_id> <line i> [your overrides]
#
# Usage:  ./run_design.sh [override ...]          e.g.  ./run_design.sh trainer=gpu epochs=200
#   SWEEP_DIR  the run folders' parent (default: runs/ beside this script); the analysis reads
#              $SWEEP_DIR/*/transfer.csv, each folder named after its run_id
#   PYTHON     the interpreter with mtl_music installed (default: python)
#   SHARD      k/N: only runs i with i % N == k, for N machines or GPUs side by side
#              (CUDA_VISIBLE_DEVICES=1 SHARD=1/4 ./run_design.sh trainer=gpu &)
#
# Rerunning resumes: a run whose folder holds summary.json is done and skipped; one with
# checkpoints/last.ckpt but no summary.json continues from it (ckpt=last). A failing run
# is reported and the others go on; the exit status is 1 if any failed.
set -uo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
sweep_dir="${{SWEEP_DIR:-$here/runs}}"
python="${{PYTHON:-python}}"
shard="${{SHARD:-0/1}}"
shard_k="${{shard%/*}}"
shard_n="${{shard#*/}}"
failed=()
i=0
# runs.txt is read on descriptor 3: training must not consume the list from stdin.
while IFS= read -r -u 3 line || [[ -n "$line" ]]; do
  printf -v run_id 'r%0{width}d' "$i"
  i=$((i + 1))
  (( (i - 1) % shard_n == shard_k )) || continue
  run_dir="$sweep_dir/$run_id"
  if [[ -f "$run_dir/summary.json" ]]; then
    echo "== $run_id done, skipped"
    continue
  fi
  resume=()
  [[ -f "$run_dir/checkpoints/last.ckpt" ]] && resume=(ckpt=last)
  eval "overrides=($line)"  # runs.txt lines are shell-quoted by the design (shlex)
  echo "== $run_id: ${{overrides[*]}} ${{resume[*]}} $*"
  "$python" -m mtl_music.train "hydra.run.dir=$run_dir" "${{overrides[@]}}" "${{resume[@]}}" "$@" \
    || {{ echo "== $run_id FAILED" >&2; failed+=("$run_id"); }}
done 3< "$here/runs.txt"
if (( ${{#failed[@]}} )); then
  echo "failed runs: ${{failed[*]}}" >&2
  exit 1
fi
"""


#: Where row jobs and run_design.sh train the runs, inside the design folder.
RUNS_SUBDIR = "runs"


def design_row(design_dir: str | Path, row: int) -> tuple[str, list[str]]:
    """``(run_id, train overrides)`` of row ``row`` (0-based, design order) of ``<design_dir>/design.csv``.

    Raises:
        ConfigError: no design.csv there, or ``row`` outside ``0..N-1`` (the message gives N).
    """
    path = Path(design_dir).expanduser() / "design.csv"
    if not path.is_file():
        raise ConfigError(f"design.dir={design_dir}: no design.csv there; write one with python -m mtl_music.design")
    design = pd.read_csv(path, dtype={"run_id": str, "overrides": str}, keep_default_na=False)
    if not 0 <= int(row) < len(design):
        raise ConfigError(f"design.row={row}: {path} has {len(design)} rows; use design.row=range(0,{len(design)})")
    entry = design.iloc[int(row)]
    return str(entry["run_id"]), parse_override_line(str(entry["overrides"]))


def sweep_command(*, design_dir: str | Path, n_rows: int, launcher: str | None = None) -> str:
    """The one command that trains every row of a design as its own job on a Hydra launcher."""
    launcher_part = f" hydra/launcher={launcher}" if launcher else " hydra/launcher=<joblib|submitit_local|submitit_slurm>"
    return (f"python -m mtl_music.train -m design.dir={design_dir} 'design.row=range(0,{n_rows})'"
            f"{launcher_part} [trainer=gpu epochs=200 ...]")


@dataclass(frozen=True)
class SweepFiles:
    """What :func:`write_sweep` wrote."""

    design_csv: Path
    runs_txt: Path
    script: Path


def write_sweep(*, design: pd.DataFrame, output_dir: str | Path) -> SweepFiles:
    """Writes ``design.csv``, ``runs.txt`` and ``run_design.sh`` (executable) into ``output_dir``.

    Args:
        design: a table of :func:`mtl_music.design.build_design` (``run_id``s ``r000``… in row order).
        output_dir: created if missing.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    files = SweepFiles(output_dir / "design.csv", output_dir / "runs.txt", output_dir / "run_design.sh")
    design.to_csv(files.design_csv, index=False)
    files.runs_txt.write_text("".join(f"{line}\n" for line in design["overrides"]))
    width = len(str(design["run_id"].iloc[0])) - 1 if len(design) else 3
    phases = ", ".join(f"phase {p}: {n}" for p, n in design["phase"].value_counts().sort_index().items())
    files.script.write_text(_SCRIPT.format(count=len(design), phases=phases or "empty", width=width))
    files.script.chmod(files.script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return files
