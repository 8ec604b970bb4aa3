"""Demo-corpus rendering speed: tracks/s with 1 and 2 workers, and where the time goes.

    .venv/bin/python benchmarks/bench_corpus.py            # 40 tracks per run
    MTL_BENCH_QUICK=1 .venv/bin/python benchmarks/bench_corpus.py   # 12 tracks per run

Side by side in one run:
* 1 vs 2 worker processes on the same tracks (the build's parallelism);
* per-track stage times (music21 parse + notes, synthesis, encoding);
* OGG Vorbis vs FLAC vs WAV on the same rendered clip (seconds and bytes; the corpus format);
* one ABC tune parsed from its own text (ours) vs parsing its whole Essen file (the naive way).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
N_TRACKS = 12 if QUICK else 40


def _jobs(folder: Path, n: int):
    from mtl_music.corpus import catalog, plan
    from mtl_music.corpus.jobs import RenderJob, render_fingerprint

    counts = plan.collection_counts(n, plan.DEFAULT_MIX, {c: 10_000 for c in plan.DEFAULT_MIX})
    fingerprint = render_fingerprint(seed=0, duration=30.0, sample_rate=22050, channels=2, audio_format="ogg")
    jobs = []
    for name, count in counts.items():
        for work in plan.candidate_order(catalog.works(name), seed=0, collection=name)[:count]:
            tid = plan.track_id(work)
            jobs.append(RenderJob(track_id=tid, work=work, audio_path=str(folder / f"{tid}.ogg"),
                                  record_path=str(folder / "records" / f"{tid}.json"), channels=2, duration=30.0,
                                  sample_rate=22050, seed=0, fingerprint=fingerprint))
    return jobs


def bench_workers() -> None:
    from mtl_music.corpus.jobs import RenderPool

    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            jobs = _jobs(Path(tmp), N_TRACKS)
            with RenderPool(num_workers=workers, sample_rate=22050) as pool:
                if workers > 1:
                    pool.run(jobs[:workers], desc="warm-up", progress=False)  # process start-up is not rendering
                    jobs = _jobs(Path(tmp) / "run", N_TRACKS)
                started = time.perf_counter()
                results = pool.run(jobs, desc=f"{workers} worker(s)", progress=False)
                seconds = time.perf_counter() - started
        failed = sum(r["status"] != "ok" for r, _ in results)
        rates[workers] = len(jobs) / seconds
        busy = sum(sum(t.values()) for _, t in results) / seconds  # > 1: tracks rendered concurrently
        print(f"{workers} worker(s): {len(jobs)} tracks in {seconds:.1f} s = {rates[workers]:.2f} tracks/s "
              f"({failed} failed; {busy:.2f} tracks in progress on average)")
        if workers == 1:
            timings = [t for _, t in results if t]
            for stage in ("parse", "render", "encode"):
                print(f"   {stage:>6}: mean {statistics.mean(t[stage] for t in timings) * 1000:.0f} ms/track")
    print(f"speed-up 2 vs 1 workers: {rates[2] / rates[1]:.2f}x  (2,000 tracks at 2 workers: ~{2000 / rates[2] / 60:.1f} min; "
          "other processes on the same cores lower both)")


def bench_formats() -> None:
    import soundfile as sf

    from mtl_music.corpus import catalog
    from mtl_music.corpus.jobs import track_rng
    from mtl_music.corpus.performance import choose_performance
    from mtl_music.corpus.render import Renderer
    from mtl_music.corpus.scores import parse_work, score_notes

    work = catalog.works("bach")[10]
    notes = score_notes(parse_work(work), work)
    rng = track_rng(0, work.key)
    audio = Renderer().render(notes, choose_performance(work, notes, rng=rng, duration=30.0), duration=30.0, rng=rng)
    rows = {}
    for name, (fmt, subtype) in {"ogg": ("OGG", "VORBIS"), "flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16")}.items():
        reps = 3
        started = time.perf_counter()
        for _ in range(reps):
            buffer = io.BytesIO()
            sf.write(buffer, audio, 22050, format=fmt, subtype=subtype)
        rows[name] = ((time.perf_counter() - started) / reps, len(buffer.getvalue()))
    for name, (seconds, size) in rows.items():
        print(f"{name:>4}: {seconds * 1000:6.0f} ms/clip, {size / 1e6:5.2f} MB/clip -> {2000 * size / 2**30:5.2f} GiB for 2,000 clips")
    print(f"ogg vs flac: {rows['ogg'][1] / rows['flac'][1]:.2f}x the size, {rows['ogg'][0] / rows['flac'][0]:.1f}x the encode time")


def bench_abc_parse() -> None:
    import warnings

    from music21 import converter

    from mtl_music.corpus.abc import read_text, split_tunes
    from mtl_music.corpus.catalog import corpus_root

    path = corpus_root() / "essenFolksong" / "ballad80.abc"
    text = read_text(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        tune = split_tunes(text, file=path.name)[40]
        converter.parse(tune.text, format="abc")
        ours = time.perf_counter() - started
        started = time.perf_counter()
        converter.parse(text, format="abc")  # the naive way: the whole collection for one of its tunes
        naive = time.perf_counter() - started
    print(f"one tune of {path.name}: split + parse the tune {ours * 1000:.0f} ms vs parse the whole file "
          f"{naive * 1000:.0f} ms -> {naive / ours:.0f}x faster")


if __name__ == "__main__":  # workers are spawned: they re-import this module
    bench_workers()
    bench_formats()
    bench_abc_parse()
