"""Training at GPU speed (issue 18): bare loop vs our Lightning training, data placement, compile,
k concurrent runs, and one paper-scale epoch — side by side in one run, on CUDA when present.

    .venv/bin/python benchmarks/bench_gpu.py --quick      # CPU, small sizes (< ~3 min)
    .venv/bin/python benchmarks/bench_gpu.py              # GPU sizes (benchmarks/gpu_check.sh)
    .venv/bin/python benchmarks/bench_gpu.py --only concurrent --k 1,2,4,8   # e.g. again under CUDA MPS

Prints, per section: (a) the bare PyTorch loop in each precision/layout (samples/s, TFLOP/s, share of
the device's peak); (b) our training with the loader path (DataLoader workers), (c) with
data.placement=device, (d) with trainer.compile — each as a ratio to the bare loop's best, with the
share of wall time spent between steps (batch fetch + loop overhead, an upper bound on the data
wait); (e) the aggregate samples/s of k runs sharing the device as separate processes; (f) one epoch
on a synthetic cache of 46,490 × 30 s made directly in device memory, extrapolated to a 200-epoch
m = 8 run, and the issue's targets with pass/fail. Batches come from synthetic caches (random dB
values): the speed of a step does not depend on the music.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mtl_music.paper import PAPER_SOURCES, SELF_SOURCE

#: Dense bf16/fp16 tensor-core peaks in TFLOP/s by device-name fragment (vendor data sheets, SXM parts).
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10": 125.0}
#: The paper's protocol (issue 18): clips, training clips, frames of a 30 s clip, batch, epochs, sources.
PAPER = dict(tracks=46_490, train=41_841, frames=2592, batch=128, epochs=200, m=8)
N_MELS, CROP = 128, 216


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_tflops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_TFLOPS.items() if k in name), None)


def synthetic_crops(*, n_tracks: int, frames: int, device: torch.device, seed: int = 0):
    """A :class:`DeviceCrops` over a random float16 cache made directly in ``device`` memory."""
    from mtl_music.training.device_data import DeviceCrops

    gen = torch.Generator(device=device).manual_seed(seed)
    data = torch.empty((n_tracks * frames, 2, N_MELS), dtype=torch.float16, device=device)
    for first in range(0, len(data), 1 << 20):  # chunks: randn of 61 GB at once needs a float32 temporary
        chunk = data[first:first + (1 << 20)]
        chunk.copy_(torch.randn(chunk.shape, generator=gen, device=device) * 20 - 40)
    return DeviceCrops(data=data, offsets=np.arange(n_tracks) * frames, n_frames=np.full(n_tracks, frames),
                       floors=np.full(n_tracks, -80.0, np.float32), mean=np.full(N_MELS, -40.0, np.float32),
                       std=np.full(N_MELS, 20.0, np.float32), crop_frames=CROP, device=device)


class MemmapCache:
    """The attributes of a :class:`~mtl_music.data.MelCache` that the crops read, over a random
    float16 memmap file (the loader path's DataLoader workers map it like a real cache)."""

    def __init__(self, folder: Path, *, n_tracks: int, frames: int) -> None:
        from types import SimpleNamespace

        path = folder / "mels.f16"
        data = np.memmap(path, dtype="<f2", mode="w+", shape=(n_tracks * frames, 2, N_MELS))
        rng = np.random.default_rng(0)
        for first in range(0, len(data), 1 << 18):
            data[first:first + (1 << 18)] = rng.normal(-40, 20, data[first:first + (1 << 18)].shape)
        data.flush()
        self._path, self._shape = path, data.shape
        self.offsets = np.arange(n_tracks, dtype=np.int64) * frames
        self.n_frames = np.full(n_tracks, frames, dtype=np.int64)
        self.floors = np.full(n_tracks, -80.0, np.float32)
        self.mean, self.std = np.full(N_MELS, -40.0, np.float32), np.full(N_MELS, 20.0, np.float32)
        self.settings = SimpleNamespace(n_mels=N_MELS)
        self.frame_bytes = 2 * N_MELS * 2

    @property
    def data(self) -> np.ndarray:
        return np.memmap(self._path, dtype="<f2", mode="r", shape=self._shape)


def synthetic_sources(names, n_train: int, k: int = 50):
    from mtl_music.training import SourceTracks

    rng = np.random.default_rng(0)
    train, valid = np.arange(n_train), np.zeros(0, np.int64)
    return {n: SourceTracks(n, 2, train, valid) if n == SELF_SOURCE else
            SourceTracks(n, k, train, valid, rng.dirichlet(np.ones(k), n_train).astype("f4"), np.zeros((0, k), "f4"))
            for n in names}


def build_module(arch: str, sources, *, channels_last: bool):
    from mtl_music.config import compose
    from mtl_music.training import MultiSourceModule

    cfg = compose("train", [f"arch={arch}"])
    return MultiSourceModule(arch=dict(cfg.arch), trunk=dict(cfg.trunk), sources={n: s.k for n, s in sources.items()},
                             frontend={"n_mels": N_MELS}, optim={"lr": 2.5e-4, "weight_decay": 1e-6},
                             channels_last=channels_last)


def flops_per_sample(arch: str, names) -> float:
    """Forward + backward FLOPs of one crop on a labelled source (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mtl_music.training.losses import kl_to_targets

    labelled = [n for n in names if n != SELF_SOURCE] or list(names)
    module = build_module(arch, synthetic_sources(names, 4), channels_last=False).train()
    x, z = torch.randn(2, 2, CROP, N_MELS), torch.softmax(torch.randn(2, 50), -1)
    with FlopCounterMode(display=False) as counter:
        kl_to_targets(module.network(x, source=labelled[0]), z).backward()
    return counter.get_total_flops() / 2


# --------------------------------------------------------------------------------------- (a) bare loop
PRECISIONS = {  # name -> (autocast dtype or None, TF32 allowed, Lightning precision for ours)
    "fp32": (None, False, "32-true"),
    "tf32": (None, True, "32-true"),
    "bf16": (torch.bfloat16, True, "bf16-mixed"),
    "fp16": (torch.float16, True, "16-mixed"),
}


def bare_loop(module, batches, *, device, precision: str, channels_last: bool, warmup: int) -> float:
    """samples/s of a plain PyTorch loop (zero_grad, autocast forward + loss, backward, Adam) on
    pre-built device batches; the losses are the module's own (one source per step)."""
    dtype, tf32, _ = PRECISIONS[precision]
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    module = module.to(device).train()
    module.channels_last = channels_last
    module.network.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    opt = torch.optim.Adam(module.parameters(), lr=2.5e-4, weight_decay=1e-6)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    t0 = None
    for i, batch in enumerate(batches):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = module._losses(batch)[batch["source"]]
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    _sync(device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    return batches[0]["x"].shape[0] * (len(batches) - warmup) / (time.perf_counter() - t0)


# ------------------------------------------------------------------------------ (b)-(d) our training
def ours(*, crops, sources, batch: int, steps: int, warmup: int, device, precision: str, arch: str,
         channels_last: bool, compile: bool = False, num_workers: int = 0, barrier: tuple | None = None,
         tf32: bool = False) -> dict:
    """Our Lightning training (MultiSourceDataModule + MultiSourceModule, Algorithm 1) for
    ``warmup + steps`` steps; samples/s over the timed steps and the share of wall time between steps."""
    import pytorch_lightning as pl

    from mtl_music.training import MultiSourceDataModule

    class Timer(pl.Callback):
        def __init__(self):
            self.starts, self.ends, self.t0 = [], [], None

        def on_train_batch_start(self, trainer, module, batch, i):
            if i == warmup:
                if barrier is not None:  # k concurrent runs: time the same window in every process
                    folder, k = barrier
                    Path(folder, f"{os.getpid()}.ready").touch()
                    while len(list(Path(folder).glob("*.ready"))) < k:
                        time.sleep(0.01)
                _sync(device)
                self.t0 = time.perf_counter()
                self.wall0 = time.time()
            self.starts.append(time.perf_counter())

        def on_train_batch_end(self, trainer, module, outputs, batch, i):
            self.ends.append(time.perf_counter())

    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    dm = MultiSourceDataModule(crops=crops, sources=sources, batch_size=batch, seed=0, num_workers=num_workers,
                               val_batches_per_source=0, limit_train_steps=warmup + steps,
                               placement="loader")  # resident DeviceCrops switch it to device
    module = build_module(arch, sources, channels_last=channels_last)
    if compile:
        module.compile_network()
    timer = Timer()
    trainer = pl.Trainer(max_epochs=1, accelerator=device.type if device.type == "cpu" else "gpu", devices=1,
                         precision=precision, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                         use_distributed_sampler=False, callbacks=[timer], benchmark=device.type == "cuda")
    trainer.fit(module, datamodule=dm)
    _sync(device)
    wall = time.perf_counter() - timer.t0
    starts, ends = np.array(timer.starts[warmup:]), np.array(timer.ends[warmup:])
    # Between steps: from one step's end to the next one's start (fetching the batch, Lightning's loop).
    between = float(np.sum(starts[1:] - ends[:-1])) + (starts[0] - timer.t0)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    return {"samples_per_s": batch * steps / wall, "between_share": between / wall, "wall": wall,
            "start": timer.wall0, "end": timer.wall0 + wall, "samples": batch * steps}


# ----------------------------------------------------------------------------------- (e) concurrency
def concurrent(k: int, args, device) -> float:
    """Aggregate samples/s of ``k`` separate training processes sharing the device (the way a
    joblib sweep with ``hydra.launcher.n_jobs=k`` on one GPU runs them), timed over a common window."""
    with tempfile.TemporaryDirectory() as folder:
        cmd = [sys.executable, __file__, "--worker", "--barrier", folder, "--k", str(k), *args.passthrough]
        env = dict(os.environ)
        if device.type == "cpu":  # k processes share the cores: k x all-core OpenMP pools would thrash
            env["OMP_NUM_THREADS"] = str(max(1, torch.get_num_threads() // k))
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(k)]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=600)
            if p.returncode != 0:
                raise RuntimeError(f"a concurrent run failed:\n{err[-2000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    window = max(r["end"] for r in results) - min(r["start"] for r in results)
    return sum(r["samples"] for r in results) / window


def worker(args, device, size) -> None:
    names = size["names"]
    sources = synthetic_sources(names, size["tracks"])
    crops = synthetic_crops(n_tracks=size["tracks"], frames=size["frames"], device=device)
    r = ours(crops=crops, sources=sources, batch=size["batch"], steps=size["k_steps"], warmup=size["warmup"],
             device=device, precision=size["precision"], arch=size["arch"], channels_last=True,
             barrier=(args.barrier, int(args.k)))
    print(json.dumps(r))


# ------------------------------------------------------------------------------------------- main
def sizes(quick: bool, device: torch.device) -> dict:
    if device.type == "cuda" and not quick:
        return dict(batch=PAPER["batch"], tracks=4096, frames=PAPER["frames"], steps=200, warmup=30, bare_steps=60,
                    k_steps=300, names=list(PAPER_SOURCES), arch="ms_cr@2", workers=8, paper=True)
    return dict(batch=8, tracks=64, frames=400, steps=4, warmup=2, bare_steps=4, k_steps=4,
                names=["tag", "bpm"], arch="ms_cr@2", workers=1, paper=False)


def _quiet() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main() -> None:
    _quiet()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (the CPU run of make bench)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    parser.add_argument("--only", default="all", choices=["all", "bare", "train", "concurrent", "paper"])
    parser.add_argument("--k", default=None, help="concurrent runs, e.g. 1,2,4,8 (quick: 1,2)")
    parser.add_argument("--compile", choices=["auto", "yes", "no"], default="auto",
                        help="(d) and the paper epoch with trainer.compile; auto: on CUDA only (inductor's CPU "
                             "compile of the vgg trunk takes ~100 s)")
    parser.add_argument("--json", default=None, help="also write every figure to this JSON file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--barrier", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    size = sizes(args.quick, device)
    cpu_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    default_precision = "bf16" if device.type == "cuda" or cpu_bf16 else "fp32"
    size["precision"] = PRECISIONS[default_precision][2]
    args.passthrough = [*(["--quick"] if args.quick else []), "--device", device.type]
    if args.worker:
        worker(args, device, size)
        return
    torch.manual_seed(0)
    figures: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                     "sizes": {k: v for k, v in size.items()}}
    peak = peak_tflops(device)
    names, batch = size["names"], size["batch"]
    flops = flops_per_sample(size["arch"], names)
    figures["flops_per_sample"] = flops
    print(f"device {figures['device']}, peak bf16 {f'{peak:.0f} TFLOP/s' if peak else 'n/a'}; {size['arch']}, "
          f"{len(names)} sources, batch {batch}; {flops / 1e6:.0f} MFLOP forward+backward per crop")

    def tflops(rate: float) -> str:
        achieved = rate * flops / 1e12
        return f"{achieved:7.2f} TFLOP/s" + (f" ({100 * achieved / peak:4.1f} % of peak)" if peak else " (peak n/a)")

    sources = synthetic_sources(names, size["tracks"])
    crops = synthetic_crops(n_tracks=size["tracks"], frames=size["frames"], device=device)
    best_name, best = None, 0.0
    if args.only in ("all", "bare", "train"):
        from mtl_music.training.device_data import DeviceBatches

        steps = DeviceBatches(crops=crops, sources=list(sources.values()), batch_size=batch, seed=0)
        batches = [steps[g] for g in range(size["warmup"] + size["bare_steps"])]  # pre-built: no data wait
        variants = (["fp32", "tf32", "bf16", "fp16"] if device.type == "cuda" else
                    ["fp32", *(["bf16"] if cpu_bf16 else [])])
        print("\n(a) bare PyTorch loop (pre-built device batches)")
        figures["bare"] = {}
        for precision in variants:
            for layout in ("NCHW", "channels_last") if device.type == "cuda" or precision == "fp32" else ("channels_last",):
                module = build_module(size["arch"], sources, channels_last=False)
                rate = bare_loop(module, batches, device=device, precision=precision,
                                 channels_last=layout == "channels_last", warmup=size["warmup"])
                name = f"{precision} {layout}"
                figures["bare"][name] = rate
                print(f"  {name:<20} {rate:9.1f} samples/s  {tflops(rate)}")
                if rate > best:
                    best_name, best = name, rate
        print(f"  best: {best_name}")
        figures["bare_best"] = {"name": best_name, "samples_per_s": best}
    best_precision = (best_name or f"{default_precision} channels_last").split()[0]
    lightning_precision = PRECISIONS[best_precision][2]
    tf32 = PRECISIONS[best_precision][1] and device.type == "cuda"
    common = dict(sources=sources, batch=batch, steps=size["steps"], warmup=size["warmup"], device=device,
                  precision=lightning_precision, arch=size["arch"], channels_last=True, tf32=tf32)
    use_compile = args.compile == "yes" or (args.compile == "auto" and device.type == "cuda")
    if args.only in ("all", "train"):
        print(f"\nour Lightning training ({lightning_precision}, channels_last), ratio to the bare loop's best")
        figures["ours"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            memmap = MemmapCache(Path(tmp), n_tracks=size["tracks"], frames=size["frames"])
            from mtl_music.data import RandomCrops

            runs = {"(b) loader path": dict(crops=RandomCrops(memmap, crop_frames=CROP), num_workers=size["workers"]),
                    "(c) placement=device": dict(crops=crops)}
            if use_compile:
                runs["(d) device + compile"] = dict(crops=crops, compile=True)
            for name, kw in runs.items():
                r = ours(**common, **kw)
                figures["ours"][name] = r
                ratio = f"{r['samples_per_s'] / best:5.2f} x bare best" if best else "bare not run"
                print(f"  {name:<22} {r['samples_per_s']:9.1f} samples/s = {ratio}; between steps "
                      f"{100 * r['between_share']:5.1f} % of wall time  {tflops(r['samples_per_s'])}")
            if not use_compile:
                print("  (d) device + compile   not measured here (--compile yes; inductor's CPU compile takes ~100 s)")
    if args.only in ("all", "concurrent"):
        ks = [int(k) for k in (args.k or ("1,2,4,8" if device.type == "cuda" and not args.quick else "1,2")).split(",")]
        mps = "on" if os.environ.get("CUDA_MPS_PIPE_DIRECTORY") or _mps_running() else "off"
        print(f"\n(e) k runs sharing the device as separate processes (placement=device; CUDA MPS {mps})")
        rates = {}
        for k in ks:
            rates[k] = concurrent(k, args, device)
            print(f"  k={k}: {rates[k]:9.1f} samples/s aggregate = {rates[k] / rates[ks[0]]:4.2f} x k={ks[0]}")
        figures["concurrent"] = {"mps": mps, "samples_per_s": rates}
    if args.only in ("all", "paper"):
        figures["paper"] = paper_epoch(args, device, size, common, use_compile, crops)
    if args.only == "all" and best:
        targets(figures, best, device)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=float))


def _mps_running() -> bool:
    try:
        return subprocess.run(["pgrep", "-x", "nvidia-cuda-mps"], capture_output=True).returncode == 0
    except OSError:
        return False


def paper_epoch(args, device, size, common, use_compile, small_crops) -> dict:
    """(f) One epoch of l·m steps on a synthetic paper-size cache in device memory, extrapolated."""
    steps_per_epoch = -(-PAPER["train"] // PAPER["batch"]) * PAPER["m"]
    run_steps = steps_per_epoch * PAPER["epochs"]
    if size["paper"]:
        print(f"\n(f) one paper-scale epoch: {PAPER['tracks']} x 30 s synthetic cache in device memory "
              f"({PAPER['tracks'] * PAPER['frames'] * 2 * N_MELS * 2 / 1e9:.1f} GB), {steps_per_epoch} steps of "
              f"{PAPER['batch']}, m = {PAPER['m']}")
        del small_crops
        torch.cuda.empty_cache()
        crops = synthetic_crops(n_tracks=PAPER["tracks"], frames=PAPER["frames"], device=device)
        sources = synthetic_sources(list(PAPER_SOURCES), PAPER["train"])
        r = ours(**{**common, "sources": sources, "batch": PAPER["batch"], "steps": steps_per_epoch - 20,
                    "warmup": 20}, crops=crops, compile=use_compile)
        epoch_s = r["wall"] * steps_per_epoch / (steps_per_epoch - 20)
        note = "measured at paper scale"
    else:
        r = ours(**common, crops=small_crops)
        epoch_s = r["wall"] / size["steps"] * steps_per_epoch * (PAPER["batch"] / size["batch"])
        print("\n(f) paper-scale epoch: not measured at paper scale (no GPU); per-step time of the small run scaled "
              f"by batch {PAPER['batch']}/{size['batch']}")
        note = "not measured at paper scale"
    run_min = epoch_s * PAPER["epochs"] / 60
    print(f"  one epoch {epoch_s:8.1f} s -> a 200-epoch m = 8 run ({run_steps:,} steps) ≈ {run_min:8.1f} min "
          f"(target ≤ 20 min on one H100/H200) [{note}]")
    return {"epoch_s": epoch_s, "run_min": run_min, "note": note, "between_share": r["between_share"]}


def targets(figures: dict, best: float, device) -> None:
    print("\ntargets (issue 18)" + ("" if device.type == "cuda" else " — CPU figures, the targets are for a GPU"))
    ours_runs = figures.get("ours", {})
    if ours_runs:
        top = max(ours_runs, key=lambda n: ours_runs[n]["samples_per_s"])
        ratio = ours_runs[top]["samples_per_s"] / best
        wait = ours_runs[top]["between_share"]
        print(f"  Lightning ≥ 90 % of the bare best: {100 * ratio:5.1f} % ({top}) {'PASS' if ratio >= 0.9 else 'FAIL'}")
        print(f"  data wait < 2 % of step time:      {100 * wait:5.1f} % between steps ({top}) "
              f"{'PASS' if wait < 0.02 else 'FAIL'}")
    if "paper" in figures:
        p = figures["paper"]
        print(f"  paper-scale m = 8 run ≤ 20 min:    {p['run_min']:7.1f} min {'PASS' if p['run_min'] <= 20 else 'FAIL'}"
              f" [{p['note']}]")
    if "concurrent" in figures:
        rates = figures["concurrent"]["samples_per_s"]
        k = max(rates, key=rates.get)
        gain = rates[k] / rates[min(rates)]
        print(f"  best k concurrent ≥ 2x one run:    k={k}: {gain:4.2f} x {'PASS' if gain >= 2 else 'FAIL'} "
              f"(MPS {figures['concurrent']['mps']})")


if __name__ == "__main__":
    main()
