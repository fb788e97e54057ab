// Linear layers and matrix products.
//
// linear(x, W, b) = x·Wᵀ + b with W stored [out, in] (nn.Linear), or x·W with W stored [in, out]
// (GPT-2's Conv1D, layout "in_out"). W may be float32 (trainable or frozen), bfloat16 or quantized
// (frozen): the GEMM reads it through its B-panel loader, so no float copy of a frozen weight is made.
//
// Low-rank adapters fuse into the same op (LoRA, as PEFT defines it):
//   y = x·Wᵀ + b + Σ_a s_a · (drop_a(x)·A_aᵀ)·B_aᵀ,   A_a [r, in], B_a [out, r]
// The adapter product is accumulated into y's buffer by the GEMM (beta = 1), not in a separate pass.
// Backward, with T_a = drop_a(x)·A_aᵀ saved ([N, r], small):
//   dT_a = s_a · dY·B_a        dB_a = s_a · dYᵀ·T_a        dA_a = dT_aᵀ·drop_a(x)
//   dX = dY·W (+ Σ_a drop_a(dT_a·A_a))       dW = dYᵀ·x      db = Σ_rows dY
// The dropout mask is regenerated from its seed in backward instead of being stored.
// Every product takes the compute dtype (autocast.ts) that was active when the forward ran.

