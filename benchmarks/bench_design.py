"""Time of the experimental design (python -m mtl_music.design) and its quality vs random runs.

    .venv/bin/python benchmarks/bench_design.py

Prints the greedy phase 3's wall time for the paper's budget (352 of 1230 runs) and for all
1230, and the maximum aliasing between main effects of b greedy runs vs b random ones.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from mtl_music.experiment import design_space, greedy_phase3, max_aliasing
from mtl_music.experiment.factors import phase3_candidates
from mtl_music.paper import PAPER_SOURCES, STRATEGIES


def _aliasing(runs, space) -> float:
    table = pd.DataFrame({"strategy": [t for _, t in runs], "sources": ["+".join(s) for s, _ in runs]})
    return max_aliasing(design=table, sources=space.sources, strategies=space.multi_source)


def main() -> None:
    space = design_space(sources=PAPER_SOURCES, strategies=STRATEGIES)
    for budget in (352, None):
        start = time.perf_counter()
        picks = greedy_phase3(space=space, runs=budget, seed=0)
        print(f"greedy phase 3, {len(picks)} runs: {time.perf_counter() - start:.2f} s")
    candidates = phase3_candidates(space=space)
    rng = np.random.default_rng(0)
    print("runs  greedy (seeds 0-4)  random (mean of 20 draws)")
    for budget in (50, 100, 352):
        greedy = [greedy_phase3(space=space, runs=budget, seed=s)[-1].max_aliasing for s in range(5)]
        random = [_aliasing([candidates[i] for i in rng.choice(len(candidates), budget, replace=False)], space)
                  for _ in range(20)]
        print(f"{budget:4d}  {np.mean(greedy):.3f} ({min(greedy):.3f}-{max(greedy):.3f})  "
              f"{np.mean(random):.3f} ({min(random):.3f}-{max(random):.3f})")


if __name__ == "__main__":
    main()
