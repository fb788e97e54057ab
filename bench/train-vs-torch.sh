#!/usr/bin/env bash
# peft-ts `bench train` side by side with the PyTorch CPU peer (bench/torch_lora_bench.py, same shapes:
# Llama-style decoder, batch B x T, AdamW, LoRA r=16 alpha=32 on the seven projections).
# Runs alternate (ours, peer, ours, peer, ...) so drift on a shared machine hits both; prints per-run
# figures and then, per configuration, median tokens/s of each, the ratio ours/peer, the same over the
# "clean" pairs (the peer saw < 5% foreign CPU: another job on the machine hurts its OpenMP threads far
# more than ours), and peak RSS.
#
#   bench/train-vs-torch.sh                      # tiny lora/full, smollm2-135m --layers 8 lora/full
#   RUNS=5 CONFIGS="tiny::lora" bench/train-vs-torch.sh
#   COMPUTE=bfloat16 bench/train-vs-torch.sh     # ours --compute-dtype bfloat16 vs the peer's --bf16-autocast
#
# Set-up for the peer (Debian): apt-get install -y python3-torch python3-numpy libopenblas0-openmp
# The peer must use the OpenMP OpenBLAS (LD_LIBRARY_PATH below) or it runs far slower. Debian's torch does
# its float32 products through that BLAS, and OpenBLAS 0.3.21 does not recognise recent Xeons (it falls
# back to SSE3 "Prescott" kernels): on CPUs with AVX512-BF16 the peer runs with
# OPENBLAS_CORETYPE=${CORETYPE:-Cooperlake}, its AVX-512 kernels, so that it is compared at its best.
# CORETYPE= (empty) leaves OpenBLAS to its own detection.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
B=${B:-4}
T=${T:-256}
PY=${PYTHON:-/usr/bin/python3}
PEER=${TORCH_BENCH:-bench/torch_lora_bench.py}
BLAS=${BLAS_DIR:-/usr/lib/x86_64-linux-gnu/openblas-openmp}
CONFIGS=${CONFIGS:-"tiny::lora tiny::full smollm2-135m:8:lora smollm2-135m:8:full"}
COMPUTE=${COMPUTE:-float32}
ours_dtype=(--compute-dtype "$COMPUTE")
peer_dtype=()
[ "$COMPUTE" = bfloat16 ] && peer_dtype=(--bf16-autocast)
OUT=$(mktemp -d)
CORETYPE=${CORETYPE-Cooperlake}
grep -q avx512_bf16 /proc/cpuinfo || CORETYPE=""

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), node $(node --version), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "B=$B T=$T threads=$THREADS steps=$STEPS warmup=$WARMUP runs=$RUNS compute=$COMPUTE peer OPENBLAS_CORETYPE=${CORETYPE:-(detected)}"
for cfg in $CONFIGS; do
  IFS=: read -r preset layers method <<<"$cfg"
  tag="${preset}${layers:+-L$layers}-$method"
  layer_flag=()
  [ -n "$layers" ] && layer_flag=(--layers "$layers")
  for i in $(seq "$RUNS"); do
    node bin/peft-ts.js bench train --preset "$preset" "${layer_flag[@]}" --method "$method" --batch "$B" --seq "$T" \
      --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" "${ours_dtype[@]}" --json >"$OUT/$tag.ours.$i.json"
    LD_LIBRARY_PATH="$BLAS" OPENBLAS_CORETYPE="$CORETYPE" "$PY" "$PEER" --preset "$preset" "${layer_flag[@]}" --mode "$method" --threads "$THREADS" \
      -B "$B" -T "$T" --steps "$STEPS" --warmup "$WARMUP" "${peer_dtype[@]}" >"$OUT/$tag.torch.$i.json" 2>/dev/null
    node -e '
      const [a, b] = process.argv.slice(1, 3).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
      console.log(`  ${process.argv[3]} run ${process.argv[4]}: ours ${a.tokens_per_second} tok/s, torch ${b.tokens_per_second} tok/s` +
        ` (load ${require("os").loadavg()[0].toFixed(2)}, torch foreign CPU ${b.foreign_cpu_frac})`);
    ' "$OUT/$tag.ours.$i.json" "$OUT/$tag.torch.$i.json" "$tag" "$i" 2>/dev/null || true
  done
done

node - "$OUT" $CONFIGS <<'JS'
const fs = require("fs");
const [dir, ...configs] = process.argv.slice(2);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// A pair is "clean" when the peer saw almost no foreign CPU during its timed steps (foreign_cpu_frac <
// 0.05): PyTorch's OpenMP threads spin at barriers and collapse when another job holds a core.
const CLEAN = 0.05;
const rows = [["config", "ours tok/s", "torch tok/s", "ratio", "clean pairs", "ours (clean)", "torch (clean)", "ratio (clean)", "ours peak RSS MB", "torch peak RSS MB"]];
for (const cfg of configs) {
  const [preset, layers, method] = cfg.split(":");
  const tag = `${preset}${layers ? `-L${layers}` : ""}-${method}`;
  const read = (who) => fs.readdirSync(dir).filter((f) => f.startsWith(`${tag}.${who}.`)).map((f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")));
  const pairs = fs.readdirSync(dir).filter((f) => f.startsWith(`${tag}.ours.`)).map((f) => f.split(".")[2])
    .map((i) => [`${dir}/${tag}.ours.${i}.json`, `${dir}/${tag}.torch.${i}.json`].map((f) => JSON.parse(fs.readFileSync(f, "utf8"))));
  const ours = pairs.map((p) => p[0]), torch = pairs.map((p) => p[1]);
  const clean = pairs.filter(([, t]) => t.foreign_cpu_frac < CLEAN);
  const o = median(ours.map((r) => r.tokens_per_second)), t = median(torch.map((r) => r.tokens_per_second));
  const oc = clean.length ? median(clean.map((p) => p[0].tokens_per_second)) : NaN;
  const tc = clean.length ? median(clean.map((p) => p[1].tokens_per_second)) : NaN;
  rows.push([tag, o.toFixed(0), t.toFixed(0), `${(o / t).toFixed(2)}x`, `${clean.length}/${pairs.length}`, oc.toFixed(0), tc.toFixed(0),
    clean.length ? `${(oc / tc).toFixed(2)}x` : "-", median(ours.map((r) => r.peak_rss_mb)).toFixed(0), median(torch.map((r) => r.peak_rss_mb)).toFixed(0)]);
}
const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
for (const r of rows) console.log(r.map((c, j) => (j ? c.padStart(w[j]) : c.padEnd(w[j]))).join("  "));
JS
