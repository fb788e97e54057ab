// Activation memory of one training step, in float32 elements, counted op by op from src/ops and the model
// files (N = B·T tokens, C hidden, I intermediate, nh/nkv heads of hd).
//
// What is live at the end of the forward pass is every op output of the step, not only what backward
// saved: each recorded op's output is referenced by the graph until backward reaches it, and outputs
// nobody saved (q before RoPE, o_proj's output, ...) are at best released into the buffer pool when the
// forward's scope ends, where they stay resident to be reused by backward's gradients. So the peak holds
// all of them. What backward saves (pins) is marked in the comments.
//
// Then backward adds temporaries beyond that set, largest in the top layer's MLP; and the fused head+loss
// leaves its logits chunk in the pool for the next step.

import type { ModelConfig } from "../models/config.ts";
import { familyOf } from "./inventory.ts";

export interface StepShape {
  /** Tokens in the batch, B·T. */
  N: number;
  /** LoRA rank per adapted linear of one layer (one entry per adapter), empty without adapters. */
  adapterRanks: readonly number[];
}

/** Rows of logits the fused head+loss computes at once (ops/loss.ts: about 32 MB of logits). */
export function logitsChunkRows(vocab: number, N: number): number {
  return Math.max(1, Math.min(N, Math.floor(8_388_608 / vocab)));
}

/** One Llama-family decoder layer's op outputs (its input is the previous layer's output). */
function llamaLayer(c: ModelConfig, N: number, layer: number): number {
  const { hiddenSize: C, intermediateSize: I, numHeads: nh, numKvHeads: nkv, headDim: hd } = c;
  const qSize = N * nh * hd;
  const kvSize = N * nkv * hd;
  let n = 0;
  n += N * C + N; //             input_layernorm: out (saved by q/k/v_proj), rstd (saved)
  n += qSize + 2 * kvSize; //    q_proj, k_proj, v_proj outputs (v saved by attention)
  if (c.qkNorm) n += qSize + kvSize + N * nh + N * nkv; // Qwen3 q_norm/k_norm: outputs, rstd (saved, with their inputs)
  if (c.ropeLayers?.[layer] ?? true) n += qSize + kvSize; // rope(q), rope(k) (saved by attention); not in SmolLM3's NoPE layers
  n += qSize + N * nh; //        attention: out (saved, also by o_proj), lse (saved); never the T×T scores
  n += N * C; //                 o_proj output
  n += N * C; //                 residual add → h (saved by post_attention_layernorm)
  n += N * C + N; //             post_attention_layernorm: out (saved by gate/up_proj), rstd (saved)
  n += 2 * N * I; //             gate_proj, up_proj outputs (saved by swiglu)
  n += N * I; //                 swiglu output (saved by down_proj)
  n += N * C; //                 down_proj output
  n += N * C; //                 residual add → the layer's output (saved by the next norm)
  return n;
}

/** One Gemma 2/3 decoder layer's op outputs. */
function gemmaLayer(c: ModelConfig, N: number): number {
  const { hiddenSize: C, intermediateSize: I, numHeads: nh, numKvHeads: nkv, headDim: hd } = c;
  const qSize = N * nh * hd;
  const kvSize = N * nkv * hd;
  let n = 0;
  n += N * C + N; //             input_layernorm: out, rstd
  n += qSize + 2 * kvSize; //    q_proj, k_proj, v_proj outputs
  if (c.qkNorm) n += qSize + kvSize + N * nh + N * nkv; // Gemma 3 q_norm/k_norm: outputs, rstd
  n += qSize + kvSize; //        rope(q), rope(k)
  n += qSize + N * nh; //        attention: out, lse
  n += N * C; //                 o_proj output
  n += N * C + N; //             post_attention_layernorm: out, rstd
  n += N * C; //                 residual add
  n += N * C + N; //             pre_feedforward_layernorm: out, rstd
  n += 2 * N * I; //             gate_proj, up_proj outputs (saved by geglu)
  n += N * I; //                 geglu output (saved by down_proj)
  n += N * C; //                 down_proj output
  n += N * C + N; //             post_feedforward_layernorm: out, rstd
  n += N * C; //                 residual add → the layer's output
  return n;
}

