// Elementwise ops over equal shapes, row-vector broadcasts, and sum (tests and reductions).

import { Tensor } from "../tensor/tensor.ts";
import { leafGradTarget, record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import { assertF32, assertSameShape, f32, lastDim, rowsOf } from "./util.ts";

export function add(a: Tensor, b: Tensor): Tensor<"float32"> {
  assertF32("add", a, b);
  assertSameShape("add", a, b);
  const out = Tensor.empty(a.shape);
  backend().add(f32(a), f32(b), out.data, a.size);
  return record("add", out, [a, b], [], (d) => [d, d]);
}

export function mul(a: Tensor, b: Tensor): Tensor<"float32"> {
  assertF32("mul", a, b);
  assertSameShape("mul", a, b);
  const out = Tensor.empty(a.shape);
  backend().mul(f32(a), f32(b), out.data, a.size);
  return record("mul", out, [a, b], [a, b], (d) => [
    a.requiresGrad ? product(d, b) : null,
    b.requiresGrad ? product(d, a) : null,
  ]);
}

function product(a: Tensor, b: Tensor): Tensor<"float32"> {
  const out = Tensor.empty(a.shape);
  backend().mul(f32(a), f32(b), out.data, a.size);
  return out;
}

export function scale(a: Tensor, s: number): Tensor<"float32"> {
  assertF32("scale", a);
  const out = Tensor.empty(a.shape);
  backend().scale(f32(a), s, out.data, a.size);
  return record("scale", out, [a], [], (d) => {
    const g = Tensor.empty(a.shape);
    backend().scale(d.data, s, g.data, a.size);
    return [g];
  });
}

/** x [..., C] + v [C] */
export function addRowVector(x: Tensor, v: Tensor): Tensor<"float32"> {
  assertF32("addRowVector", x, v);
  const C = lastDim(x);
  if (v.size !== C) throw new Error(`addRowVector: vector has ${v.size} elements, rows have ${C}`);
  const out = Tensor.empty(x.shape);
  backend().addRowVector(f32(x), f32(v), out.data, rowsOf(x), C);
  return record("addRowVector", out, [x, v], [], (d) => [d, v.requiresGrad ? sumRowsInto(v, d) : null]);
}

/** x [..., C] · v [C] */
export function mulRowVector(x: Tensor, v: Tensor): Tensor<"float32"> {
  assertF32("mulRowVector", x, v);
  const C = lastDim(x);
  if (v.size !== C) throw new Error(`mulRowVector: vector has ${v.size} elements, rows have ${C}`);
  const out = Tensor.empty(x.shape);
  backend().mulRowVector(f32(x), f32(v), out.data, rowsOf(x), C);
  return record("mulRowVector", out, [x, v], [x, v], (d) => {
    let dx: Tensor<"float32"> | null = null;
    if (x.requiresGrad) {
      dx = Tensor.empty(x.shape);
      backend().mulRowVector(d.data, f32(v), dx.data, rowsOf(x), C);
    }
    let dv: Tensor<"float32"> | null = null;
    if (v.requiresGrad) {
      const xd = product(d, x);
      dv = sumRowsInto(v, xd);
      xd.release();
    }
    return [dx, dv];
  });
}

/** Σ_rows g into v's leaf grad (returns null) or into a new tensor. */
export function sumRowsInto(v: Tensor, g: Tensor<"float32">): Tensor<"float32"> | null {
  const C = v.size;
  const target = leafGradTarget(v);
  if (target) {
    backend().sumRows(g.data, target.data, g.size / C, C, true);
    return null;
  }
  const out = Tensor.empty(v.shape);
  backend().sumRows(g.data, out.data, g.size / C, C, false);
  return out;
}

/** Sum of all elements (float64 accumulation), a scalar. */
export function sum(x: Tensor): Tensor<"float32"> {
  assertF32("sum", x);
  const out = Tensor.empty([]);
  const d = f32(x);
  let acc = 0;
  for (let i = 0; i < x.size; i++) acc += d[i]!;
  out.data[0] = acc;
  return record("sum", out, [x], [], (dOut) => {
    const g = Tensor.empty(x.shape);
    g.data.fill(dOut.data[0]!);
    return [g];
  });
}
