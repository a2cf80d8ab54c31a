#!/usr/bin/env bash
# The GPU checks behind benchmarks/README.md, results/ and docs/, in one prepared run.
#
#   bash benchmarks/gpu_run.sh [--dry-run] [--part all|benchmark|experiment|notebooks]
#
# Steps, in order: (0) install carried wheels (.whl/) and data (.data/fashion-mnist/) if present;
# (1) describe the machine; (2) the loader benchmark, alone on the device; (3) the full
# experiment grid into results/fashion_mnist-full/, its per-job lines logged, the GPU's
# utilisation sampled every 2 s beside it; (4) every notebook and solution in full mode, one
# process each, timed one by one (notebook 07 last, as it reads the grid). Everything lands in
# $OUT (default gpu-out/), six files at most: machine.txt, benchmark.txt, experiment.txt (the
# grid's lines, wall time and utilisation summary), gpu-utilisation.txt (one "percent, MiB"
# sample every 2 s), notebooks.txt (one line per notebook: seconds, FAILED or TIMED OUT) and
# outputs.tgz (the results folder without generator checkpoints, the executed notebooks and
# docs/notebook_times.json) to unpack over a checkout.
#
# Every command runs under `timeout -k 10` and never past the run's budget (BUDGET_S, default
# 540 s); GRID_S caps the grid (default: what is left) and NB_S each notebook (default 240 s).
# --dry-run runs the same steps at a tiny scale in quick mode on any machine (a CPU included):
# the grid with one seed and a few steps, two notebooks, all in a scratch copy ($OUT/dry/), so
# that GPU minutes are never spent on a typo.
set -u -o pipefail
dry=0 part=all
usage="usage: bash benchmarks/gpu_run.sh [--dry-run] [--part all|benchmark|experiment|notebooks]"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --part) part=${2:-}; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
case "$part" in all|benchmark|experiment|notebooks) ;; *) echo "$usage" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
mkdir -p "${OUT:-gpu-out}" && out=$(cd "${OUT:-gpu-out}" && pwd)
export PYTHONUNBUFFERED=1 GENAUG_PROGRESS=0 GENAUG_DOWNLOAD=0 MPLBACKEND=Agg
export GENAUG_CACHE=${GENAUG_CACHE:-/tmp/genaug-cache}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}  # this tree's genaug, in notebook kernels too
budget=${BUDGET_S:-540}  # seconds this script may use in all
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }
# limited SECONDS CMD...: CMD under timeout -k 10 for SECONDS, less if the budget ends sooner;
# skipped (status 99) when under 10 s of the budget would be left for it
limited() {
  local limit=$(( $(left) - 15 ))
  if [ "$limit" -lt 10 ]; then shift; echo "SKIPPED (the run's budget is spent): $*"; return 99; fi
  [ "$1" -lt "$limit" ] && limit=$1
  shift
  timeout -k 10 "$limit" "$@"
}
step() { [ "$part" = all ] || [ "$part" = "$1" ]; }

