"""Sweep wall time on Hydra's joblib launcher: the same 4-run sweep with n_jobs=1 and n_jobs=2.

Four tiny training runs (ss_r on tag / bpm, two seeds, 2 full epochs each) on the synthetic
tiny dataset, launched as one ``python -m mtl_music.train -m ... hydra/launcher=joblib`` sweep.
The mel cache and the sources' labels are computed once beforehand, so both sweeps time the
jobs themselves (process start, imports, training, checkpoints). Prints both wall times and
their ratio; measured, not asserted (it depends on the machine's cores and its load).

    .venv/bin/python benchmarks/bench_sweep.py     # needs pip install 'mtl_music[launchers]'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SWEEP = ["source=[tag],[bpm]", "seed=0,1", "arch=ss_r"]  # 2 x 2 = 4 runs
EPOCHS = int(os.environ.get("MTL_BENCH_EPOCHS", "2"))  # an epoch of the tiny dataset is ~4 steps
# Each setting is timed this often (MTL_BENCH_QUICK=1: once); the best counts.
ROUNDS = int(os.environ.get("MTL_BENCH_ROUNDS", "1" if os.environ.get("MTL_BENCH_QUICK") == "1" else "2"))
RUN = ["k=3", f"epochs={EPOCHS}", "validation.batches_per_source=1"]


def _train(args: list[str], cwd: Path, env_extra: dict | None = None) -> float:
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(REPO), **(env_extra or {})}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mtl_music.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"sweep failed ({' '.join(args[-3:])}):\n{proc.stderr[-3000:]}")
    return seconds


#: (label, n_jobs, environment). joblib runs n_jobs=1 in the launching process itself, with torch's
#: default threads (one per core); with n_jobs=2 its loky workers get cpu_count // n_jobs threads
#: each (joblib sets OMP_NUM_THREADS & co. in them). The third setting holds the threads equal.
SETTINGS = [("n_jobs=1", 1, {}), ("n_jobs=2", 2, {}), ("n_jobs=1 OMP_NUM_THREADS=1", 1, {"OMP_NUM_THREADS": "1"})]


def main() -> None:
    try:
        import hydra_plugins.hydra_joblib_launcher  # noqa: F401
    except ImportError:
        sys.exit("needs Hydra's joblib launcher: pip install 'mtl_music[launchers]'")
    from tests.helpers.tiny_dataset import tiny_train_overrides, write_tiny_dataset

    times: dict[str, list[float]] = {label: [] for label, _, _ in SETTINGS}
    inside: dict[str, list[float]] = {label: [] for label, _, _ in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_tiny_dataset(tmp / "data" / "tiny")
        data = tiny_train_overrides(tmp / "data")
        # Computes the mel cache and both sources' labels, which every later job reuses.
        _train(["-m", *data, *RUN, "limit_train_steps=1", "source=[tag],[bpm]", "arch=ss_r",
                f"hydra.sweep.dir={tmp / 'warmup'}"], tmp)
        for round_ in range(ROUNDS):
            for index, (label, n_jobs, env) in enumerate(SETTINGS if round_ % 2 == 0 else SETTINGS[::-1]):
                sweep_dir = tmp / f"sweep{round_}_{index}"
                times[label].append(_train(["-m", *data, *RUN, *SWEEP, "hydra/launcher=joblib",
                                            f"hydra.launcher.n_jobs={n_jobs}", f"hydra.sweep.dir={sweep_dir}"], tmp, env))
                summaries = [json.loads(p.read_text()) for p in sweep_dir.glob("*/summary.json")]
                if len(summaries) != 4:
                    sys.exit(f"{label}: {len(summaries)} of 4 runs wrote a summary")
                inside[label].append(sum(s["seconds"] for s in summaries) / len(summaries))
    best = {label: min(t) for label, t in times.items()}
    print(f"4-run sweep (tiny dataset, epochs={EPOCHS}), {os.cpu_count()} CPU(s), hydra/launcher=joblib, "
          f"best of {ROUNDS} (every round; mean seconds inside one run):")
    for label, _, _ in SETTINGS:
        print(f"  {label:28s} {best[label]:6.1f} s   ({', '.join(f'{t:.1f}' for t in times[label])}; "
              f"{min(inside[label]):.1f} s per run)")
    one, two, equal = (best[label] for label, _, _ in SETTINGS)
    print(f"  ratio n_jobs=1 / n_jobs=2: {one / two:.2f}x; with one thread per job: {equal / two:.2f}x")


if __name__ == "__main__":
    main()
