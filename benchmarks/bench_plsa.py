"""pLSA at scale, ours against scikit-learn's KL-NMF, plus the taste-triplets reader's throughput.

    .venv/bin/python benchmarks/bench_plsa.py                     # 20k x 40k, 1 M non-zeros (~1 min)
    MTL_BENCH_QUICK=1 .venv/bin/python benchmarks/bench_plsa.py   # 5k x 10k, 200k non-zeros
    MTL_BENCH_FULL=1 .venv/bin/python benchmarks/bench_plsa.py    # 100k x 200k, 5 M non-zeros

Both factorisations run k = 50 for exactly 30 iterations (``tol=0``) on the same random sparse
count matrix, each in a fresh process: seconds of the fit, and peak memory as the growth of
the process's maximum resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) from
just before the fit to just after it (the input matrix already loaded, numba already compiled).
scikit-learn: ``NMF(n_components=50, beta_loss="kullback-leibler", solver="mu", max_iter=30,
init="random", tol=0)``; ours: :class:`mtl_music.sources.plsa.PLSA` with the numba backend
(and the chunked numpy backend for reference).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

K = 50
ITERATIONS = 30


def sizes() -> tuple[int, int, int]:
    if os.environ.get("MTL_BENCH_FULL"):
        return 100_000, 200_000, 5_000_000
    if os.environ.get("MTL_BENCH_QUICK"):
        return 5_000, 10_000, 200_000
    return 20_000, 40_000, 1_000_000


def random_counts(n_docs: int, n_words: int, nnz: int, *, seed: int = 0) -> sp.csr_matrix:
    """Random counts 1..9 at ~nnz random positions; every row has at least one entry."""
    rng = np.random.default_rng(seed)
    rows = np.concatenate([np.arange(n_docs), rng.integers(0, n_docs, nnz - n_docs)])
    cols = rng.integers(0, n_words, nnz)
    values = rng.integers(1, 10, nnz).astype(np.float64)
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(n_docs, n_words))
    matrix.sum_duplicates()
    return matrix


def _maxrss_bytes() -> int:
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _fit_in_child(method: str, path: str, queue) -> None:
    warnings.simplefilter("ignore")
    matrix = sp.load_npz(path).tocsr()
    if method.startswith("ours"):
        from mtl_music.sources.plsa import PLSA

        backend = "numpy" if method == "ours-numpy" else "numba"
        PLSA(n_topics=3, max_iter=2, tol=0, backend=backend).fit(matrix[:50])  # compile outside the timing
        model = PLSA(n_topics=K, max_iter=ITERATIONS, tol=0, seed=0, backend=backend)
        before = _maxrss_bytes()
        start = time.perf_counter()
        model.fit(matrix)
        seconds = time.perf_counter() - start
    else:
        from sklearn.decomposition import NMF

        model = NMF(n_components=K, beta_loss="kullback-leibler", solver="mu", max_iter=ITERATIONS,
                    init="random", tol=0, random_state=0)
        before = _maxrss_bytes()
        start = time.perf_counter()
        model.fit(matrix)
        seconds = time.perf_counter() - start
    queue.put((seconds, _maxrss_bytes() - before))


def measure(method: str, path: str) -> tuple[float, int]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_fit_in_child, args=(method, path, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def bench_factorisation() -> None:
    n_docs, n_words, nnz = sizes()
    matrix = random_counts(n_docs, n_words, nnz)
    print(f"pLSA / KL-NMF, k={K}, {ITERATIONS} iterations, {n_docs:,} x {n_words:,}, {matrix.nnz:,} non-zeros, "
          f"{os.cpu_count()} CPU cores")
    methods = ["ours-numba", "sklearn-nmf"] + ([] if os.environ.get("MTL_BENCH_FULL") else ["ours-numpy"])
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "counts.npz")
        sp.save_npz(path, matrix, compressed=False)
        results = {m: measure(m, path) for m in methods}
    sk_seconds, sk_mem = results["sklearn-nmf"]
    for method, (seconds, mem) in results.items():
        print(f"  {method:12s} {seconds:8.2f} s  {seconds / ITERATIONS:6.3f} s/iter  peak RSS growth {mem / 2**20:8.1f} MiB"
              f"  time vs sklearn {seconds / sk_seconds:5.2f}x  memory vs sklearn {mem / max(sk_mem, 1):5.2f}x")
    ours_seconds = results["ours-numba"][0]
    print(f"  => ours (numba) is {sk_seconds / ours_seconds:.1f}x faster than scikit-learn's KL-NMF")


def bench_triplets_reader() -> None:
    from mtl_music.sources.base import SourceReport
    from mtl_music.sources.readers import read_taste_triplets

    n_lines = 200_000 if os.environ.get("MTL_BENCH_QUICK") else 2_000_000
    rng = np.random.default_rng(0)
    users = np.array([f"{x:040x}" for x in rng.integers(0, 2**62, max(n_lines // 40, 10))])
    songs = np.array([f"SO{x:016X}" for x in rng.integers(0, 2**62, max(n_lines // 20, 10))])
    with tempfile.TemporaryDirectory() as tmp:
        triplets = Path(tmp) / "train_triplets.txt"
        u = users[rng.integers(0, len(users), n_lines)]
        s = songs[rng.integers(0, len(songs), n_lines)]
        c = rng.integers(1, 20, n_lines)
        with open(triplets, "w") as f:
            f.writelines(f"{a}\t{b}\t{n}\n" for a, b, n in zip(u, s, c))
        tracks = Path(tmp) / "unique_tracks.txt"
        tracks.write_text("".join(f"TR{i:016d}<SEP>{song}<SEP>artist<SEP>title\n" for i, song in enumerate(songs)))

        start = time.perf_counter()
        labels = read_taste_triplets(triplets, tracks_path=tracks, report=SourceReport("taste"))
        ours = time.perf_counter() - start

        import pandas as pd

        start = time.perf_counter()
        frame = pd.read_csv(triplets, sep="\t", header=None, names=["user", "song", "count"])
        user_codes, _ = pd.factorize(frame["user"])
        song_codes, _ = pd.factorize(frame["song"])
        sp.csr_matrix((frame["count"].to_numpy(np.float64), (song_codes, user_codes)))
        reference = time.perf_counter() - start
    print(f"taste triplets reader, {n_lines:,} lines ({labels.matrix.shape[0]:,} songs x {labels.matrix.shape[1]:,} users):")
    print(f"  ours (streaming, line numbers for bad lines) {ours:6.2f} s = {n_lines / ours / 1e6:5.2f} M lines/s")
    print(f"  pandas.read_csv + factorize (whole file)      {reference:6.2f} s = {n_lines / reference / 1e6:5.2f} M lines/s"
          f"  -> ours takes {ours / reference:.2f}x its time")


if __name__ == "__main__":
    bench_factorisation()
    bench_triplets_reader()
