#!/usr/bin/env bash
# BENCHMARKS.md "1.5B to 8B on one machine": for each shape, training steps of full fine-tuning (8-bit AdamW,
# where the estimate says it fits this machine), LoRA on a bf16 base and QLoRA, batch 1 x SEQ with gradient
# checkpointing, each in its own process (so each peak RSS is the run's own), on random weights built in
# their held form; then loading a sharded bf16 checkpoint of the shape (written shard by shard into WORK,
# transformers' 5 GB shards; removed at the end unless KEEP=1) kept in bf16, quantized to NF4 as it streams,
# and quantized from whole-tensor reads. Prints the markdown rows of both tables.
#
#   bench/scale-table.sh                                        # qwen2.5-1.5b llama3.2-3b llama3-8b
#   PRESETS="qwen2.5-0.5b llama3-8b" LAYERS=2 STEPS=1 WARMUP=1 bench/scale-table.sh   # a quick run of the script
#
# The full table needs a quiet machine: the 1.5B full fine-tuning step holds ~16 GiB, the 8B QLoRA step
# ~6.6 GiB, and the 8B checkpoint is ~15 GiB on disk; an 8B step takes minutes on 2 cores. A configuration
# whose estimate exceeds the memory available now (or MAX_MIB) is skipped, and says so, rather than run.
set -euo pipefail
cd "$(dirname "$0")/.."

PRESETS=${PRESETS:-"qwen2.5-1.5b llama3.2-3b llama3-8b"}
LAYERS=${LAYERS:-}
STEPS=${STEPS:-2}
WARMUP=${WARMUP:-1}
SEQ=${SEQ:-512}
SHARD_MB=${SHARD_MB:-4768}
MAX_MIB=${MAX_MIB:-}
OUT=$(mktemp -d)
made_work=""
[ -n "${WORK:-}" ] || { WORK=$(mktemp -d); made_work=$WORK; }
# On any exit: the JSON scratch, and unless KEEP=1 the checkpoints written (an 8B one is 15 GiB).
cleanup() {
  rm -rf "$OUT"
  [ "${KEEP:-0}" = 1 ] && return
  for p in $PRESETS; do rm -rf "${WORK:?}/$p"; done
  [ -n "$made_work" ] && rmdir "$made_work" 2>/dev/null || true
}
trap cleanup EXIT
PEFT=(node bin/peft-ts.js)
layer_flag=()
[ -n "$LAYERS" ] && layer_flag=(--layers "$LAYERS")

mem_available_mib() { awk '/^MemAvailable:/ { printf "%d", $2 / 1024 }' /proc/meminfo; }
json() { node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(eval(process.argv[1]))' "$1"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem:/ {print $2}') GB," \
  "node $(node --version), $(date -u +%Y-%m-%dT%H:%MZ); batch 1 x $SEQ, gradient checkpointing, $STEPS timed steps after $WARMUP${LAYERS:+, $LAYERS layers}" >&2

train_rows=()
load_rows=()
for preset in $PRESETS; do
  for cfg in "full:--optimizer adamw8bit" "lora:--base-dtype bfloat16" "qlora:"; do
    method=${cfg%%:*}
    read -r -a extra <<<"${cfg#*:}"
    # shellcheck disable=SC2068
    est=$("${PEFT[@]}" estimate --preset "$preset" ${layer_flag[@]} --method "$method" --batch 1 --r 16 --seq "$SEQ" --gradient-checkpointing ${extra[@]} --json)
    est_mib=$(json 'r.total_mib' <<<"$est")
    avail=$(mem_available_mib)
    [ -n "$MAX_MIB" ] && [ "$MAX_MIB" -lt "$avail" ] && avail=$MAX_MIB
    label="$preset | $method ${extra[*]}"
    if [ "$(json "r.total_mib + 512 > $avail" <<<"$est")" = "true" ]; then
      train_rows+=("| $label | (not run: estimate $est_mib MiB, $avail MiB to use) | $est_mib | | | | |")
      echo "skip $label: estimate $est_mib MiB, available $avail MiB" >&2
      continue
    fi
    echo "run  $label (estimate $est_mib MiB)" >&2
    # shellcheck disable=SC2068
    "${PEFT[@]}" bench train --preset "$preset" ${layer_flag[@]} --method "$method" ${extra[@]} --batch 1 --seq "$SEQ" \
      --steps "$STEPS" --warmup "$WARMUP" --gradient-checkpointing --json >"$OUT/train.json"
    train_rows+=("$(json '`| '"$label"' | ${r.peak_rss_mb} | ${r.estimate_mb} | ${(100 * r.estimate_error).toFixed(1)}% | ${r.step_s_median} | ${r.tokens_per_second} | ${r.peak_rss_mb_steps.join(" / ")} |`' <"$OUT/train.json")")
  done

  params=$("${PEFT[@]}" estimate --preset "$preset" ${layer_flag[@]} --method full --json | json 'r.params_total')
  need=$((params * 2 + (1 << 30)))
  free_bytes=$(df --output=avail -B1 "$WORK" | tail -1)
  if [ "$free_bytes" -lt "$need" ]; then
    load_rows+=("| $preset | (not run: the checkpoint needs $((need >> 20)) MiB of disk, $((free_bytes >> 20)) MiB free in $WORK) |")
    continue
  fi
  avail=$(mem_available_mib)
  [ -n "$MAX_MIB" ] && [ "$MAX_MIB" -lt "$avail" ] && avail=$MAX_MIB
  if [ $(((params * 2 >> 20) + 512)) -gt "$avail" ]; then
    load_rows+=("| $preset | (not run: a bf16 load holds $((params * 2 >> 20)) MiB, $avail MiB to use) |")
    continue
  fi
  echo "load $preset" >&2
  # shellcheck disable=SC2068
  "${PEFT[@]}" bench load --preset "$preset" ${layer_flag[@]} --shard-mb "$SHARD_MB" --mode bf16,nf4,nf4-whole --checkpoint "$WORK/$preset" --json >"$OUT/load.json"
  while read -r line; do
    load_rows+=("$(json '`| '"$preset"' | ${r.checkpoint_mb} MiB, ${r.shards} shards | ${r.mode} | ${r.held_mb} | ${r.largest_tensor_mb} | ${r.peak_rise_mb} | ${r.bound_mb} | ${r.ratio_to_bound} | ${r.load_s} | ${r.read_mb_s} |`' <<<"$line")")
  done <"$OUT/load.json"
  [ "${KEEP:-0}" = 1 ] || rm -rf "${WORK:?}/$preset"
done

echo
echo "| shape | method | peak RSS (MiB) | estimate (MiB) | error | s / step | tokens/s | peak after each step |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${train_rows[@]}"
echo
echo "| shape | checkpoint | held as | held (MiB) | largest tensor (MiB) | peak rise (MiB) | bound (MiB) | rise / bound | load s | MiB/s |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${load_rows[@]}"
