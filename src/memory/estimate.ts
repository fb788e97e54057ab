// Memory of one training step, in bytes, for full fine-tuning, LoRA and QLoRA of a model given only its
// config: the numbers behind "why full fine-tuning is hard". It models this engine as it is:
//
// - weights, as held: trainable ones in float32 (4 B); frozen linears and embeddings in the base dtype
//   (float32 4 B or bfloat16 2 B); norms and biases always float32; QLoRA's decoder linears in NF4 with
//   double quantization (4-bit codes, one uint8 absmax code per block of 64, one float32 per 256 blocks:
//   ≈ 4.127 bits per parameter), embeddings, norms and the head unquantized, as transformers does;
// - gradients: float32, trainable parameters only (frozen ones never get a buffer). Full fine-tuning adds
//   the fused head+loss's own dW [V, C]: it is computed in forward, before dLoss is known, held until
//   backward scales it into the head's .grad, then recycled by the buffer pool, so it is always resident;
// - optimizer: AdamW's m and v, float32, 8 B per trainable parameter; with 8-bit AdamW one code byte each
//   per element plus a float32 absmax per 256 for every tensor of at least 4096 elements (≈ 2.03 B), 8 B
//   for smaller ones, as bitsandbytes keeps them; SGD's momentum buffer, 4 B;
// - activations: what one step keeps live (activations.ts), plus transient peaks (backward temporaries,
//   the logits chunk);
// - runtime: the process itself, 100 MiB: an idle `node` that registered tsx, imported the project's
//   modules and loaded the native library holds 82-89 MiB (Node 20.20, x86-64); once the native kernels
//   have run, the library holds 12-23 MiB more (its pool threads' stacks and malloc arenas, GEMM packing
//   panels, kernel scratch), measured as the difference between `bench train` with the native kernels
//   and with allocation-free stub kernels (BENCHMARKS.md).
//
// Buffers released during a step go to a pool and stay resident for the next step, so the peak RSS is
// the sum of these terms, not a maximum over phases.
//
// Calibration (BENCHMARKS.md, "Memory estimate vs measured", native kernels): last measured 1–4% below
// `bench train`'s peak RSS for all three methods on qwen2.5-0.5b, with and without gradient checkpointing,
// and 8–11% below on tiny, where the runtime term dominates and freed small buffers kept by glibc show.

import { formatBytes, formatCount } from "../util/format.ts";
import type { ModelConfig } from "../models/config.ts";
import { modelInventory, baseParameterCount, parameterTensors, sum, type LinearShape, type ModelInventory } from "./inventory.ts";
import { forwardActivations, transientActivations } from "./activations.ts";

export { availableMemoryBytes } from "./available.ts";

export type Method = "full" | "lora" | "qlora";
export const METHODS: readonly Method[] = ["full", "lora", "qlora"];
export type EstimateOptimizer = "adamw" | "adamw8bit" | "sgd";

export interface EstimateOptions {
  config: ModelConfig;
  method: Method;
  batch: number;
  seq: number;
  /** LoRA rank (default 16). */
  r?: number;
  /** Module names (or dotted suffixes) LoRA adapts; default "all-linear": every linear of the decoder
   *  layers (for Llama-family models the seven projections q, k, v, o, gate, up, down). */
  targetModules?: readonly string[] | "all-linear";
  gradientCheckpointing?: boolean;
  /** How frozen weights are held (LoRA, and QLoRA's unquantized embeddings/head); default float32. */
  baseDtype?: "float32" | "bfloat16";
  /** Default adamw. */
  optimizer?: EstimateOptimizer;
  /** LoRA / QLoRA with the frozen embedding and head quantized too (int8 with per-row scales, or NF4). */
  embeddingQuant?: "int8" | "nf4" | null;
}

/** Bytes by kind; `activations` includes `transient`. */
export interface MemoryEstimate {
  method: Method;
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  /** The part of `activations` that is transient peaks (backward temporaries, logits chunk). */
  transient: number;
  runtime: number;
  total: number;
  /** Parameters held (base model plus adapters). */
  paramsTotal: number;
  paramsTrainable: number;
}

/** The process without a model: Node, loader, modules, native library after its first kernels (header). */
export const RUNTIME_BYTES = 100 * 2 ** 20;

const F32 = 4;

export class EstimateError extends Error {}

/** NF4 with double quantization, as quant/quantize4bit.ts stores it (codebook and nested map are shared). */
export function nf4Bytes(n: number, blockSize = 64, nestedBlockSize = 256): number {
  const blocks = Math.ceil(n / blockSize);
  return Math.ceil(n / 2) + blocks + F32 * Math.ceil(blocks / nestedBlockSize);
}

function selectTargets(inv: ModelInventory, targets: readonly string[] | "all-linear"): LinearShape[] {
  if (targets === "all-linear") return inv.layerLinears;
  const matches = (l: LinearShape, t: string) => l.name === t || l.name.endsWith(`.${t}`);
  for (const t of targets) {
    if (!inv.layerLinears.some((l) => matches(l, t))) {
      throw new EstimateError(`target module "${t}" matches no layer of this model (${inv.layerLinears.map((l) => l.name).join(", ")})`);
    }
  }
  return inv.layerLinears.filter((l) => targets.some((t) => matches(l, t)));
}

