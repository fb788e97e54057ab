// Activations: SiLU, GELU (erf or tanh form), the gated products silu(gate)·up (SwiGLU) and gelu(gate)·up
// (GeGLU, Gemma), the tanh soft cap c·tanh(x/c) (Gemma 2's logits), softmax.

import { Tensor } from "../tensor/tensor.ts";
import { record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import { assertF32, assertSameShape, f32, lastDim, rowsOf } from "./util.ts";

export function silu(x: Tensor): Tensor<"float32"> {
  assertF32("silu", x);
  const out = Tensor.empty(x.shape);
  backend().silu(f32(x), out.data, x.size);
  return record("silu", out, [x], [x], (dy) => {
    const dx = Tensor.empty(x.shape);
    backend().siluBackward(f32(x), dy.data, dx.data, x.size);
    return [dx];
  });
}

export function gelu(x: Tensor, approximate: "none" | "tanh" = "none"): Tensor<"float32"> {
  assertF32("gelu", x);
  const out = Tensor.empty(x.shape);
  backend().gelu(f32(x), out.data, x.size, approximate);
  return record("gelu", out, [x], [x], (dy) => {
    const dx = Tensor.empty(x.shape);
    backend().geluBackward(f32(x), dy.data, dx.data, x.size, approximate);
    return [dx];
  });
}

export function swiglu(gate: Tensor, up: Tensor): Tensor<"float32"> {
  assertF32("swiglu", gate, up);
  assertSameShape("swiglu", gate, up);
  const out = Tensor.empty(gate.shape);
  backend().swiglu(f32(gate), f32(up), out.data, gate.size);
  return record("swiglu", out, [gate, up], [gate, up], (dy) => {
    const dGate = Tensor.empty(gate.shape);
    const dUp = Tensor.empty(up.shape);
    backend().swigluBackward(f32(gate), f32(up), dy.data, dGate.data, dUp.data, gate.size);
    return [gate.requiresGrad ? dGate : (dGate.release(), null), up.requiresGrad ? dUp : (dUp.release(), null)];
  });
}

export function geglu(gate: Tensor, up: Tensor, approximate: "none" | "tanh" = "tanh"): Tensor<"float32"> {
  assertF32("geglu", gate, up);
  assertSameShape("geglu", gate, up);
  const out = Tensor.empty(gate.shape);
  backend().geglu(f32(gate), f32(up), out.data, gate.size, approximate);
  return record("geglu", out, [gate, up], [gate, up], (dy) => {
    const dGate = Tensor.empty(gate.shape);
    const dUp = Tensor.empty(up.shape);
    backend().gegluBackward(f32(gate), f32(up), dy.data, dGate.data, dUp.data, gate.size, approximate);
    return [gate.requiresGrad ? dGate : (dGate.release(), null), up.requiresGrad ? dUp : (dUp.release(), null)];
  });
}

/**
 * silu(gate)·up where gate and up are the two halves of each row of x [rows, 2I] (Phi-3's gate_up_proj):
 * no split copies, and one [rows, 2I] gradient.
 */
export function swigluHalves(x: Tensor): Tensor<"float32"> {
  assertF32("swigluHalves", x);
  const W = lastDim(x);
  if (W % 2 !== 0) throw new Error(`swigluHalves: rows of ${W} do not split in halves`);
  const I = W / 2;
  const rows = rowsOf(x);
  const out = Tensor.empty([...x.shape.slice(0, -1), I]);
  const xs = f32(x);
  for (let r = 0; r < rows; r++) backend().swiglu(xs.subarray(r * W, r * W + I), xs.subarray(r * W + I, (r + 1) * W), out.data.subarray(r * I, (r + 1) * I), I);
  return record("swigluHalves", out, [x], [x], (dy) => {
    const dx = Tensor.empty(x.shape);
    for (let r = 0; r < rows; r++) {
      const row = (a: Float32Array, h: number) => a.subarray(r * W + h * I, r * W + (h + 1) * I);
      backend().swigluBackward(row(xs, 0), row(xs, 1), dy.data.subarray(r * I, (r + 1) * I), row(dx.data, 0), row(dx.data, 1), I);
    }
    return [dx];
  });
}

/** cap·tanh(x / cap); backward from the output (1 − (y/cap)²), so only y is kept. */
export function softcap(x: Tensor, cap: number): Tensor<"float32"> {
  assertF32("softcap", x);
  if (!(cap > 0)) throw new Error(`softcap: cap must be positive, got ${cap}`);
  const out = Tensor.empty(x.shape);
  backend().softcap(f32(x), out.data, x.size, cap);
  return record("softcap", out, [x], [out], (dy) => {
    const dx = Tensor.empty(x.shape);
    backend().softcapBackward(out.data, dy.data, dx.data, x.size, cap);
    return [dx];
  });
}

export function softmax(x: Tensor): Tensor<"float32"> {
  assertF32("softmax", x);
  const out = Tensor.empty(x.shape);
  const rows = rowsOf(x);
  const C = lastDim(x);
  backend().softmax(f32(x), out.data, rows, C);
  return record("softmax", out, [x], [out], (dy) => {
    const dx = Tensor.empty(x.shape);
    backend().softmaxBackward(out.data, dy.data, dx.data, rows, C);
    return [dx];
  });
}
