#!/usr/bin/env bash
# One GPU check for issue 18, within about 8 minutes on a GPU machine: the CUDA-marked tests, then
# benchmarks/bench_gpu.py at GPU sizes section by section (each under its own time limit, skipped when
# the budget is spent), and the k-runs section again under CUDA MPS when its daemon can start.
# The GPU machine has PyTorch and Lightning but no network: run benchmarks/gpu_wheels.sh here first and
# carry .whl (the device tool: carry=[".whl"]); mtl_music itself is imported from this checkout.
# Without CUDA it runs the same steps at CPU sizes (the cuda tests are skipped).
#   bash benchmarks/gpu_check.sh            # from the repository root; OUT=<folder> keeps the JSON figures
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
BUDGET=${BUDGET:-470}
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
stamp() { echo "== [$(elapsed) s] $*"; }
# Runs "$@" under a limit of $1 seconds if that much budget is left, else says what was skipped.
section() {
  local limit=$1; shift
  if (( $(elapsed) + limit > BUDGET )); then echo "SKIPPED (budget): $*"; return 0; fi
  timeout "$limit" "$@" || echo "FAILED OR TIMED OUT ($limit s): $*"
}

if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=$(command -v python3); fi
if [ -d .whl ] && ! "$PY" -c "import hydra, librosa, soundfile" 2>/dev/null; then
  stamp "installing the carried wheels (.whl) into /tmp/site"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$PY" -c "import torch, mtl_music; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" || exit 1
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))")
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
SIZE=$([ "$CUDA" = 1 ] && echo "" || echo "--quick")

stamp "pytest -m cuda"
section 180 env MTL_TEST_CUDA=1 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/training/test_cuda.py
stamp "bench_gpu.py (a)-(d): bare loop, our training, fold, compile"
section 150 "$PY" benchmarks/bench_gpu.py $SIZE --only train --json "$OUT/train.json"
stamp "bench_gpu.py (f): a paper-scale epoch"
section 100 "$PY" benchmarks/bench_gpu.py $SIZE --only paper --json "$OUT/paper.json"
stamp "bench_gpu.py (e): k runs per device as one joblib sweep"
section 120 "$PY" benchmarks/bench_gpu.py $SIZE --only concurrent --json "$OUT/concurrent.json"
stamp "bench_gpu.py (g): stacked runs"
section 40 "$PY" benchmarks/bench_gpu.py $SIZE --only stacked --json "$OUT/stacked.json"

if [ "$CUDA" = 1 ] && command -v nvidia-cuda-mps-control >/dev/null; then
  stamp "k runs under CUDA MPS"
  export CUDA_MPS_PIPE_DIRECTORY=$OUT/mps_pipe CUDA_MPS_LOG_DIRECTORY=$OUT/mps_log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d; then
    section 100 "$PY" benchmarks/bench_gpu.py --only concurrent --k 1,4,8 --json "$OUT/concurrent_mps.json"
    echo quit | nvidia-cuda-mps-control
  else
    echo "could not start the MPS control daemon (needs the right to run it on this GPU): MPS not measured"
  fi
fi
stamp "done; figures in $OUT"
