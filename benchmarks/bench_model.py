"""Forward + backward throughput of the network (ms_cr@4, vgg trunk, one source per step as
in Algorithm 1), side by side in one run: default (NCHW) layout vs channels_last vs
channels_last + bf16 autocast. Prints samples/s and the ratio to the default layout.

    .venv/bin/python benchmarks/bench_model.py            # batch 128 (the paper's b)
    MTL_BENCH_QUICK=1 .venv/bin/python benchmarks/bench_model.py

Runs on CUDA when available (MTL_BENCH_DEVICE=cpu forces the CPU).
"""

from __future__ import annotations

import os
import time

import torch

from mtl_music.models import build_network
from mtl_music.config import load_option as load_config

QUICK = os.environ.get("MTL_BENCH_QUICK") == "1"
BATCH = 32 if QUICK else 128
STEPS = 2 if QUICK else 4
DEVICE = os.environ.get("MTL_BENCH_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def samples_per_second(*, channels_last: bool, bf16: bool) -> float:
    torch.manual_seed(0)
    net = build_network(
        arch=load_config("arch", "ms_cr@4"), trunk=load_config("trunk", "vgg"), sources={"tag": 50, "bpm": 50}
    ).to(DEVICE)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    x = torch.randn(BATCH, 2, 216, 128, device=DEVICE).contiguous(memory_format=fmt)
    z = torch.softmax(torch.randn(BATCH, 50, device=DEVICE), dim=1)
    optimizer = torch.optim.Adam(net.parameters(), lr=2.5e-4, weight_decay=1e-6)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(DEVICE, dtype=torch.bfloat16, enabled=bf16):
            logits = net(x, source="tag")
        loss = torch.nn.functional.kl_div(torch.log_softmax(logits.float(), dim=1), z, reduction="batchmean")
        loss.backward()
        optimizer.step()

    step()  # warm-up: allocator, kernel selection
    _sync()
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    _sync()
    return BATCH * STEPS / (time.perf_counter() - start)


def main() -> None:
    torch.backends.cudnn.benchmark = True
    print(f"device={DEVICE} threads={torch.get_num_threads()} batch={BATCH} steps={STEPS} (ms_cr@4, vgg, 2 sources)")
    variants = {
        "default (NCHW, fp32)": dict(channels_last=False, bf16=False),
        "channels_last, fp32": dict(channels_last=True, bf16=False),
        "channels_last + bf16 autocast": dict(channels_last=True, bf16=True),
    }
    results = {name: samples_per_second(**kw) for name, kw in variants.items()}
    reference = results["default (NCHW, fp32)"]
    for name, rate in results.items():
        print(f"{name:<32} {rate:10.1f} samples/s   × {rate / reference:5.2f} vs default")


if __name__ == "__main__":
    main()
