// What every causal language model shares: the inputs it takes, the shifted loss, the output head, and
// the attention call that switches between training (autograd op) and generation (KV cache).

import { Tensor, ShapeError } from "../tensor/tensor.ts";
import * as ops from "../ops/index.ts";
import { backend } from "../backend/index.ts";
import { isGradEnabled } from "../autograd/engine.ts";
import { checkpoint } from "../autograd/checkpoint.ts";
import { Module, Linear, type Forward } from "../nn/index.ts";
import type { ModelConfig } from "./config.ts";
import { KVCache } from "./kv-cache.ts";

export interface ModelInput {
  /** Token ids, [B, T] row-major. */
  ids: Int32Array;
  B: number;
  T: number;
  /** [B, T]: 1 = real token, 0 = padding (masked as a key). */
  attentionMask?: Uint8Array | null;
  /** [B, T] labels (−100 = ignore); shifted by one inside, as transformers does. */
  labels?: Int32Array | null;
  /** [B, T] absolute positions; default cache.length + t. */
  positions?: Int32Array | null;
  cache?: KVCache | null;
  /** Which logits to return: all positions (default without labels), the last one per row, or none. */
  logits?: "all" | "last" | "none";
  outputHiddenStates?: boolean;
}

export interface ModelOutput {
  logits: Tensor | null;
  loss: Tensor | null;
  /** Embedding output, then each layer's output, the last one after the final norm (as transformers). */
  hiddenStates: Tensor[];
}

export interface DecoderLayer {
  forward(x: Tensor, ctx: ForwardContext): Tensor;
}

/** Per-forward state the layers read. */
export interface ForwardContext {
  B: number;
  T: number;
  positions: Int32Array;
  keyMask: Uint8Array | null;
  cache: KVCache | null;
}

export abstract class CausalLM extends Module {
  abstract readonly config: ModelConfig;
  /** Recompute each decoder layer's activations in backward instead of keeping them (less memory, ~1/3 more time). */
  gradientCheckpointing = false;

  /** Runs one decoder layer, checkpointed when asked and a backward will follow. */
  protected runLayer(fn: (x: Tensor) => Tensor, x: Tensor): Tensor {
    return this.gradientCheckpointing && isGradEnabled() ? checkpoint(fn, x) : fn(x);
  }

  /** Hidden states after the final norm, [B·T, C]. */
  protected abstract body(ids: Int32Array, ctx: ForwardContext, hiddenStates: Tensor[] | null): Tensor;

  /**
   * The decoder stack over the embedded input h: each layer (checkpointed when asked), then the final norm.
   * Records the hidden states as transformers does: the input, each layer's output, the last one normed.
   */
  protected decode(h: Tensor, layers: readonly DecoderLayer[], norm: Forward, ctx: ForwardContext, hiddenStates: Tensor[] | null): Tensor {
    hiddenStates?.push(h);
    for (const layer of layers) {
      h = this.runLayer((x) => layer.forward(x, ctx), h);
      hiddenStates?.push(h);
    }
    h = norm.forward(h);
    if (hiddenStates) hiddenStates[hiddenStates.length - 1] = h;
    return h;
  }

  /** The output projection (a plain Linear, or whatever an adapter wrapped it in). */
  abstract get head(): Forward;

  forward(input: ModelInput): ModelOutput {
    const { ids, B, T } = input;
    if (ids.length !== B * T) throw new ShapeError(`forward: ${ids.length} ids for B=${B}, T=${T}`);
    const cache = input.cache ?? null;
    const past = cache?.length ?? 0;
    if (input.attentionMask && input.attentionMask.length !== B * T) {
      throw new ShapeError(`forward: attention mask has ${input.attentionMask.length} entries for B=${B}, T=${T}`);
    }
    const positions = input.positions ?? defaultPositions(B, T, past);
    cache?.appendMask(T, input.attentionMask ?? null);
    const ctx: ForwardContext = { B, T, positions, keyMask: input.attentionMask ?? null, cache };
    const hiddenStates: Tensor[] | null = input.outputHiddenStates ? [] : null;
    const h = this.body(ids, ctx, hiddenStates);
    cache?.advance(T);

    const want = input.logits ?? (input.labels ? "none" : "all");
    const labels = input.labels ? shiftLabels(input.labels, B, T) : null;
    let logits: Tensor | null = null;
    let loss: Tensor | null = null;
    if (want === "all") {
      logits = this.logitsOf(h);
      if (labels) loss = ops.crossEntropy(logits, labels);
    } else {
      if (want === "last") logits = this.logitsOf(lastRows(h, B, T));
      if (labels) loss = this.lossFromHidden(h, labels);
    }
    logits?.keep();
    loss?.keep();
    for (const hs of hiddenStates ?? []) hs.keep();
    return { logits: logits && ops.reshape(logits, [B, want === "last" ? 1 : T, -1]), loss, hiddenStates: hiddenStates ?? [] };
  }

