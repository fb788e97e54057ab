// peft-ts bench load: peak memory and time of loading a sharded bfloat16 checkpoint, against what must be
// held. A random checkpoint of a preset's shape is written shard by shard (random-checkpoint.ts), then a
// fresh process loads it and reports how far its resident high-water mark (VmHWM) rose above where it
// stood before the load, next to the bytes of the weights as held and the largest single tensor:
//   bf16 (LoRA on a bf16 base): tensors read one at a time into their storage; rise ≤ held + one tensor;
//   nf4 (QLoRA): decoder linears streamed through positioned reads of 64K elements into the NF4 encoder,
//     embedding and head kept bf16; rise ≤ held + one tensor + 300 MiB;
//   nf4-whole: the same quantization from tensors read whole first (the loader's path for a custom
//     quantizer), to compare what reading each tensor whole costs.
// Node has no mmap (nor O_DIRECT with its aligned buffers, nor fadvise) in core: reads go through the page
// cache, which the process's RSS does not count. RssFile (file pages mapped into the process) is reported
// to show it.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { loadModel } from "../models/index.ts";
import { PRESETS, presetConfig } from "../models/presets.ts";
import { CheckpointReader } from "../io/index.ts";
import { Tensor } from "../tensor/tensor.ts";
import { heldBytes, quantizeTensor, QuantizedTensor } from "../quant/index.ts";
import { QLORA_QUANTIZATION } from "../train/model.ts";
import { backend } from "../backend/index.ts";
import { peakRssBytes } from "../util/memory.ts";
import { writeRandomCheckpoint } from "./random-checkpoint.ts";

const BIN = fileURLToPath(new URL("../../bin/peft-ts.js", import.meta.url));
const MiB = 2 ** 20;

export type LoadMode = "bf16" | "nf4" | "nf4-whole";
export const LOAD_MODES: readonly LoadMode[] = ["bf16", "nf4", "nf4-whole"];

export interface LoadMeasurement {
  mode: LoadMode;
  /** Bytes of every weight as held after loading. */
  held_mb: number;
  largest_tensor_mb: number;
  /** Peak resident memory during the load minus the resident memory just before it. */
  peak_rise_mb: number;
  /** held + largest tensor (+ 300 MiB when quantizing): the claim is peak_rise ≤ bound. */
  bound_mb: number;
  ratio_to_bound: number;
  load_s: number;
  /** Checkpoint bytes read per second. */
  read_mb_s: number;
  /** File pages mapped into the process after the load (the page cache is not). */
  rss_file_mb: number;
}

