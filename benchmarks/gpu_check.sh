#!/usr/bin/env bash
# One GPU check for issue 18, in under 8 minutes on a GPU machine: installs what is missing, runs the
# CUDA-marked tests, then benchmarks/bench_gpu.py at GPU sizes (every figure of the issue's targets),
# and the concurrent runs again under CUDA MPS when nvidia-cuda-mps-control is there.
# On a machine without CUDA it runs fast: the cuda tests are skipped and the benchmark uses CPU sizes.
#   bash benchmarks/gpu_check.sh            # from the repository root; OUT=<folder> keeps the JSON figures
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3 )}
OUT=${OUT:-$(mktemp -d)}
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start )) s] $*"; }

# Install: keep a CUDA torch that is already there (the Makefile's pin is the CPU wheel for CI).
if ! "$PY" -c "import mtl_music, pytorch_lightning, hydra, pytest" 2>/dev/null; then
  stamp "installing mtl_music[dev]"
  "$PY" -c "import torch" 2>/dev/null || "$PY" -m pip install -q "$(sed -n 's/^TORCH_PIN ?= //p' Makefile)"
  "$PY" -m pip install -q -e ".[dev]"
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))")
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv || true

stamp "pytest -m cuda"
MTL_TEST_CUDA=1 timeout 150 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/training/test_cuda.py || echo "CUDA TESTS FAILED"

stamp "bench_gpu.py (all sections)"
if [ "$CUDA" = 1 ]; then
  timeout 330 "$PY" benchmarks/bench_gpu.py --json "$OUT/bench_gpu.json" || echo "BENCHMARK FAILED OR TIMED OUT"
else
  timeout 200 "$PY" benchmarks/bench_gpu.py --quick --json "$OUT/bench_gpu.json" || echo "BENCHMARK FAILED"
fi

if [ "$CUDA" = 1 ] && command -v nvidia-cuda-mps-control >/dev/null; then
  stamp "concurrent runs under CUDA MPS"
  export CUDA_MPS_PIPE_DIRECTORY=$OUT/mps_pipe CUDA_MPS_LOG_DIRECTORY=$OUT/mps_log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d; then
    timeout 100 "$PY" benchmarks/bench_gpu.py --only concurrent --k 1,4,8 --json "$OUT/bench_gpu_mps.json" \
      || echo "MPS BENCHMARK FAILED OR TIMED OUT"
    echo quit | nvidia-cuda-mps-control
  else
    echo "could not start the MPS control daemon (needs the right to run it on this GPU): MPS not measured"
  fi
fi
stamp "done; figures in $OUT"
