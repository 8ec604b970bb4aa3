"""Every process pool of the package is a spawned, single-threaded ``WorkerPool``.

The regression behind it: a pool *forked* from a parent that has used torch's OpenMP thread
pool deadlocks in the child's first parallel torch op (``make demo`` hung in the MFCC
baseline on a fresh machine). Each scenario runs in a fresh interpreter with a time limit, so
a regression fails with the child's output instead of hanging the suite.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mtl_music.workers import WorkerDied, WorkerPool

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "mtl_music"
#: A parent that has run torch's OpenMP pool on a tensor above its parallel grain.
USE_TORCH_THREADS = "import torch; _a = torch.randn(2, 661500); float((_a + _a).sum())"


def _run_script(tmp_path: Path, body: str, *, timeout: float = 240) -> subprocess.CompletedProcess:
    script = tmp_path / "scenario.py"
    script.write_text(textwrap.dedent(body))
    try:
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                              cwd=tmp_path)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"the scenario hung for {timeout} s (a forked pool after torch threads?):\n"
                    f"stdout: {err.stdout}\nstderr: {err.stderr}")


def _double(x: int) -> int:
    return 2 * x


def _die(_: int) -> int:
    import os

    os._exit(3)


def _threads(_: int) -> tuple:
    import os

    import torch

    return torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS"), __import__("multiprocessing").get_start_method()


def test_no_pool_is_made_outside_the_helper():
    pattern = re.compile(r"ProcessPoolExecutor\(|multiprocessing\.Pool\(|\bmp\.Pool\(|get_context\(|"
                         r"multiprocessing\.Process\(|os\.fork\(|\bPool\(")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "workers.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert not offenders, "process pools outside mtl_music.workers:\n" + "\n".join(offenders)


def test_the_ten_line_reproduction_returns_on_the_project_pool(tmp_path):
    proc = _run_script(tmp_path, f"""
        import torch
        from mtl_music.workers import WorkerPool

        def child(_):
            x = torch.zeros(1, 661500)
            return float(torch.cat([x, x], dim=0).sum())

        if __name__ == "__main__":
            {USE_TORCH_THREADS}
            with WorkerPool(2, task="the reproduction") as pool:
                print(pool.map(child, range(4)))
    """, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0.0, 0.0, 0.0, 0.0]"


def test_mfcc_baseline_with_two_workers_after_torch_threads_on_mono_30s_clips(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):  # the demo targets' format: mono 30 s at 22,050 Hz
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(30 * 22050)).astype(np.float32), 22050)
        paths.append(str(path))
    proc = _run_script(tmp_path, f"""
        import numpy as np
        from mtl_music.evaluation.baselines import mfcc_for_paths

        if __name__ == "__main__":
            {USE_TORCH_THREADS}
            paths = {paths!r}
            pooled = mfcc_for_paths(paths, num_workers=2)
            single = mfcc_for_paths(paths, num_workers=1)
            assert pooled.shape == (4, 120), pooled.shape
            np.testing.assert_allclose(pooled, single, rtol=1e-5, atol=1e-5)
            print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_bootstrap_with_two_jobs_after_torch_threads(tmp_path):
    proc = _run_script(tmp_path, f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import pandas as pd
        from tests.helpers.analysis import simulate_runs, simulate_scores
        from mtl_music.analysis import bootstrap, mixed_models

        if __name__ == "__main__":
            {USE_TORCH_THREADS}
            data = mixed_models.standardize_scores(scores=simulate_scores(runs=simulate_runs(n_runs=24), targets=3))
            fit = mixed_models.fit_size_model(data=data)
            pooled = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=4, seed=5, n_jobs=2)
            single = bootstrap.bootstrap_fixed_effects(data=data, fit=fit, n_boot=4, seed=5, n_jobs=1)
            pd.testing.assert_frame_equal(pooled.replicates, single.replicates)
            print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_workers_are_spawned_with_one_thread_and_keep_order():
    with WorkerPool(2, task="a test") as pool:
        assert pool.map(_double, range(7), chunksize=2) == [0, 2, 4, 6, 8, 10, 12]
        threads = pool.map(_threads, range(2))
    assert set(threads) == {(1, "1", "spawn")}


def test_a_worker_that_dies_is_an_error_naming_the_task():
    with pytest.raises(WorkerDied, match="a worker process of the crash test died while working on chunk"):
        with WorkerPool(2, task="the crash test") as pool:
            pool.map(_die, range(4))


def test_an_unguarded_script_fails_fast_with_the_fix(tmp_path):
    proc = _run_script(tmp_path, f"""
        from mtl_music.workers import WorkerPool
        {USE_TORCH_THREADS}
        with WorkerPool(2, task="the unguarded script") as pool:
            print(pool.map(abs, [-1, -2]))
    """, timeout=120)
    assert proc.returncode != 0
    assert "the unguarded script" in proc.stderr and 'if __name__ == "__main__":' in proc.stderr


def test_a_pool_needs_a_worker():
    with pytest.raises(ValueError, match="compute in-process"):
        WorkerPool(0, task="nothing")


def test_a_pool_starts_inside_a_joblib_loky_worker(tmp_path):
    """A job of Hydra's joblib launcher runs in a loky worker, whose default start method
    ``loky`` a spawned child cannot resolve ("cannot find context for 'loky'")."""
    proc = _run_script(tmp_path, """
        import multiprocessing
        from joblib import Parallel, delayed

        def job(values):
            from mtl_music.workers import WorkerPool

            before = multiprocessing.get_start_method()
            with WorkerPool(1, task="a pool in a loky worker") as pool:
                out = pool.map(abs, values)
            return out, before, multiprocessing.get_start_method()

        if __name__ == "__main__":
            print(Parallel(n_jobs=2, backend="loky")(delayed(job)(v) for v in ([-1, -2], [-3])))
    """, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # The loky worker's own default is restored after its pool started.
    assert proc.stdout.strip() == "[([1, 2], 'loky', 'loky'), ([3], 'loky', 'loky')]"