import { Tensor, fmtShape, ShapeError } from "../tensor/tensor.ts";
import { leafGradTarget, record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import type { ComputeDtype, MatrixOperand } from "../backend/kernels.ts";
import { QuantizedTensor } from "../quant/types.ts";
import { computeDtype } from "./autocast.ts";
import { sumRowsInto } from "./elementwise.ts";
import { assertF32, f32, lastDim } from "./util.ts";

export type LinearWeight = Tensor | QuantizedTensor;
export type WeightLayout = "out_in" | "in_out";

export interface LowRankAdapter {
  A: Tensor;
  B: Tensor;
  scaling: number;
  /** Dropout on the adapter's input (0 = none), with the seed of this forward call. */
  dropout?: { p: number; seed: number };
}

export interface LinearOptions {
  layout?: WeightLayout;
  adapters?: readonly LowRankAdapter[];
}

export function weightOperand(w: LinearWeight): MatrixOperand {
  if (w instanceof QuantizedTensor) return { kind: "quant", q: w.q };
  const ld = w.shape[1]!;
  if (w.dtype === "float32") return { kind: "f32", data: w.data as Float32Array, offset: 0, ld };
  if (w.dtype === "bfloat16") return { kind: "bf16", data: w.data as Uint16Array, offset: 0, ld };
  throw new ShapeError(`linear: weights of dtype ${w.dtype} are not supported`);
}

/** Y[rows, outF] (+)= alpha · X[rows, inF] · op(W) for weights in either layout. */
function productWithWeight(
  x: Float32Array,
  w: LinearWeight,
  layout: WeightLayout,
  rows: number,
  inF: number,
  outF: number,
  y: Float32Array,
  alpha: number,
  beta: number,
  cd: ComputeDtype,
): void {
  backend().gemm({
    M: rows, N: outF, K: inF, transA: false, transB: layout === "out_in",
    a: x, aOffset: 0, lda: inF, b: weightOperand(w), c: y, cOffset: 0, ldc: outF, alpha, beta, computeDtype: cd,
  });
}

/** dX[rows, inF] (+)= dY[rows, outF] · W (layout out_in) or dY · Wᵀ (in_out). */
function inputGrad(
  dy: Float32Array,
  w: LinearWeight,
  layout: WeightLayout,
  rows: number,
  inF: number,
  outF: number,
  dx: Float32Array,
  beta: number,
  cd: ComputeDtype,
): void {
  backend().gemm({
    M: rows, N: inF, K: outF, transA: false, transB: layout === "in_out",
    a: dy, aOffset: 0, lda: outF, b: weightOperand(w), c: dx, cOffset: 0, ldc: inF, alpha: 1, beta, computeDtype: cd,
  });
}

/** dW (+)= dYᵀ·X for [out, in], Xᵀ·dY for [in, out]. */
function weightGrad(
  dy: Float32Array,
  x: Float32Array,
  layout: WeightLayout,
  rows: number,
  inF: number,
  outF: number,
  dw: Float32Array,
  alpha: number,
  beta: number,
  cd: ComputeDtype,
): void {
  const [first, firstLd, second, secondLd, M, N] =
    layout === "out_in" ? [dy, outF, x, inF, outF, inF] : [x, inF, dy, outF, inF, outF];
  backend().gemm({
    M, N, K: rows, transA: true, transB: false,
    a: first, aOffset: 0, lda: firstLd, b: { kind: "f32", data: second, offset: 0, ld: secondLd },
    c: dw, cOffset: 0, ldc: N, alpha, beta, computeDtype: cd,
  });
}

/** Runs fn on the adapter's input: x itself, or a temporary dropout(x) released afterwards. */
function withDropout(x: Tensor, a: LowRankAdapter, fn: (xa: Float32Array) => void): void {
  if (!a.dropout || a.dropout.p === 0) return fn(f32(x));
  const tmp = Tensor.empty(x.shape);
  backend().dropout(f32(x), tmp.data, x.size, a.dropout.p, a.dropout.seed, 0);
  fn(tmp.data);
  tmp.release();
}

/** Gradient into a leaf's .grad (accumulated, returns null) or into a new tensor. */
function gradBuffer(t: Tensor): { buf: Tensor<"float32">; beta: number; leaf: boolean } {
  const target = leafGradTarget(t);
  return target ? { buf: target, beta: 1, leaf: true } : { buf: Tensor.empty(t.shape), beta: 0, leaf: false };
}

export function linear(x: Tensor, w: LinearWeight, bias: Tensor | null = null, opts: LinearOptions = {}): Tensor<"float32"> {
  const layout = opts.layout ?? "out_in";
  const adapters = opts.adapters ?? [];
  assertF32("linear", x);
  const [outF, inF] = layout === "out_in" ? [w.shape[0]!, w.shape[1]!] : [w.shape[1]!, w.shape[0]!];
  if (lastDim(x) !== inF) {
    throw new ShapeError(`linear: input ${fmtShape(x.shape)} does not match weight ${fmtShape(w.shape)} (${layout})`);
  }
  if (bias && bias.size !== outF) throw new ShapeError(`linear: bias has ${bias.size} elements, expected ${outF}`);
  const rows = x.size / inF;
  const outShape = [...x.shape.slice(0, -1), outF];
  const y = Tensor.empty(outShape);
  const cd = computeDtype();
  productWithWeight(f32(x), w, layout, rows, inF, outF, y.data, 1, 0, cd);
  if (bias) backend().addRowVector(y.data, f32(bias), y.data, rows, outF);

  const hidden: Tensor<"float32">[] = [];
  for (const a of adapters) {
    const r = a.A.shape[0]!;
    if (a.A.shape[1] !== inF || a.B.shape[0] !== outF || a.B.shape[1] !== r) {
      throw new ShapeError(
        `linear: adapter shapes A ${fmtShape(a.A.shape)}, B ${fmtShape(a.B.shape)} do not fit ${inF} → ${outF}`,
      );
    }
    const t = Tensor.empty([rows, r]);
    withDropout(x, a, (xa) => productWithWeight(xa, a.A, "out_in", rows, inF, r, t.data, 1, 0, cd));
    productWithWeight(t.data, a.B, "out_in", rows, r, outF, y.data, a.scaling, 1, cd);
    hidden.push(t);
  }

  const inputs = [x, w instanceof Tensor ? w : null, bias, ...adapters.flatMap((a) => [a.A, a.B])];
  const saved = [x, ...(w instanceof Tensor ? [w] : []), ...hidden];
  return record("linear", y, inputs, saved, (dy) => {
    const grads: (Tensor<"float32"> | null)[] = [];
    let dx: Tensor<"float32"> | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      inputGrad(dy.data, w, layout, rows, inF, outF, dx.data, 0, cd);
    }
    grads.push(dx);
    if (w instanceof Tensor && w.requiresGrad) {
      const { buf, beta, leaf } = gradBuffer(w);
      weightGrad(dy.data, f32(x), layout, rows, inF, outF, buf.data, 1, beta, cd);
      grads.push(leaf ? null : buf);
    } else grads.push(null);
    grads.push(bias?.requiresGrad ? sumRowsInto(bias, dy) : null);
    adapters.forEach((a, i) => grads.push(...adapterGrads(a, hidden[i]!, x, dy, dx, rows, inF, outF, cd)));
    return grads;
  });
}