/** One Phi-3 decoder layer's op outputs. */
function phi3Layer(c: ModelConfig, N: number): number {
  const { hiddenSize: C, intermediateSize: I, numHeads: nh, numKvHeads: nkv, headDim: hd } = c;
  const qkv = N * (nh + 2 * nkv) * hd;
  let n = 0;
  n += N * C + N; //             input_layernorm: out (saved by qkv_proj), rstd
  n += qkv; //                   qkv_proj output
  n += qkv; //                   splitColumns copies q, k, v (v saved by attention)
  n += N * (nh + nkv) * hd; //   rope(q), rope(k)
  n += N * nh * hd + N * nh; //  attention: out, lse
  n += N * C; //                 o_proj output
  n += N * C; //                 residual add
  n += N * C + N; //             post_attention_layernorm: out, rstd
  n += 2 * N * I; //             gate_up_proj output (saved by swigluHalves)
  n += N * I; //                 swigluHalves output (saved by down_proj)
  n += N * C; //                 down_proj output
  n += N * C; //                 residual add
  return n;
}

/** One GPT-2 block's op outputs. */
function gpt2Layer(c: ModelConfig, N: number): number {
  const { hiddenSize: C, intermediateSize: I, numHeads: nh } = c;
  let n = 0;
  n += N * C + 2 * N; //         ln_1: out (saved by c_attn), mean, rstd (saved)
  n += 3 * N * C; //             c_attn output [N, 3C]
  n += 3 * N * C; //             splitColumns copies q, k, v (saved by attention)
  n += N * C + N * nh; //        attention: out (saved, also by c_proj), lse (saved)
  n += N * C; //                 attn.c_proj output
  n += N * C; //                 residual add → h (saved by ln_2)
  n += N * C + 2 * N; //         ln_2: out (saved by c_fc), mean, rstd
  n += 2 * N * I; //             c_fc output (saved by gelu), gelu output (saved by mlp.c_proj)
  n += N * C; //                 mlp.c_proj output
  n += N * C; //                 residual add → the block's output
  return n;
}

/** Everything decoder layer `layer`'s forward creates, adapters included (each saves x·Aᵀ, [N, r]). */
export function layerActivations(c: ModelConfig, s: StepShape, layer = 0): number {
  const family = familyOf(c);
  const base =
    family === "gpt2" ? gpt2Layer(c, s.N) : family === "gemma" ? gemmaLayer(c, s.N) : family === "phi3" ? phi3Layer(c, s.N) : llamaLayer(c, s.N, layer);
  return base + s.adapterRanks.reduce((sum, r) => sum + s.N * r, 0);
}

/** Outside the layers: embedding output(s), the final norm, and the fused loss's saved dH [N, C]. */
function outsideLayers(c: ModelConfig, N: number): number {
  const C = c.hiddenSize;
  const family = familyOf(c);
  const gpt2 = family === "gpt2";
  // GPT-2: token and position lookups and their sum; Gemma: the lookup and its √hidden scaling.
  const embedding = gpt2 ? 3 * N * C : family === "gemma" ? 2 * N * C : N * C;
  const finalNorm = N * C + (gpt2 ? 2 * N : N); // out, rstd (and LayerNorm's mean)
  return embedding + finalNorm + N * C;
}

/**
 * Live at the end of forward. With gradient checkpointing each layer keeps only its output (the next
 * layer's saved input); one layer's activations come back when backward recomputes it (and its no-grad
 * forward leaves the same buffers in the pool).
 */
export function forwardActivations(c: ModelConfig, s: StepShape, checkpointing: boolean): number {
  const perLayer = Array.from({ length: c.numLayers }, (_, i) => layerActivations(c, s, i));
  const layers = checkpointing ? c.numLayers * s.N * c.hiddenSize + Math.max(...perLayer) : perLayer.reduce((a, b) => a + b, 0);
  return layers + outsideLayers(c, s.N);
}

/**
 * Transient peaks beyond the forward set:
 * - the fused head+loss's logits chunk with its per-row loss and log-sum-exp, released into the pool
 *   after forward and reused every step, so always resident;
 * - backward of the top layer's MLP: with the layer-output gradient [N, C] pending, down_proj's input
 *   gradient and swiglu's two input gradients ([N, I] each) exist while only the swiglu output has been
 *   released (GPT-2: gelu's one input gradient). Attention's backward comes after the MLP's activations
 *   are gone, so it is smaller.
 */
export function transientActivations(c: ModelConfig, s: StepShape): number {
  const rows = logitsChunkRows(c.vocabSize, s.N);
  // A soft-capped head (Gemma 2) keeps the capped chunk beside its gradient.
  const chunks = c.finalLogitSoftcapping ? 2 : 1;
  const logitsChunk = chunks * rows * c.vocabSize + 2 * rows;
  const mlpGrads = c.architecture === "GPT2LMHeadModel" ? 1 : 2;
  return logitsChunk + s.N * c.hiddenSize + mlpGrads * s.N * c.intermediateSize;
}
