#!/usr/bin/env bash
# The GPU checks behind benchmarks/README.md, results/ and docs/teaching.md, in one run:
#   1. the loader benchmark, alone on the GPU;
#   2. the full experiment (python -m genaug experiment), and beside it notebooks 00-06 in full
#      mode (small models leave the GPU mostly idle, so the two share it; notebook times are
#      therefore upper bounds);
#   3. notebook 07 in full mode, which reads the experiment's results.
# Run from the repository root on a CUDA machine, with Fashion-MNIST's IDX files in
# $GENAUG_DATA/FashionMNIST/raw (or installed by Debian's dataset-fashion-mnist).
# Everything it reports lands in $OUT (default gpu-out/).
set -u
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 GENAUG_PROGRESS=0 GENAUG_DOWNLOAD=0 MPLBACKEND=Agg
export GENAUG_CACHE=${GENAUG_CACHE:-/tmp/genaug-cache}
budget=${BUDGET_S:-540}  # seconds this script may use in all
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version())"
  nproc; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

timeout 100 python3 -m genaug benchmark --steps 300 --repeats 3 --workers 4 2>&1 | tee "$out/benchmark.txt"

TIMEFORMAT="experiment wall time: %R s"
{ time timeout $(( $(left) - 70 )) python3 -m genaug experiment --out results/full-fashion_mnist
} > "$out/experiment.txt" 2>&1 &
experiment=$!
timeout $(( $(left) - 80 )) python3 scripts/nbtools.py execute --full \
    notebooks/0[0-6]_*.ipynb > "$out/notebooks.txt" 2>&1
wait $experiment
tail -n 40 "$out/experiment.txt"
timeout $(( $(left) - 10 )) python3 scripts/nbtools.py execute --full \
    notebooks/07_*.ipynb >> "$out/notebooks.txt" 2>&1
cat "$out/notebooks.txt"
tar czf "$out/outputs.tgz" results/full-fashion_mnist notebooks docs/notebook_times.json 2>/dev/null
echo "gpu_run took $(( $(date +%s) - start )) s"
