#!/usr/bin/env bash
# Fills .whl/ (git-ignored) with the wheels that the GPU machine's image lacks, for benchmarks/gpu_check.sh:
# that machine has PyTorch, Lightning, numpy, scipy, numba, joblib and pytest, and no network. Run it here
# (PyPI reachable), then carry .whl to the GPU machine. Python 3.12 x86_64 wheels; pure-Python packages
# published only as sources (antlr4 4.9.3, which omegaconf 2.3 pins) are built into wheels here.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .whl && mkdir -p .whl
PLATFORMS=(--python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
           --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
# Compiled: the mel front end's resampler and audio I/O (soundfile bundles libsndfile).
python3 -m pip download -q --no-deps --only-binary=:all: "${PLATFORMS[@]}" -d .whl soxr soundfile cffi
# Pure Python: configs and launchers, librosa (the mel filter bank) and what they import.
python3 -m pip wheel -q --no-deps -w .whl "hydra-core>=1.3,<1.4" "omegaconf>=2.3,<2.4" antlr4-python3-runtime==4.9.3 \
  hydra-joblib-launcher librosa audioread pooch decorator platformdirs pycparser
du -sh .whl && ls .whl
