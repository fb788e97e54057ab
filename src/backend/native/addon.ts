// The functions the native library exports (native/*.cc, each registered with PEFT_EXPORT).
// Arguments are positional; each wrapper file in this folder maps the Backend contract onto them.

/** How gemm receives its B operand (see native/gemm_binding.cc). */
export type GemmB =
  | [kind: "f32", data: Float32Array, offset: number, ld: number]
  | [kind: "bf16", data: Uint16Array, offset: number, ld: number]
  | [
      kind: "q4",
      rows: number,
      cols: number,
      codes: Uint8Array,
      codebook: Float32Array,
      blockSize: number,
      absmax: Float32Array | null,
      nestedCodes: Uint8Array | null,
      nestedAbsmax: Float32Array | null,
      nestedMap: Float32Array | null,
      nestedBlockSize: number,
      nestedOffset: number,
    ]
  | [kind: "q8", rows: number, cols: number, codes: Int8Array, rowScale: Float32Array];

export interface NativeAddon {
  info(): { isa: "avx512bf16" | "avx512" | "avx2" | "scalar"; threads: number };
  setThreads(n: number): number;

  // elementwise.cc
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  axpy(dst: Float32Array, src: Float32Array, alpha: number, n: number): void;
  /** C = alpha·op(A)·op(B) + beta·C for `count` products (GemmArgs, flattened; the precision comes last). */
  gemm(
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    a: Float32Array,
    aOffset: number,
    lda: number,
    c: Float32Array,
    cOffset: number,
    ldc: number,
    alpha: number,
    beta: number,
    count: number,
    strideA: number,
    strideB: number,
    strideC: number,
    ...bAndPrecision: [...GemmB, precision: "f32" | "bf16"]
  ): void;
  mul(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  scale(a: Float32Array, s: number, out: Float32Array, n: number): void;
  addRowVector(x: Float32Array, v: Float32Array, out: Float32Array, rows: number, cols: number): void;
  mulRowVector(x: Float32Array, v: Float32Array, out: Float32Array, rows: number, cols: number): void;
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number, accumulate: boolean): void;
  sumSquares(x: Float32Array, n: number): number;
  bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void;
  f32ToBf16(src: Float32Array, dst: Uint16Array, n: number): void;

  // activation.cc, softmax.cc
  silu(x: Float32Array, out: Float32Array, n: number): void;
  siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void;
  gelu(x: Float32Array, out: Float32Array, n: number, approximate: "none" | "tanh"): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, approximate: "none" | "tanh"): void;
  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void;
  swigluBackward(gate: Float32Array, up: Float32Array, dy: Float32Array, dGate: Float32Array, dUp: Float32Array, n: number): void;
  geglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number, approximate: "none" | "tanh"): void;
  gegluBackward(
    gate: Float32Array, up: Float32Array, dy: Float32Array, dGate: Float32Array, dUp: Float32Array, n: number, approximate: "none" | "tanh",
  ): void;
  softcap(x: Float32Array, out: Float32Array, n: number, cap: number): void;
  softcapBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, n: number, cap: number): void;
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;

  // norm.cc
  rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void;
  rmsNormBackward(
    x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array | null,
    rows: number, cols: number,
  ): void;
  layerNorm(
    x: Float32Array, w: Float32Array, b: Float32Array, out: Float32Array, mean: Float32Array, rstd: Float32Array,
    rows: number, cols: number, eps: number,
  ): void;
  layerNormBackward(
    x: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, dy: Float32Array, dx: Float32Array,
    dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number,
  ): void;

  // rope.cc, attention.cc
  rope(
    x: Float32Array, out: Float32Array, cos: Float32Array, sin: Float32Array, positions: Int32Array,
    rows: number, heads: number, hd: number, inverse: boolean, rotary: number,
  ): void;
  attention(
    q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    B: number, T: number, S: number, nh: number, nkv: number, hd: number, scale: number, causal: boolean,
    keyMask: Uint8Array | null, kvRowStride: number, kvBatchStride: number, window: number, softcap: number,
  ): void;
  attentionBackward(
    q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, dOut: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array,
    B: number, T: number, S: number, nh: number, nkv: number, hd: number, scale: number, causal: boolean,
    keyMask: Uint8Array | null, kvRowStride: number, kvBatchStride: number, window: number, softcap: number,
  ): void;

  // loss.cc
  crossEntropy(logits: Float32Array, labels: Int32Array, loss: Float32Array, lse: Float32Array, rows: number, V: number, ignoreIndex: number): void;
  crossEntropyBackward(
    logits: Float32Array, labels: Int32Array, lse: Float32Array, dLogits: Float32Array,
    rows: number, V: number, ignoreIndex: number, scale: number,
  ): void;

  // embedding.cc, dropout.cc, adamw.cc, dequant.cc
  embedding(ids: Int32Array, table: Float32Array | Uint16Array, offset: number, ld: number, out: Float32Array, n: number, dim: number): void;
  embeddingBackward(ids: Int32Array, dy: Float32Array, dTable: Float32Array, n: number, dim: number): void;
  dropout(x: Float32Array, out: Float32Array, n: number, p: number, seed: number, offset: number): void;
  adamw(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
    stepSize: number, bc2Sqrt: number, decay: number, beta1: number, beta2: number, eps: number,
  ): void;
  // adamw8bit.cc
  adamw8bit(
    param: Float32Array, grad: Float32Array, state1: Uint8Array, state2: Uint8Array, absmax1: Float32Array, absmax2: Float32Array,
    n: number, qmap1: Float32Array, qmap2: Float32Array, beta1: number, beta2: number, oneMinusBeta1: number, oneMinusBeta2: number,
    stepSize: number, epsScaled: number, hasDecay: boolean, decay: number,
  ): void;
  dequantize4(
    codes: Uint8Array, codebook: Float32Array, rows: number, cols: number, blockSize: number, absmax: Float32Array | null,
    nestedCodes: Uint8Array | null, nestedAbsmax: Float32Array | null, nestedMap: Float32Array | null,
    nestedBlockSize: number, nestedOffset: number, row0: number, count: number, out: Float32Array,
  ): void;
  dequantize8(codes: Int8Array, rowScale: Float32Array, rows: number, cols: number, row0: number, count: number, out: Float32Array): void;
}