  /** The head's output, soft-capped where the config says so (Gemma 2). */
  private logitsOf(h: Tensor): Tensor {
    const y = this.head.forward(h);
    const cap = this.config.finalLogitSoftcapping ?? null;
    return cap === null ? y : ops.softcap(y, cap);
  }

  /** Loss without materialising all logits when the head is a plain Linear (fused, chunked). */
  private lossFromHidden(h: Tensor, labels: Int32Array): Tensor {
    const head = this.head;
    if (head instanceof Linear && head.bias === null && head.layout === "out_in") {
      return ops.linearCrossEntropy(h, head.weight, labels, { softcap: this.config.finalLogitSoftcapping ?? null });
    }
    return ops.crossEntropy(this.logitsOf(h), labels);
  }

  newCache(B: number, maxLen: number): KVCache {
    const c = this.config;
    return new KVCache(c.numLayers, B, maxLen, c.numKvHeads, c.headDim);
  }
}

function defaultPositions(B: number, T: number, past: number): Int32Array {
  const p = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) p[b * T + t] = past + t;
  return p;
}

/** labels[b, t + 1] predicts from position t; the last position of each row predicts nothing. */
export function shiftLabels(labels: Int32Array, B: number, T: number): Int32Array {
  if (labels.length !== B * T) throw new ShapeError(`forward: ${labels.length} labels for B=${B}, T=${T}`);
  const out = new Int32Array(B * T).fill(ops.IGNORE_INDEX);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) out[b * T + t] = labels[b * T + t + 1]!;
  return out;
}

function lastRows(h: Tensor, B: number, T: number): Tensor {
  const C = h.size / (B * T);
  const out = Tensor.empty([B, C]);
  const src = h.data as Float32Array;
  for (let b = 0; b < B; b++) out.data.set(src.subarray((b * T + T - 1) * C, (b * T + T) * C), b * C);
  return out;
}

export interface AttentionShape {
  nh: number;
  nkv: number;
  hd: number;
  layer: number;
  /** Default 1/√hd (Gemma: query_pre_attn_scalar^−½). */
  scale?: number;
  /** This layer's sliding window (null: every earlier position). */
  window?: number | null;
  /** Soft cap on the scores (Gemma 2). */
  softcap?: number | null;
}

/**
 * Attention for q [B·T, nh·hd], k, v [B·T, nkv·hd] (rotary already applied). Training and scoring go
 * through the autograd op; with a KV cache (generation, no grad) the new k, v are appended and the kernel
 * reads the cache in place.
 */
export function selfAttention(q: Tensor, k: Tensor, v: Tensor, ctx: ForwardContext, s: AttentionShape): Tensor {
  const { B, T, cache } = ctx;
  const extra = { window: s.window ?? null, softcap: s.softcap ?? null };
  const scale = s.scale ?? 1 / Math.sqrt(s.hd);
  if (!cache) return ops.attention(q, k, v, { B, T, nh: s.nh, nkv: s.nkv, hd: s.hd, keyMask: ctx.keyMask, scale, ...extra });
  if (isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad)) {
    throw new Error("forward with a KV cache is for inference: run it under noGrad()");
  }
  cache.write(s.layer, k.data as Float32Array, v.data as Float32Array, T);
  const S = cache.length + T;
  const out = Tensor.empty(q.shape);
  const lse = new Float32Array(B * s.nh * T);
  backend().attention(q.data as Float32Array, cache.keys[s.layer]!, cache.values[s.layer]!, out.data, lse, {
    B, T, S, nh: s.nh, nkv: s.nkv, hd: s.hd,
    scale,
    causal: true,
    keyMask: cache.maskFor(S),
    kvRowStride: cache.rowStride,
    kvBatchStride: cache.batchStride,
    ...extra,
  });
  return out;
}
