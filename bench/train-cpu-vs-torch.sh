#!/usr/bin/env bash
# Training cost per step in CPU seconds at one thread, peft-ts `bench train` against the PyTorch peer
# (bench/torch_lora_bench.py, same shapes): for a shared machine, where wall-clock runs are not comparable
# (the peer's OpenMP threads collapse when another job holds a core). Each figure is the CPU time of a
# 12-step run minus that of a 2-step run (start-up and warm-up cancel), divided by 10; runs alternate
# ours, peer, ours, peer, ... and the summary prints medians and the ratio peer/ours (> 1: peft-ts is faster).
#
#   bench/train-cpu-vs-torch.sh                                  # RUNS=2, COMPUTE=float32
#   COMPUTE=bfloat16 CONFIGS="tiny::lora" RUNS=3 bench/train-cpu-vs-torch.sh
#
# Set-up for the peer: as bench/train-vs-torch.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-2}
COMPUTE=${COMPUTE:-float32}
PY=${PYTHON:-/usr/bin/python3}
BLAS=${BLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
CONFIGS=${CONFIGS:-"tiny::lora tiny::full smollm2-135m:8:lora smollm2-135m:8:full"}
CORETYPE=${CORETYPE-Cooperlake}
grep -q avx512_bf16 /proc/cpuinfo || CORETYPE=""
peer_dtype=()
[ "$COMPUTE" = bfloat16 ] && peer_dtype=(--bf16-autocast)

# CPU seconds (user + system) of the command's children.
cpu_of() {
  "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime)' "$@"
}

per_step() {  # who preset layers method
  local who=$1 preset=$2 layers=$3 method=$4 lf=() t=()
  [ -n "$layers" ] && lf=(--layers "$layers")
  for steps in 2 12; do
    if [ "$who" = ours ]; then
      t+=("$(cpu_of node bin/peft-ts.js bench train --preset "$preset" "${lf[@]}" --method "$method" --steps "$steps" --warmup 2 \
        --threads 1 --compute-dtype "$COMPUTE" --json)")
    else
      t+=("$(LD_LIBRARY_PATH="$BLAS" OPENBLAS_CORETYPE="$CORETYPE" OMP_NUM_THREADS=1 cpu_of "$PY" bench/torch_lora_bench.py \
        --preset "$preset" "${lf[@]}" --mode "$method" --threads 1 -B 4 -T 256 --steps "$steps" --warmup 2 "${peer_dtype[@]}")")
    fi
  done
  "$PY" -c "print(f'{(${t[1]} - ${t[0]}) / 10:.4f}')"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), node $(node --version), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "B=4 T=256 threads=1 runs=$RUNS compute=$COMPUTE peer OPENBLAS_CORETYPE=${CORETYPE:-(detected)}; CPU s per step"
for cfg in $CONFIGS; do
  IFS=: read -r preset layers method <<<"$cfg"
  ours=() peer=()
  for i in $(seq "$RUNS"); do
    ours+=("$(per_step ours "$preset" "$layers" "$method")")
    peer+=("$(per_step torch "$preset" "$layers" "$method")")
  done
  "$PY" -c 'import statistics, sys
cfg, n = sys.argv[1], int(sys.argv[2]); xs = list(map(float, sys.argv[3:]))
o, p = statistics.median(xs[:n]), statistics.median(xs[n:])
print(f"{cfg:24} ours {o:.3f} s ({xs[:n]})  torch {p:.3f} s ({xs[n:]})  ratio {p / o:.2f}x")' "$cfg" "$RUNS" "${ours[@]}" "${peer[@]}"
done