# (0) what the GPU machine lacks travels with the tree (see benchmarks/README.md)
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PYTHONPATH
fi
if [ -d .data/fashion-mnist ]; then
  mkdir -p /tmp/genaug-data/FashionMNIST/raw && cp .data/fashion-mnist/*.gz \
      /tmp/genaug-data/FashionMNIST/raw/ && export GENAUG_DATA=/tmp/genaug-data
fi

# (1) the machine
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    || echo "no NVIDIA GPU"
  python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version())"
  echo "cores: $(getconf _NPROCESSORS_ONLN)"; date -u; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

if [ $dry = 1 ]; then
  scratch=$out/dry
  bench=(--steps 3 --repeats 1 --workers 0)
  grid=(--quick --seeds 1 --budgets 5 --methods none cvae cgan cdiff --no-imbalance --workers 1
        --set classifier_steps=3 --set generator_steps=2 --set n_synthetic=20)
  mode=(--times "$scratch/times.json") results=$scratch/results books=$scratch
  rm -rf "$scratch" && mkdir -p "$scratch" && cp -r notebooks solutions "$scratch"/
  books_in_order="$scratch/notebooks/00_setup_and_tour.ipynb
                  $scratch/solutions/01_on_device_augmentation.ipynb"  # two prove the loop
  packed=("$scratch")
else
  bench=(--steps 300 --repeats 3 --workers 4)
  export GENAUG_QUICK=0  # the grid and the benchmark in full mode, whatever the caller set
  grid=() mode=(--full) results=results/fashion_mnist-full books=.
  books_in_order=$(ls notebooks/*.ipynb solutions/*.ipynb | grep -v '^notebooks/07_'
                   ls notebooks/07_*.ipynb)  # 07 last: it reads the grid
  packed=("$results" notebooks solutions docs/notebook_times.json)
fi

# (2) the loader benchmark, alone on the device
if step benchmark; then
  limited 120 python3 -m genaug benchmark "${bench[@]}" 2>&1 | tee "$out/benchmark.txt"
  echo "benchmark rc $?" | tee -a "$out/benchmark.txt"
fi

# (3) the grid, its per-job lines logged and the GPU's utilisation sampled every 2 s beside it
utilisation_summary() {
  awk -F', *' '$1 ~ /^[0-9]+$/ { n++; sum += $1; if ($1 > top) top = $1 }
    END { if (n) printf "GPU utilisation during the grid: mean %.0f%%, max %d%%, %d samples " \
                        "every 2 s\n", sum / n, top, n
          else print "GPU utilisation during the grid: not sampled (no nvidia-smi)" }' "$1"
}
if step experiment; then
  sampler=""
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -l 2 \
        > "$out/gpu-utilisation.txt" 2>&1 &
    sampler=$!
  else
    echo "no nvidia-smi: utilisation not sampled" > "$out/gpu-utilisation.txt"
  fi
  grid_start=$(date +%s)
  limited "${GRID_S:-$(left)}" python3 -m genaug experiment "${grid[@]}" --out "$results" 2>&1 \
      | tee "$out/experiment.txt"
  rc=$?
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  { echo "experiment rc $rc, wall time $(( $(date +%s) - grid_start )) s"
    utilisation_summary "$out/gpu-utilisation.txt"; } | tee -a "$out/experiment.txt"
fi

# (4) every notebook and solution, one process each, so each has its own time and limit
if step notebooks; then
  : > "$out/notebooks.txt"
  for book in $books_in_order; do
    limited "${NB_S:-240}" python3 scripts/nbtools.py execute "${mode[@]}" "$book" \
        >> "$out/notebooks.txt" 2>&1
    rc=$?
    case $rc in
      0|1|99) ;;  # nbtools printed the time or FAILED with the error; or SKIPPED
      124|137) echo "TIMED OUT ${book#"$books"/} (limit ${NB_S:-240} s or the run's budget)" \
                   >> "$out/notebooks.txt" ;;
      *) echo "ERROR ${book#"$books"/}: nbtools exited $rc" >> "$out/notebooks.txt" ;;
    esac
  done
  echo "notebooks: $(grep -c ' mode, ' "$out/notebooks.txt") ran, $(grep -c '^FAILED' \
      "$out/notebooks.txt") failed, $(grep -c '^TIMED OUT' "$out/notebooks.txt") timed out" \
      >> "$out/notebooks.txt"
  grep -E ' mode, |^FAILED|^TIMED OUT|^ERROR|^SKIPPED|^notebooks: ' "$out/notebooks.txt"
fi
tar czf "$out/outputs.tgz" --exclude='*/generators' "${packed[@]}" 2>/dev/null
[ $dry = 1 ] && rm -rf "$scratch"
echo "gpu_run took $(( $(date +%s) - start )) s ($([ $dry = 1 ] && echo dry run || echo full))"
