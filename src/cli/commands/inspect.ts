// peft-ts inspect DIR: what a model folder holds, read from config.json and the safetensors headers only
// (no weights are loaded): architecture, shapes, parameter count, dtypes, size on disk, tied embeddings,
// rope type; for a quantized folder, bytes per parameter.

import { formatBytes } from "../../util/format.ts";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../models/index.ts";
import { CheckpointReader } from "../../io/checkpoint.ts";
import { bitsPerWeight, bnbStoredPart, describeStoredBits } from "../../quant/footprint.ts";
import { checkModelFolder } from "../../models/folder-check.ts";

export interface Inspection {
  dir: string;
  architecture: string;
  model_type: string;
  layers: number;
  heads: number;
  kv_heads: number;
  head_dim: number;
  hidden: number;
  intermediate: number;
  vocab: number;
  parameters: number;
  /** Elements per stored dtype (from the headers). */
  dtypes: Record<string, number>;
  size_on_disk_bytes: number;
  tied_embeddings: boolean;
  rope_type: string;
  rope_theta: number;
  quantization: string | null;
  /** Stored bytes over parameters, the whole checkpoint. */
  bytes_per_parameter: number;
  /** Bytes per weight of the quantized linear layers, codes and block scales (see bitsPerWeight), or null. */
  quantized_bytes_per_parameter: number | null;
  /** The same in bits: the figure `quantize` prints. */
  quantized_bits_per_weight: number | null;
  /** The quantized layers' per-layer tables (code books, quant state): on disk, not per weight. */
  quantized_table_bytes: number;
}

const U8_KINDS = new Set(["U8", "I8"]);

export function inspectModel(dir: string): Inspection {
  const c = loadConfig(dir);
  const reader = CheckpointReader.open(dir);
  const dtypes: Record<string, number> = {};
  let parameters = 0;
  let tensorBytes = 0;
  const quant = { params: 0, bytes: 0, tables: 0 };
  try {
    for (const name of reader.names()) {
      const e = reader.entry(name);
      const n = e.shape.reduce((a, b) => a * b, 1);
      dtypes[e.dtype] = (dtypes[e.dtype] ?? 0) + n;
      tensorBytes += e.end - e.begin;
      // packed 4-bit weights hold two parameters per byte; their quant-state side tensors are not parameters
      const side = bnbStoredPart(name);
      if (side) {
        if (side === "scales") quant.bytes += e.end - e.begin;
        else quant.tables += e.end - e.begin;
        continue;
      }
      const packed = c.quantizationConfig !== null && U8_KINDS.has(e.dtype) && name.endsWith(".weight");
      const params = packed && is4bit(c.quantizationConfig!) ? 2 * n : n;
      parameters += params;
      if (packed) {
        quant.params += params;
        quant.bytes += e.end - e.begin;
      }
    }
  } finally {
    reader.close();
  }
  const size = readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors") && f !== "reference.safetensors")
    .reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  const q = c.quantizationConfig;
  return {
    dir,
    architecture: c.architecture,
    model_type: c.modelType,
    layers: c.numLayers,
    heads: c.numHeads,
    kv_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    vocab: c.vocabSize,
    parameters,
    dtypes,
    size_on_disk_bytes: size,
    tied_embeddings: c.tieWordEmbeddings,
    rope_type: c.architecture === "GPT2LMHeadModel" ? "none (learned positions)" : (c.ropeScaling?.type ?? "default"),
    rope_theta: c.ropeTheta,
    quantization: q ? String(q.quant_method ?? "unknown") + (is4bit(q) ? ` ${String(q.bnb_4bit_quant_type ?? "nf4")}` : "") : null,
    bytes_per_parameter: parameters > 0 ? tensorBytes / parameters : 0,
    quantized_bytes_per_parameter: quant.params > 0 ? quant.bytes / quant.params : null,
    quantized_bits_per_weight: quant.params > 0 ? bitsPerWeight(quant.bytes, quant.params) : null,
    quantized_table_bytes: quant.tables,
  };
}

function is4bit(q: Record<string, unknown>): boolean {
  return q.load_in_4bit === true;
}


export function formatInspection(i: Inspection): string {
  const rows: [string, string][] = [
    ["architecture", `${i.architecture} (${i.model_type})`],
    ["layers", String(i.layers)],
    ["heads", String(i.heads)],
    ["kv heads", String(i.kv_heads)],
    ["head dim", String(i.head_dim)],
    ["hidden", String(i.hidden)],
    ["intermediate", String(i.intermediate)],
    ["vocab", String(i.vocab)],
    ["parameters", `${i.parameters.toLocaleString("en-US")} (${(i.parameters / 1e6).toFixed(1)}M)`],
    ["dtypes", Object.entries(i.dtypes).map(([d, n]) => `${d} ${n.toLocaleString("en-US")}`).join(", ")],
    ["size on disk", formatBytes(i.size_on_disk_bytes)],
    ["tied embeddings", i.tied_embeddings ? "yes" : "no"],
    ["rope", i.rope_type === "default" ? `default (theta ${i.rope_theta})` : i.rope_type],
  ];
  if (i.quantization) rows.push(["quantization", i.quantization]);
  rows.push(["bytes / parameter", i.bytes_per_parameter.toFixed(3)]);
  if (i.quantized_bits_per_weight !== null) {
    rows.push(["quantized layers", describeStoredBits(i.quantized_bits_per_weight, i.quantized_table_bytes)]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

export function register(program: Command): void {
  program
    .command("inspect")
    .description("describe a model folder from its config and safetensors headers (no weights loaded)")
    .argument("<dir>", "Hugging Face model folder")
    .option("--json", "print JSON")
    .action((dir: string, opts: { json?: boolean }) => {
      checkModelFolder(dir, "inspect");
      const i = inspectModel(dir);
      process.stdout.write(opts.json ? `${JSON.stringify(i)}\n` : `${formatInspection(i)}\n`);
    });
}
