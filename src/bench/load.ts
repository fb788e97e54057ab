// peft-ts bench load: peak memory of loading a bfloat16 checkpoint, against what must be held. A random
// model of a preset's shape is saved as a sharded bf16 folder, then a fresh process loads it keeping the
// weights in bf16 (`dtype: "auto"`) and reports how far its resident memory rose above where it stood
// before the load (the high-water mark, VmHWM), next to the bytes of the weights as held and the largest
// single tensor: tensors are read one at a time, so the rise should stay within held + one tensor.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { buildModel, loadModel, RandomWeights } from "../models/index.ts";
import { presetConfig } from "../models/presets.ts";
import { saveMergedModel } from "../peft/index.ts";
import { Tensor } from "../tensor/tensor.ts";
import { backend } from "../backend/index.ts";
import { peakRssBytes } from "../util/memory.ts";

const BIN = fileURLToPath(new URL("../../bin/peft-ts.js", import.meta.url));
const MiB = 2 ** 20;

export interface LoadBenchResult {
  preset: string;
  layers: number;
  shards: number;
  /** Bytes of every weight as held after loading (bf16 here). */
  held_mb: number;
  largest_tensor_mb: number;
  /** Peak resident memory during the load minus the resident memory just before it. */
  peak_rise_mb: number;
  /** peak_rise / (held + largest tensor): at most 1 is the claim. */
  ratio_to_bound: number;
  load_s: number;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** In the measuring process: load `dir`, keep bf16, report against the bound. */
export function measureLoad(dir: string): Omit<LoadBenchResult, "preset" | "layers" | "shards"> {
  backend(); // the native library and its threads are part of the process before the load, not of the load
  const before = process.memoryUsage.rss();
  const t0 = performance.now();
  const model = loadModel(dir, { dtype: "auto", onWarning: () => {} });
  const loadS = (performance.now() - t0) / 1000;
  const peak = peakRssBytes();
  const tensors = model.namedParameters().map(([, p]) => p).filter((p): p is Tensor => p instanceof Tensor);
  const held = tensors.reduce((s, t) => s + t.byteLength, 0);
  const largest = Math.max(...tensors.map((t) => t.byteLength));
  const rise = Math.max(0, peak - before);
  return {
    held_mb: round(held / MiB),
    largest_tensor_mb: round(largest / MiB),
    peak_rise_mb: round(rise / MiB),
    ratio_to_bound: Math.round((rise / (held + largest)) * 1000) / 1000,
    load_s: Math.round(loadS * 100) / 100,
  };
}

export function runLoadBench(o: { preset: string; layers?: number; shardMb: number }): LoadBenchResult {
  const config = presetConfig(o.preset, { layers: o.layers });
  const dir = mkdtempSync(join(tmpdir(), "peft-ts-bench-load-"));
  try {
    const model = buildModel(config, new RandomWeights(7, { weightDtype: "bfloat16", trainable: false }));
    saveMergedModel(model, null, join(dir, "model"), { dtype: "bfloat16", maxShardBytes: o.shardMb * MiB });
    const res = spawnSync(process.execPath, [BIN, "bench", "load", "--measure", join(dir, "model")], { encoding: "utf8" });
    if (res.status !== 0) throw new Error(`bench load: the measuring process failed (exit ${res.status ?? res.signal}): ${res.stderr}`);
    const shards = readdirSync(join(dir, "model")).filter((f) => f.endsWith(".safetensors")).length;
    return { preset: o.preset, layers: config.numLayers, shards, ...JSON.parse(res.stdout) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerBenchLoad(bench: Command): void {
  bench
    .command("load")
    .description("peak memory of loading a sharded bfloat16 checkpoint vs the weights as held plus one tensor")
    .addOption(new Option("--preset <name>", "model shape").choices(["tiny", "smollm2-135m", "qwen2.5-0.5b"]).default("smollm2-135m"))
    .option("--layers <n>", "override the number of layers")
    .option("--shard-mb <n>", "largest shard of the saved folder, MiB", "100")
    .addOption(new Option("--measure <dir>", "(internal) load DIR and print the measurement").hideHelp())
    .option("--json", "print one JSON line")
    .action((f: { preset: string; layers?: string; shardMb: string; measure?: string; json?: boolean }) => {
      if (f.measure) {
        process.stdout.write(`${JSON.stringify(measureLoad(f.measure))}\n`);
        return;
      }
      const r = runLoadBench({ preset: f.preset, layers: f.layers === undefined ? undefined : Number(f.layers), shardMb: Number(f.shardMb) });
      process.stdout.write(
        f.json
          ? `${JSON.stringify(r)}\n`
          : `${r.preset} (${r.layers} layers) bf16: held ${r.held_mb} MiB, largest tensor ${r.largest_tensor_mb} MiB; ` +
              `peak RSS rose ${r.peak_rise_mb} MiB while loading (${r.ratio_to_bound}× of held + one tensor), ${r.load_s} s\n`,
      );
    });
}
