#!/usr/bin/env bash
# peft-ts's native GEMM against numpy/OpenBLAS on the same products, side by side: the two programs
# alternate ROUNDS times (these machines are shared and noisy), then a markdown table of the medians.
#
#   bench/gemm-vs-numpy.sh                      # ROUNDS=3 THREADS=2
#   ROUNDS=5 THREADS=1 CLOCK=cpu bench/gemm-vs-numpy.sh
#
# CLOCK=cpu times both by their process's CPU time: on a machine others are loading, wall-clock medians
# mostly measure the load (and OpenMP's barriers suffer from it more than our pool), while CPU time still
# compares the kernels. It is meaningful with THREADS=1 only (idle threads spin).
#
# Needs Debian's numpy and OpenBLAS: apt-get install -y python3-numpy libopenblas0-openmp.
# numpy runs twice per round: with the OpenBLAS kernels it detects, and, on CPUs with AVX512-BF16, with
# OPENBLAS_CORETYPE=${CORETYPE:-Cooperlake} (OpenBLAS 0.3.21 does not recognise recent Xeons and falls
# back to SSE3 kernels; the forced core is the real ceiling).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
CLOCK=${CLOCK:-wall}
CORETYPE=${CORETYPE:-Cooperlake}
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cpu=()
[ "$CLOCK" = cpu ] && cpu=(--cpu-time)

for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS: peft-ts" >&2
  node bin/peft-ts.js bench gemm-shapes --threads "$THREADS" "${cpu[@]}" --json >"$out/ours.$round"
  if grep -q avx512_bf16 /proc/cpuinfo; then
    echo "round $round/$ROUNDS: numpy, OPENBLAS_CORETYPE=$CORETYPE" >&2
    OPENBLAS_CORETYPE=$CORETYPE /usr/bin/python3 bench/numpy_gemm.py --threads "$THREADS" "${cpu[@]}" >"$out/forced.$round"
  fi
  echo "round $round/$ROUNDS: numpy" >&2
  /usr/bin/python3 bench/numpy_gemm.py --threads "$THREADS" "${cpu[@]}" >"$out/numpy.$round"
done

/usr/bin/python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]

def medians(prefix):
    runs, engine = {}, ""
    for path in sorted(glob.glob(f"{out}/{prefix}.*")):
        for line in open(path):
            r = json.loads(line)
            runs.setdefault(r["name"], []).append(r["gflops"])
            engine = r.get("engine", engine)
    return {k: statistics.median(v) for k, v in runs.items()}, engine

ours, _ = medians("ours")
numpy, numpy_engine = medians("numpy")
forced, forced_engine = medians("forced")
shapes = [json.loads(l) for l in open(sorted(glob.glob(f"{out}/ours.*"))[0])]
head = ["product", "layout", "M", "N", "K", "peft-ts", numpy_engine or "numpy"]
if forced:
    head.append(forced_engine)
head.append("peft-ts / best numpy")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for s in shapes:
    name = s["name"]
    row = [name, s["layout"], str(s["m"]), str(s["n"]), str(s["k"]), f"{ours[name]:.1f}"]
    ref = [d[name] for d in (numpy, forced) if name in d]
    row.append(f"{numpy[name]:.1f}" if name in numpy else "")
    if forced:
        row.append(f"{forced[name]:.1f}" if name in forced else "")
    row.append(f"{ours[name] / max(ref):.2f}" if ref else "")
    print("| " + " | ".join(row) + " |")
PY
