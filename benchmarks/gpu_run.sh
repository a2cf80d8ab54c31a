#!/usr/bin/env bash
# The GPU checks behind benchmarks/README.md, results/ and docs/, in one prepared run.
#
#   bash benchmarks/gpu_run.sh [--dry-run] [--part all|experiment|notebooks]
#
# Steps, in order: (0) install carried wheels (.whl/) and data (.data/fashion-mnist/) if present;
# (1) describe the machine; (2) the loader benchmark, alone on the device; (3) the full
# experiment grid into results/fashion_mnist-full/; (4) every notebook and solution in full mode
# (notebook 07 last, as it reads the grid). Everything it reports lands in $OUT (default
# gpu-out/): machine.txt, benchmark.txt, experiment.txt, notebooks.txt and outputs.tgz (the
# executed notebooks, the results folder and docs/notebook_times.json) to unpack over a checkout.
#
# --dry-run runs the same steps at a tiny scale in quick mode on any machine (a CPU included), into
# a scratch copy of the notebooks, so that GPU minutes are never spent on a typo.
set -u
dry=0 part=all
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --part) part=$2; shift ;;
    *) echo "usage: bash benchmarks/gpu_run.sh [--dry-run] [--part all|experiment|notebooks]" >&2
       exit 2 ;;
  esac
  shift
done
case "$part" in all|experiment|notebooks) ;; *) echo "--part: all, experiment or notebooks" >&2
  exit 2 ;; esac
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 GENAUG_PROGRESS=0 GENAUG_DOWNLOAD=0 MPLBACKEND=Agg
export GENAUG_CACHE=${GENAUG_CACHE:-/tmp/genaug-cache}
budget=${BUDGET_S:-540}  # seconds this script may use in all
start=$(date +%s)
left() { echo $(( budget - ($(date +%s) - start) )); }

# (0) what the GPU machine lacks travels with the tree (see benchmarks/README.md)
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
fi
if [ -d .data/fashion-mnist ]; then
  mkdir -p /tmp/genaug-data/FashionMNIST/raw && cp .data/fashion-mnist/*.gz \
      /tmp/genaug-data/FashionMNIST/raw/ && export GENAUG_DATA=/tmp/genaug-data
fi

# (1) the machine
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    || echo "no NVIDIA GPU"
  python3 -c "import torch, platform; print('torch', torch.__version__, 'python', platform.python_version())"
  echo "cores: $(nproc)"; date -u; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

if [ $dry = 1 ]; then
  bench=(--steps 3 --repeats 1 --workers 0)
  grid=(--quick --seeds 1 --budgets 5 --methods none cvae cgan --no-imbalance
        --set classifier_steps=3 --set generator_steps=2 --set n_synthetic=20)
  mode=(--times "$out/times.json") results=$out/dry-results
  books=$out/dry-notebooks
  rm -rf "$books" && mkdir -p "$books" && cp -r notebooks solutions "$books"/
else
  bench=(--steps 300 --repeats 3 --workers 4)
  grid=() mode=(--full) results=results/fashion_mnist-full books=.
fi

# (2) the loader benchmark, alone on the device; (3) the grid
if [ "$part" != notebooks ]; then
  timeout 100 python3 -m genaug benchmark "${bench[@]}" 2>&1 | tee "$out/benchmark.txt"
  TIMEFORMAT="experiment wall time: %R s"
  { time timeout $(( $(left) - 20 )) python3 -m genaug experiment "${grid[@]}" --out "$results"
  } > "$out/experiment.txt" 2>&1
  tail -n 40 "$out/experiment.txt"
fi

# (4) every notebook and solution, notebook 07 last (it reads the grid)
if [ "$part" != experiment ]; then
  first=$(ls "$books"/notebooks/0[0-6]_*.ipynb "$books"/notebooks/0[89]_*.ipynb \
          "$books"/solutions/*.ipynb 2>/dev/null)
  [ $dry = 1 ] && first=$(ls "$books"/notebooks/00_*.ipynb)  # one notebook proves the path
  # shellcheck disable=SC2086
  timeout $(( $(left) - 10 )) python3 scripts/nbtools.py execute "${mode[@]}" $first \
      > "$out/notebooks.txt" 2>&1
  [ $dry = 1 ] || timeout $(( $(left) - 5 )) python3 scripts/nbtools.py execute "${mode[@]}" \
      notebooks/07_*.ipynb >> "$out/notebooks.txt" 2>&1
  cat "$out/notebooks.txt"
fi
tar czf "$out/outputs.tgz" "$results" "$books/notebooks" "$books/solutions" \
    docs/notebook_times.json 2>/dev/null
echo "gpu_run took $(( $(date +%s) - start )) s ($([ $dry = 1 ] && echo dry run || echo full))"
