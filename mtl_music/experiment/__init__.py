"""The paper's experimental design (Kim et al., Sect. 4.3, Algorithm 2, Fig. 7; SPEC R7.1–R7.2).

``python -m mtl_music.design`` writes, into ``outputs/design/<time>/``:

* ``design.csv`` — one row per training run: ``run_id``, ``phase``, ``strategy``,
  ``n_sources``, ``sources`` (``+``-joined), one 0/1 column per source, ``repeat``, ``seed``,
  ``overrides``;
* ``runs.txt`` — line i: the ``python -m mtl_music.train`` overrides of row i;
* ``run_design.sh`` — trains them one after the other into ``runs/<run_id>/`` (resumable,
  shardable; see :mod:`.sweep`);
* ``alias_matrix.csv`` — the aliasing between main effects of the whole design (Fig. 7).

Phases: (1) ``ss_r`` × every source × repeats; (2) every multi-source strategy × all sources ×
repeats; (3) a greedy sequential fraction of the multi-source strategies × source subsets of
size n = 2..m-1 (:mod:`.greedy`).

Modules: :mod:`.factors` (names, phases 1–2, phase-3 candidates), :mod:`.greedy` (Algorithm 2),
:mod:`.aliasing` (model matrix, alias matrix), :mod:`.table` (the design table), :mod:`.sweep`
(runs.txt, run_design.sh), :mod:`mtl_music.design` (the Hydra app).
"""

from mtl_music.experiment.aliasing import alias_matrix, max_aliasing
from mtl_music.experiment.factors import DesignSpace, design_space
from mtl_music.experiment.greedy import GreedyPick, greedy_phase3
from mtl_music.experiment.sweep import override_line, override_tokens, parse_override_line, write_sweep
from mtl_music.experiment.table import build_design

__all__ = [
    "DesignSpace", "GreedyPick", "alias_matrix", "build_design", "design_space", "greedy_phase3", "max_aliasing",
    "override_line", "override_tokens", "parse_override_line", "write_sweep",
]