function adapterGrads(
  a: LowRankAdapter,
  t: Tensor<"float32">,
  x: Tensor,
  dy: Tensor<"float32">,
  dx: Tensor<"float32"> | null,
  rows: number,
  inF: number,
  outF: number,
  cd: ComputeDtype,
): (Tensor<"float32"> | null)[] {
  const r = a.A.shape[0]!;
  const dT = Tensor.empty([rows, r]);
  inputGrad(dy.data, a.B, "out_in", rows, r, outF, dT.data, 0, cd);
  backend().scale(dT.data, a.scaling, dT.data, dT.size);
  let dB: Tensor<"float32"> | null = null;
  if (a.B.requiresGrad) {
    const { buf, beta, leaf } = gradBuffer(a.B);
    weightGrad(dy.data, t.data, "out_in", rows, r, outF, buf.data, a.scaling, beta, cd);
    dB = leaf ? null : buf;
  }
  let dA: Tensor<"float32"> | null = null;
  if (a.A.requiresGrad) {
    const { buf, beta, leaf } = gradBuffer(a.A);
    withDropout(x, a, (xa) => weightGrad(dT.data, xa, "out_in", rows, inF, r, buf.data, 1, beta, cd));
    dA = leaf ? null : buf;
  }
  if (dx) {
    if (!a.dropout || a.dropout.p === 0) {
      inputGrad(dT.data, a.A, "out_in", rows, inF, r, dx.data, 1, cd);
    } else {
      const tmp = Tensor.empty(x.shape);
      inputGrad(dT.data, a.A, "out_in", rows, inF, r, tmp.data, 0, cd);
      backend().dropout(tmp.data, tmp.data, tmp.size, a.dropout.p, a.dropout.seed, 0);
      backend().add(dx.data, tmp.data, dx.data, tmp.size);
      tmp.release();
    }
  }
  dT.release();
  return [dA, dB];
}

/**
 * Batched matrix product over the leading dimensions: a [..., M, K] · b [..., K, N] (with optional
 * transposes of the last two dims of either). Gradients: dA = dC·op(B)ᵀ, dB = op(A)ᵀ·dC (transposed back).
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor<"float32"> {
  assertF32("matmul", a, b);
  if (a.ndim < 2 || a.ndim !== b.ndim) throw new ShapeError(`matmul: ranks of ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const batchShape = a.shape.slice(0, -2);
  if (batchShape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`matmul: batch dims differ: ${fmtShape(a.shape)} vs ${fmtShape(b.shape)}`);
  }
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new ShapeError(`matmul: inner dims differ: ${fmtShape(a.shape)} vs ${fmtShape(b.shape)}`);
  const count = batchShape.reduce((p, d) => p * d, 1);
  const out = Tensor.empty([...batchShape, M, N]);
  const cd = computeDtype();
  bmm(f32(a), transA, ac, f32(b), transB, bc, out.data, N, M, N, K, count, ar * ac, br * bc, M * N, cd);
  return record("matmul", out, [a, b], [a, b], (d) => {
    let da: Tensor<"float32"> | null = null;
    let db: Tensor<"float32"> | null = null;
    if (a.requiresGrad) {
      // dA = dC·op(B)ᵀ, stored transposed when A was.
      da = Tensor.empty(a.shape);
      if (transA) bmm(f32(b), transB, bc, d.data, true, N, da.data, ac, K, M, N, count, br * bc, M * N, ar * ac, cd);
      else bmm(d.data, false, N, f32(b), !transB, bc, da.data, ac, M, K, N, count, M * N, br * bc, ar * ac, cd);
    }
    if (b.requiresGrad) {
      // dB = op(A)ᵀ·dC, stored transposed when B was.
      db = Tensor.empty(b.shape);
      if (transB) bmm(d.data, true, N, f32(a), transA, ac, db.data, bc, N, K, M, count, M * N, ar * ac, br * bc, cd);
      else bmm(f32(a), !transA, ac, d.data, false, N, db.data, bc, K, N, M, count, ar * ac, M * N, br * bc, cd);
    }
    return [da, db];
  });
}

function bmm(
  a: Float32Array, transA: boolean, lda: number,
  b: Float32Array, transB: boolean, ldb: number,
  c: Float32Array, ldc: number,
  M: number, N: number, K: number,
  count: number, strideA: number, strideB: number, strideC: number,
  cd: ComputeDtype,
): void {
  backend().gemm({
    M, N, K, transA, transB, a, aOffset: 0, lda, b: { kind: "f32", data: b, offset: 0, ld: ldb },
    c, cOffset: 0, ldc, alpha: 1, beta: 0, batch: { count, strideA, strideB, strideC }, computeDtype: cd,
  });
}
