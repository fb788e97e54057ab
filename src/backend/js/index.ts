// The reference backend: plain TypeScript, float64 accumulation. The oracle every native kernel is tested against.

import type { Backend } from "../kernels.ts";
import { f32ArrayToBf16 } from "../../tensor/dtype.ts";
import { dequantizeRowsRef } from "../../quant/dequantize.ts";
import { gemmRef } from "./gemm.ts";
import * as ew from "./elementwise.ts";
import * as act from "./activation.ts";
import * as norm from "./norm.ts";
import { rope } from "./rope.ts";
import { softmax, softmaxBackward } from "./softmax.ts";
import { attention, attentionBackward } from "./attention.ts";
import { crossEntropy, crossEntropyBackward } from "./loss.ts";
import * as misc from "./misc.ts";
import { adamw8bitRef } from "./adamw8bit.ts";

export const jsBackend: Backend = {
  name: "js",
  gemm: gemmRef,
  add: ew.add,
  axpy: ew.axpy,
  mul: ew.mul,
  scale: ew.scale,
  addRowVector: ew.addRowVector,
  mulRowVector: ew.mulRowVector,
  sumRows: ew.sumRows,
  sumSquares: ew.sumSquares,
  silu: act.silu,
  siluBackward: act.siluBackward,
  gelu: act.gelu,
  geluBackward: act.geluBackward,
  swiglu: act.swiglu,
  swigluBackward: act.swigluBackward,
  geglu: act.geglu,
  gegluBackward: act.gegluBackward,
  softcap: act.softcap,
  softcapBackward: act.softcapBackward,
  rmsNorm: norm.rmsNorm,
  rmsNormBackward: norm.rmsNormBackward,
  layerNorm: norm.layerNorm,
  layerNormBackward: norm.layerNormBackward,
  rope,
  softmax,
  softmaxBackward,
  attention,
  attentionBackward,
  crossEntropy,
  crossEntropyBackward,
  embedding: misc.embedding,
  embeddingBackward: misc.embeddingBackward,
  dropout: misc.dropout,
  adamw: misc.adamw,
  adamw8bit: adamw8bitRef,
  dequantizeRows: dequantizeRowsRef,
  bf16ToF32: ew.bf16ToF32,
  f32ToBf16: (src, dst, n) => void f32ArrayToBf16(src.subarray(0, n), dst),
};
