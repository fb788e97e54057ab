// Shared checks for ops: shapes are validated here, so kernels can trust them.

import { fmtShape, ShapeError, type Tensor } from "../tensor/tensor.ts";

export function assertF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== "float32") throw new ShapeError(`${op}: expected float32, got ${t.dtype} ${fmtShape(t.shape)}`);
}

export function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: shapes differ: ${fmtShape(a.shape)} vs ${fmtShape(b.shape)}`);
  }
}

export function lastDim(t: Tensor): number {
  return t.shape[t.shape.length - 1] ?? 1;
}

/** Rows of a tensor seen as [rows, lastDim]. */
export function rowsOf(t: Tensor): number {
  const c = lastDim(t);
  return c === 0 ? 0 : t.size / c;
}

export const f32 = (t: Tensor): Float32Array => t.data as Float32Array;
