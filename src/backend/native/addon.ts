// The functions the native library exports (native/*.cc, each registered with PEFT_EXPORT).

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
  info(): { isa: "avx512" | "avx2" | "scalar"; threads: number };
  setThreads(n: number): number;
  axpy(dst: Float32Array, src: Float32Array, alpha: number, n: number): void;
  /** C = alpha·op(A)·op(B) + beta·C for `count` products (GemmArgs, flattened). */
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
    ...b: GemmB
  ): void;
}
