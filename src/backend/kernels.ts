// The kernel contract shared by the two backends.
//
// Every kernel works on flat row-major float32 arrays with explicit sizes; ops in src/ops check shapes and
// call these, so kernels trust their arguments. Unless a parameter says "accumulate", outputs are fully
// overwritten and never read (tests fill them with NaN first). Outputs may alias an input only where noted.
// `js` (src/backend/js) is the plain reference; `native` (native/, src/backend/native) is the fast path and
// must agree with `js` within 1e-5 relative.

import type { QuantizedMatrix } from "../quant/types.ts";

/** A dense row-major float32 matrix inside a buffer: element (i, j) is data[offset + i * ld + j]. */
export interface DenseF32 {
  kind: "f32";
  data: Float32Array;
  offset: number;
  ld: number;
}

/** A dense row-major bfloat16 matrix (frozen weights kept in their stored dtype). */
export interface DenseBf16 {
  kind: "bf16";
  data: Uint16Array;
  offset: number;
  ld: number;
}

/** The float32 constants of one 8-bit AdamW step (formed by src/optim/adamw8bit.ts) and the two code maps. */
export interface Adamw8bitStep {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  /** −lr·√(1 − β2^t) / (1 − β1^t) */
  stepSize: number;
  /** ε·√(1 − β2^t) */
  epsScaled: number;
  /** 1 − lr·λ, or null without weight decay. */
  decay: number | null;
  /** Signed map of the first moment, unsigned map of the second (256 sorted values each). */
  qmap1: Float32Array;
  qmap2: Float32Array;
}

/** A quantized [rows, cols] weight, dequantized panel by panel inside the product. */
export interface QuantOperand {
  kind: "quant";
  q: QuantizedMatrix;
}

/** The B operand of a product: where QLoRA's 4-bit weights and bf16 bases enter the GEMM. */
export type MatrixOperand = DenseF32 | DenseBf16 | QuantOperand;

/**
 * What a product multiplies: float32 operands, or both operands rounded to bfloat16 (nearest even, as
 * torch rounds) with the sums in float32, as torch's CPU autocast computes linear layers.
 */
export type ComputeDtype = "float32" | "bfloat16";

/**
 * C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C, all row-major.
 * op(A) = A ([M, K], lda) or Aᵀ (A stored [K, M]); op(B) likewise with B stored [K, N] or [N, K].
 * beta = 0 means C is not read. A quantized B is stored [N, K] when transB, [K, N] otherwise.
 * With `batch`, `count` independent products with the given element strides (B must be dense).
 */
export interface GemmArgs {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  a: Float32Array;
  aOffset: number;
  lda: number;
  b: MatrixOperand;
  c: Float32Array;
  cOffset: number;
  ldc: number;
  alpha: number;
  beta: number;
  batch?: { count: number; strideA: number; strideB: number; strideC: number };
  /**
   * Default float32. bfloat16: native agrees with js (same roundings, float64 sums) within float32 summation
   * error, except that native AVX512_BF16 counts float32 subnormals (below 2⁻¹²⁶) as zero.
   */
  computeDtype?: ComputeDtype;
}

/**
 * Attention over q [B, T, nh, hd] and k, v [B, S, nkv, hd] (rows of k and v are `kvRowStride` apart, and
 * batches `kvBatchStride` apart, so a preallocated KV cache can be read in place); out [B, T, nh, hd].
 * Query head h reads KV head floor(h / (nh / nkv)). Query t sits at position p = S - T + t; with
 * `causal` it sees keys s ≤ p, and with a `window` W only keys s > p − W (transformers' sliding window:
 * the query itself and the W − 1 before it). `keyMask` [B, S] (1 = attend, 0 = padding) masks keys. The
 * score is scale·q·k, or with a `softcap` c: c·tanh(scale·q·k / c) (Gemma 2's attention soft-capping). A
 * query that sees no key outputs zeros. `lse` [B, nh, T] receives the log-sum-exp of each score row (−∞
 * for a row with no key): all that backward needs besides q, k, v and out.
 */
export interface AttentionDims {
  B: number;
  T: number;
  S: number;
  nh: number;
  nkv: number;
  hd: number;
  scale: number;
  causal: boolean;
  keyMask: Uint8Array | null;
  kvRowStride: number;
  kvBatchStride: number;
  /** Sliding window W (null or absent: none). */
  window?: number | null;
  /** Soft cap c on the scores (null or absent: none). */
  softcap?: number | null;
}

export interface Backend {
  readonly name: "js" | "native";

  gemm(args: GemmArgs): void;

