"""Training throughput: our Lightning training vs a bare PyTorch loop on the same batches.

Both sides read the same real batches (TrainSteps over a mel cache written by `prepare`),
build the same network (mtl_music.models) and run Adam with the paper's settings. The bare
loop is timed in its best setting (channels_last + bf16 autocast where the CPU has native
bf16); ours runs through Lightning with `trainer=cpu` defaults. Prints samples/s, the ratio,
and the fraction of step time spent waiting for data.

    .venv/bin/python benchmarks/bench_train.py          # MTL_BENCH_QUICK=1 for fewer steps
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mtl_music.paper import PAPER_SOURCES, SELF_SOURCE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.helpers

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
STEPS = 4 if QUICK else 24
# oneDNN and the allocator take several steps to settle (measured: the first steps of a fresh
# network run up to 2x slower), so both sides drop this many steps before timing.
WARMUP = 2 if QUICK else 8
ROUNDS = 1 if QUICK else 3
BATCH = 128
SOURCES8 = list(PAPER_SOURCES)


def build_cache(root: Path):
    from tests.helpers.tiny_dataset import tiny_overrides, write_tiny_dataset

    from mtl_music import prepare
    from mtl_music.config import compose
    from mtl_music.data import MelCache, cache_dir_for

    write_tiny_dataset(root / "bench", n_tracks=64, seconds=12.0)
    cfg = compose("prepare", [*tiny_overrides(root, "bench"), "data.prepare.num_workers=2"])
    prepare.run(cfg)
    return MelCache.open(cache_dir_for(cfg))


def make_sources(cache, names):
    from mtl_music.training import SourceTracks

    rng = np.random.default_rng(0)
    splits = np.asarray(cache.splits)
    # Each cached track stands for many: the pool is long enough for WARMUP + STEPS steps in one epoch,
    # so Lightning's per-epoch work is not counted into a step (a real epoch has hundreds of steps).
    train = np.flatnonzero(splits == "train")
    train = np.tile(train, -(-(STEPS + WARMUP) * BATCH * len(names) // len(train)))
    valid = np.flatnonzero(splits == "valid")
    out = {}
    for n in names:
        if n == SELF_SOURCE:
            out[n] = SourceTracks(n, 2, train, valid)
        else:
            out[n] = SourceTracks(n, 50, train, valid, rng.dirichlet(np.ones(50), len(train)).astype("f4"),
                                  rng.dirichlet(np.ones(50), len(valid)).astype("f4"))
    return out


def run_ours(cache, names, arch_name, *, num_workers):
    import pytorch_lightning as pl

    from mtl_music.config import compose
    from mtl_music.data import RandomCrops
    from mtl_music.training.trainer import resolve_precision
    from mtl_music.training import MultiSourceDataModule, MultiSourceModule
    from mtl_music.training.throughput import Throughput

    cfg = compose("train", [f"arch={arch_name}"])
    sources = make_sources(cache, names)
    dm = MultiSourceDataModule(crops=RandomCrops(cache, crop_frames=216), sources=sources, batch_size=BATCH, seed=0,
                               num_workers=num_workers, val_batches_per_source=0, limit_train_steps=STEPS + WARMUP)
    module = MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={n: s.k for n, s in sources.items()},
                               frontend={"n_mels": 128}, optim={"lr": 2.5e-4, "weight_decay": 1e-6},
                               channels_last=True)

    timer = Throughput(warmup=WARMUP)  # the run's own timer (summary.json's throughput)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, precision=resolve_precision("auto", "cpu"),
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                         use_distributed_sampler=False, callbacks=[timer])
    trainer.fit(module, datamodule=dm)
    figures = timer.figures()
    return figures["samples_per_s"], figures["between_share"]


def run_bare(cache, names, arch_name, *, channels_last, bf16):
    from mtl_music.config import compose
    from mtl_music.data import RandomCrops
    from mtl_music.models import build_network
    from mtl_music.training import TrainSteps
    from mtl_music.training.losses import kl_to_targets, same_track_loss

    cfg = compose("train", [f"arch={arch_name}"])
    sources = make_sources(cache, names)
    steps = TrainSteps(crops=RandomCrops(cache, crop_frames=216), sources=list(sources.values()), batch_size=BATCH, seed=0)
    batches = [steps[g] for g in range(STEPS + WARMUP)]  # pre-built: the bare loop never waits for data
    net = build_network(arch=cfg.arch, trunk=cfg.trunk, sources={n: s.k for n, s in sources.items()})
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt).train()
    opt = torch.optim.Adam(net.parameters(), lr=2.5e-4, weight_decay=1e-6)
    times = []
    for batch in batches:
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        x = batch["x"].contiguous(memory_format=fmt)
        # forward and loss under autocast, backward outside it (PyTorch's AMP recipe; Lightning does the same)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if batch["source"] == SELF_SOURCE:
                loss = same_track_loss(net.forward_self(x, batch["x_right"].contiguous(memory_format=fmt)), batch["same"])
            else:
                loss = kl_to_targets(net(x, source=batch["source"]), batch["z"])
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return BATCH * len(times[WARMUP:]) / sum(times[WARMUP:])


def main() -> None:
    torch.manual_seed(0)
    bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    with tempfile.TemporaryDirectory() as tmp:
        cache = build_cache(Path(tmp))
        print(f"batch {BATCH}, {STEPS} timed steps, torch threads {torch.get_num_threads()}, native bf16: {bf16}")
        for arch_name, names in (("ss_r", ["tag"]), ("ms_cr@2", SOURCES8)):
            # The machine's speed drifts by tens of percent within a minute: ours and the bare best
            # are measured ROUNDS times, interleaved, and each side keeps its best round.
            bare = {
                "fp32": run_bare(cache, names, arch_name, channels_last=False, bf16=False),
                "channels_last": run_bare(cache, names, arch_name, channels_last=True, bf16=False),
                "channels_last+bf16": run_bare(cache, names, arch_name, channels_last=True, bf16=True) if bf16 else 0.0,
            }
            best_name = max(bare, key=bare.get)
            best_kw = dict(channels_last=best_name != "fp32", bf16=best_name.endswith("bf16"))
            ours, wait = 0.0, 0.0
            for _ in range(ROUNDS):
                o, w = run_ours(cache, names, arch_name, num_workers=0)
                if o > ours:
                    ours, wait = o, w
                bare[best_name] = max(bare[best_name], run_bare(cache, names, arch_name, **best_kw))
            ours_w, wait_w = run_ours(cache, names, arch_name, num_workers=1)
            print(f"\n{arch_name} with {len(names)} source(s)")
            for k, v in bare.items():
                print(f"  bare loop {k:<20} {v:7.1f} samples/s")
            print(f"  ours (Lightning, 0 workers) {ours:7.1f} samples/s = {ours / bare[best_name]:.2f} x bare best "
                  f"({best_name}); waiting for data {100 * wait:.1f} % of step time")
            print(f"  ours (Lightning, 1 worker)  {ours_w:7.1f} samples/s = {ours_w / bare[best_name]:.2f} x bare best; "
                  f"waiting for data {100 * wait_w:.1f} %")


if __name__ == "__main__":
    main()
