// The functions the native library exports (native/*.cc, each registered with PEFT_EXPORT).

export interface NativeAddon {
  info(): { isa: "avx512" | "avx2" | "scalar"; threads: number };
  setThreads(n: number): number;
  axpy(dst: Float32Array, src: Float32Array, alpha: number, n: number): void;
}