function checkShape(o: EstimateOptions, r: number): void {
  for (const [key, v] of [["batch", o.batch], ["seq", o.seq], ["r", r]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new EstimateError(`estimate: ${key} must be a positive integer, got ${v}`);
  }
  if (!(o.method in METHOD_SET)) throw new EstimateError(`estimate: method must be full, lora or qlora, got "${o.method}"`);
}

const METHOD_SET = { full: 1, lora: 1, qlora: 1 } as const;

/** bitsandbytes' AdamW8bit: tensors from this size on get 8-bit states (min_8bit_size). */
const MIN_8BIT_SIZE = 4096;

/** Optimizer state bytes of one trainable tensor of n elements. */
function stateBytes(n: number, optimizer: EstimateOptimizer): number {
  if (optimizer === "sgd") return F32 * n;
  if (optimizer === "adamw" || n < MIN_8BIT_SIZE) return 2 * F32 * n;
  return 2 * n + 2 * F32 * Math.ceil(n / 256);
}

/**
 * How the frozen float weights of an adapter method are held when not asked: float32 for LoRA's base; for
 * QLoRA's unquantized embedding and head the checkpoint's own dtype, as transformers' QLoRA holds them.
 */
export function frozenDtype(method: Method, asked: "float32" | "bfloat16" | null, config: ModelConfig): "float32" | "bfloat16" {
  if (asked !== null) return asked;
  return method === "qlora" && config.dtype === "bfloat16" ? "bfloat16" : "float32";
}

/** Bytes of an embedding or head of `rows` × `cols`, held in `frozen`-byte floats or quantized. */
function tableBytes(n: number, cols: number, frozen: number, quant: "int8" | "nf4" | null): number {
  if (quant === "nf4") return nf4Bytes(n);
  if (quant === "int8") return n + 2 * F32 * (n / cols); // codes, and per row a scale and the absmax (SCB)
  return frozen * n;
}

/** Bytes of the base model's weights as held under `method`. */
function baseWeightBytes(inv: ModelInventory, method: Method, baseDtype: "float32" | "bfloat16", embeddingQuant: "int8" | "nf4" | null, C: number): number {
  const frozen = method === "full" ? F32 : baseDtype === "bfloat16" ? 2 : F32;
  const L = inv.numLayers;
  const linear = (l: LinearShape) => (method === "qlora" ? nf4Bytes(l.inF * l.outF) : frozen * l.inF * l.outF);
  const biases = inv.layerLinears.reduce((s, l) => s + (l.bias ? l.outF : 0), 0);
  const perLayer = inv.layerLinears.reduce((s, l) => s + linear(l), 0) + F32 * (biases + sum(inv.layerNorms));
  const quant = method === "full" ? null : embeddingQuant;
  const tables = [...inv.embeddings, ...(inv.headParams > 0 ? [inv.headParams] : [])].reduce((s, n) => s + tableBytes(n, C, frozen, quant), 0);
  return L * perLayer + tables + F32 * sum(inv.finalNorms);
}

export function estimateMemory(o: EstimateOptions): MemoryEstimate {
  const r = o.r ?? 16;
  checkShape(o, r);
  const c = o.config;
  const inv = modelInventory(c);
  const base = baseParameterCount(inv);
  const adapted = o.method === "full" ? [] : selectTargets(inv, o.targetModules ?? "all-linear");
  const adapterParams = inv.numLayers * adapted.reduce((s, l) => s + r * (l.inF + l.outF), 0);
  const trainable = o.method === "full" ? base : adapterParams;
  const optimizer = o.optimizer ?? "adamw";
  const adapterTensors = adapted.flatMap((l) => [r * l.inF, l.outF * r]); // A [r, in], B [out, r] of one layer
  const tensors = o.method === "full" ? parameterTensors(inv) : Array.from({ length: inv.numLayers }, () => adapterTensors).flat();
  const fusedHeadGrad = o.method === "full" ? F32 * c.vocabSize * c.hiddenSize : 0;

  const step = { N: o.batch * o.seq, adapterRanks: adapted.map(() => r) };
  const transient = F32 * transientActivations(c, step);
  const e = {
    method: o.method,
    weights: baseWeightBytes(inv, o.method, o.baseDtype ?? "float32", o.embeddingQuant ?? null, c.hiddenSize) + F32 * adapterParams,
    gradients: F32 * trainable + fusedHeadGrad,
    optimizer: tensors.reduce((total, n) => total + stateBytes(n, optimizer), 0),
    activations: F32 * forwardActivations(c, step, o.gradientCheckpointing ?? false) + transient,
    transient,
    runtime: RUNTIME_BYTES,
    paramsTotal: base + adapterParams,
    paramsTrainable: trainable,
  };
  return { ...e, total: e.weights + e.gradients + e.optimizer + e.activations + e.runtime };
}

const COLUMNS: [string, (e: MemoryEstimate) => string][] = [
  ["method", (e) => e.method],
  ["trainable", (e) => `${formatCount(e.paramsTrainable)} / ${formatCount(e.paramsTotal)}`],
  ["weights", (e) => formatBytes(e.weights)],
  ["gradients", (e) => formatBytes(e.gradients)],
  ["optimizer state", (e) => formatBytes(e.optimizer)],
  ["activations", (e) => formatBytes(e.activations)],
  ["runtime", (e) => formatBytes(e.runtime)],
  ["total", (e) => formatBytes(e.total)],
];

/** An aligned text table, one row per estimate: the method left-aligned, figures right-aligned; with `fits`, a yes/no column. */
export function formatEstimate(rows: readonly MemoryEstimate[], fits?: readonly boolean[]): string {
  const columns: [string, (e: MemoryEstimate, i: number) => string][] = [...COLUMNS];
  if (fits) columns.push(["fits", (_, i) => (fits[i] ? "yes" : "no")]);
  const cells = [columns.map(([h]) => h), ...rows.map((e, i) => columns.map(([, f]) => f(e, i)))];
  const widths = columns.map((_, j) => Math.max(...cells.map((row) => row[j]!.length)));
  const line = (row: string[]) => row.map((s, j) => (j === 0 ? s.padEnd(widths[j]!) : s.padStart(widths[j]!))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join("\n");
}