export interface LoadBenchResult extends LoadMeasurement {
  preset: string;
  layers: number;
  shards: number;
  checkpoint_mb: number;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

function rssFileBytes(): number {
  const m = /^RssFile:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

function loadAs(dir: string, mode: LoadMode) {
  if (mode === "bf16") return loadModel(dir, { dtype: "auto", onWarning: () => {} });
  if (mode === "nf4") return loadModel(dir, { dtype: "auto", quantization: QLORA_QUANTIZATION, onWarning: () => {} });
  return loadModel(dir, { dtype: "auto", policy: { quantize: (_name, w) => quantizeTensor(w, QLORA_QUANTIZATION) }, onWarning: () => {} });
}

/** In the measuring process: load `dir` as `mode`, report against the bound. */
export function measureLoad(dir: string, mode: LoadMode): LoadMeasurement {
  backend(); // the native library and its threads are part of the process before the load, not of the load
  const reader = CheckpointReader.open(dir);
  const checkpointBytes = reader.totalBytes();
  const largest = Math.max(...reader.names().map((n) => reader.entry(n).end - reader.entry(n).begin));
  reader.close();
  const before = process.memoryUsage.rss();
  const t0 = performance.now();
  const model = loadAs(dir, mode);
  const loadS = (performance.now() - t0) / 1000;
  const rise = Math.max(0, peakRssBytes() - before);
  const held = model
    .namedParameters()
    .reduce((s, [, p]) => s + (p instanceof QuantizedTensor ? heldBytes(p) : (p as Tensor).byteLength), 0);
  const bound = held + largest + (mode === "bf16" ? 0 : 300 * MiB);
  return {
    mode,
    held_mb: round(held / MiB),
    largest_tensor_mb: round(largest / MiB),
    peak_rise_mb: round(rise / MiB),
    bound_mb: round(bound / MiB),
    ratio_to_bound: Math.round((rise / bound) * 1000) / 1000,
    load_s: Math.round(loadS * 100) / 100,
    read_mb_s: Math.round(checkpointBytes / MiB / loadS),
    rss_file_mb: round(rssFileBytes() / MiB),
  };
}

export interface LoadBenchOptions {
  preset: string;
  layers?: number;
  shardMb: number;
  modes: readonly LoadMode[];
  /** Measure this folder, writing it first if it does not exist (kept); default a temporary folder. */
  checkpoint?: string;
}

/** Writes the checkpoint (unless given), then measures each mode in a fresh process. */
export function runLoadBench(o: LoadBenchOptions): LoadBenchResult[] {
  const config = presetConfig(o.preset, { layers: o.layers });
  const temp = o.checkpoint ? null : mkdtempSync(join(tmpdir(), "peft-ts-bench-load-"));
  const dir = o.checkpoint ?? join(temp!, "model");
  try {
    if (!existsSync(join(dir, "config.json"))) {
      writeRandomCheckpoint(dir, { ...PRESETS[o.preset]!, num_hidden_layers: config.numLayers }, { maxShardBytes: o.shardMb * MiB });
    }
    const shards = readdirSync(dir).filter((f) => f.endsWith(".safetensors")).length;
    const reader = CheckpointReader.open(dir);
    const checkpointMb = round(reader.totalBytes() / MiB);
    reader.close();
    return o.modes.map((mode) => {
      const res = spawnSync(process.execPath, [BIN, "bench", "load", "--measure", dir, "--mode", mode], { encoding: "utf8" });
      if (res.status !== 0) throw new Error(`bench load: the measuring process failed (exit ${res.status ?? res.signal}): ${res.stderr}`);
      return { preset: o.preset, layers: config.numLayers, shards, checkpoint_mb: checkpointMb, ...(JSON.parse(res.stdout) as LoadMeasurement) };
    });
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}

export function registerBenchLoad(bench: Command): void {
  bench
    .command("load")
    .description("peak memory and time of loading a sharded bfloat16 checkpoint (kept bf16, or quantized to NF4) vs what must be held")
    .addOption(new Option("--preset <name>", "model shape").choices(Object.keys(PRESETS)).default("smollm2-135m"))
    .option("--layers <n>", "override the number of layers")
    .option("--shard-mb <n>", "largest shard of the written folder, MiB", "100")
    .option("--mode <modes>", `comma-separated: ${LOAD_MODES.join(", ")}`, "bf16")
    .option("--checkpoint <dir>", "measure this folder (written first when it has no config.json, and kept)")
    .addOption(new Option("--measure <dir>", "(internal) load DIR and print the measurement").hideHelp())
    .option("--json", "print one JSON line per mode")
    .action((f: { preset: string; layers?: string; shardMb: string; mode: string; checkpoint?: string; measure?: string; json?: boolean }) => {
      const modes = f.mode.split(",").map((m) => m.trim());
      const bad = modes.find((m) => !LOAD_MODES.includes(m as LoadMode));
      if (bad !== undefined) throw new Error(`bench load: --mode ${bad} is not one of ${LOAD_MODES.join(", ")}`);
      if (f.measure) {
        process.stdout.write(`${JSON.stringify(measureLoad(f.measure, modes[0] as LoadMode))}\n`);
        return;
      }
      const rows = runLoadBench({
        preset: f.preset, layers: f.layers === undefined ? undefined : Number(f.layers), shardMb: Number(f.shardMb), modes: modes as LoadMode[], checkpoint: f.checkpoint,
      });
      for (const r of rows) {
        process.stdout.write(
          f.json
            ? `${JSON.stringify(r)}\n`
            : `${r.preset} (${r.layers} layers, ${r.checkpoint_mb} MiB in ${r.shards} shards) as ${r.mode}: held ${r.held_mb} MiB, largest tensor ${r.largest_tensor_mb} MiB; ` +
                `peak RSS rose ${r.peak_rise_mb} MiB (${r.ratio_to_bound}× of the bound ${r.bound_mb} MiB), ${r.load_s} s (${r.read_mb_s} MiB/s)\n`,
        );
      }
    });
}