  // ---- elementwise (n elements; out may alias an input) ----
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  /** dst += alpha · src */
  axpy(dst: Float32Array, src: Float32Array, alpha: number, n: number): void;
  mul(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  scale(a: Float32Array, s: number, out: Float32Array, n: number): void;
  /** out[r, c] = x[r, c] + v[c] */
  addRowVector(x: Float32Array, v: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** out[r, c] = x[r, c] · v[c] */
  mulRowVector(x: Float32Array, v: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** out[c] (+)= Σ_r x[r, c]; accumulate into out when `accumulate`. */
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number, accumulate: boolean): void;
  /** Σ x² in float64, in a fixed order (deterministic). */
  sumSquares(x: Float32Array, n: number): number;

  // ---- activations ----
  silu(x: Float32Array, out: Float32Array, n: number): void;
  siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  /** GELU: "none" = x·Φ(x) with erf; "tanh" = the tanh approximation (GPT-2's gelu_new). */
  gelu(x: Float32Array, out: Float32Array, n: number, approximate: "none" | "tanh"): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, approximate: "none" | "tanh"): void;
  /** out = silu(gate) · up */
  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void;
  swigluBackward(
    gate: Float32Array,
    up: Float32Array,
    dy: Float32Array,
    dGate: Float32Array,
    dUp: Float32Array,
    n: number,
  ): void;
  /** out = gelu(gate) · up (Gemma's gated MLP) */
  geglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number, approximate: "none" | "tanh"): void;
  gegluBackward(
    gate: Float32Array,
    up: Float32Array,
    dy: Float32Array,
    dGate: Float32Array,
    dUp: Float32Array,
    n: number,
    approximate: "none" | "tanh",
  ): void;
  /** out = cap · tanh(x / cap) (Gemma 2's logit soft-capping) */
  softcap(x: Float32Array, out: Float32Array, n: number, cap: number): void;
  /** dx = dy · (1 − (y / cap)²), from the output y. dx may alias y or dy. */
  softcapBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, n: number, cap: number): void;

  // ---- normalisation (rows × cols, normalised over cols) ----
  /** out = x · rsqrt(mean(x²) + eps) · w (w may be null); rstd[rows] saved for backward. */
  rmsNorm(
    x: Float32Array,
    w: Float32Array | null,
    out: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** dx overwritten; dw accumulated (may be null). */
  rmsNormBackward(
    x: Float32Array,
    w: Float32Array | null,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array | null,
    rows: number,
    cols: number,
  ): void;
  layerNorm(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array,
    out: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    cols: number,
    eps: number,
  ): void;
  /** dx overwritten; dw, db accumulated (may be null). */
  layerNormBackward(
    x: Float32Array,
    w: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    dw: Float32Array | null,
    db: Float32Array | null,
    rows: number,
    cols: number,
  ): void;

  /**
   * Rotary embedding, rotate-half layout, on the first `rotary` (default hd) dims of each head of x
   * [rows, heads, hd] where row r has position positions[r]: with R = rotary / 2,
   * out[i] = x[i]·cos − x[i + R]·sin, out[i + R] = x[i + R]·cos + x[i]·sin, with cos/sin = tables[pos, i]
   * of shape [maxPos, R]; dims ≥ rotary are copied (partial rotary). `inverse` uses −sin (the backward).
   * out may alias x.
   */
  rope(
    x: Float32Array,
    out: Float32Array,
    cos: Float32Array,
    sin: Float32Array,
    positions: Int32Array,
    rows: number,
    heads: number,
    hd: number,
    inverse: boolean,
    rotary?: number,
  ): void;

  /** Row softmax with the max subtracted. */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;

  attention(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    dims: AttentionDims,
  ): void;
  /** dq, dk, dv overwritten (dk, dv contiguous [B, S, nkv, hd]). */
  attentionBackward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    dOut: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    dims: AttentionDims,
  ): void;

  /**
   * Per-row cross-entropy of logits [rows, V] against labels: loss[r] = lse[r] − logits[r, label], 0 where
   * label = ignoreIndex. lse[r] saved for backward.
   */
  crossEntropy(
    logits: Float32Array,
    labels: Int32Array,
    loss: Float32Array,
    lse: Float32Array,
    rows: number,
    V: number,
    ignoreIndex: number,
  ): void;
  /** dlogits = scale · (softmax(logits) − onehot(label)), zero rows where ignored. dlogits may alias logits. */
  crossEntropyBackward(
    logits: Float32Array,
    labels: Int32Array,
    lse: Float32Array,
    dLogits: Float32Array,
    rows: number,
    V: number,
    ignoreIndex: number,
    scale: number,
  ): void;

  /** out[i, :] = table[ids[i], :] (table f32 or bf16, [vocab, dim]). */
  embedding(ids: Int32Array, table: DenseF32 | DenseBf16, out: Float32Array, n: number, dim: number): void;
  /** dTable[ids[i], :] += dy[i, :] */
  embeddingBackward(ids: Int32Array, dy: Float32Array, dTable: Float32Array, n: number, dim: number): void;

  /**
   * Inverted dropout with a counter-based mask: element i is kept when uniform(seed, offset + i) ≥ p and
   * then scaled by 1/(1−p). The same call on dy gives the backward. See src/backend/random.ts.
   */
  dropout(x: Float32Array, out: Float32Array, n: number, p: number, seed: number, offset: number): void;

  /** One torch.optim.AdamW step (single-tensor form) on n elements; m, v updated in place. */
  adamw(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    hp: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number },
  ): void;

  /**
   * One 8-bit blockwise AdamW step (bitsandbytes' algorithm, src/backend/js/adamw8bit.ts) on n elements:
   * param updated, the 8-bit codes of m and v and their per-256-element absmax re-encoded in place.
   * Bit-identical across backends.
   */
  adamw8bit(
    param: Float32Array,
    grad: Float32Array,
    state1: Uint8Array,
    state2: Uint8Array,
    absmax1: Float32Array,
    absmax2: Float32Array,
    n: number,
    step: Adamw8bitStep,
  ): void;

  /** Dequantize rows [row0, row0 + count) of a quantized matrix into out [count, cols]. */
  dequantizeRows(q: QuantizedMatrix, row0: number, count: number, out: Float32Array): void;

  /** dst[i] = float32 of bf16 src[i] */
  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void;
  /** dst[i] = bf16 of src[i], round to nearest even */
  f32ToBf16(src: Float32Array, dst: Uint16Array, n: number): void;
}
