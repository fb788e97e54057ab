// Test utilities: seeded random tensors, backend switching, finite-difference gradient checks.

import assert from "node:assert/strict";
import { Tensor } from "../src/tensor/tensor.ts";
import { setFloat64Oracle } from "../src/tensor/storage.ts";
import { setBackend, nativeAvailable, type BackendName } from "../src/backend/index.ts";
import { backward } from "../src/autograd/engine.ts";
import { Rng } from "../src/util/random.ts";

export const backendsUnderTest: BackendName[] = nativeAvailable() ? ["js", "native"] : ["js"];

export function randn(rng: Rng, shape: number[], scale = 1, requiresGrad = false): Tensor<"float32"> {
  const t = Tensor.zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * scale;
  t.requiresGrad = requiresGrad;
  return t;
}

/** Runs fn with the js backend computing in float64 end to end. */
export function inFloat64<T>(fn: () => T): T {
  setBackend("js");
  setFloat64Oracle(true);
  try {
    return fn();
  } finally {
    setFloat64Oracle(false);
  }
}

/** Largest |a − b| / max(|b|max, floor). */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  assert.equal(a.length, b.length, "lengths differ");
  let maxAbs = floor;
  for (let i = 0; i < b.length; i++) maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst / maxAbs;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string, mode: "rel" | "abs" = "rel"): void {
  const d = mode === "rel" ? maxRelDiff(actual, expected) : maxAbsDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max ${mode} diff ${d.toExponential(3)} > ${tol}`);
}

/**
 * Checks backward of `f` against central differences in float64: loss = Σ f(inputs) ⊙ R for a fixed
 * random R, so every output element's gradient path is exercised.
 */
export function gradCheck(
  name: string,
  inputs: Tensor<"float32">[],
  f: (...xs: Tensor<"float32">[]) => Tensor,
  tol = 1e-6,
  eps = 1e-6,
): void {
  inFloat64(() => {
    const rng = new Rng(7);
    const xs = inputs.map((t) => {
      const c = Tensor.zeros(t.shape);
      c.data.set(t.data);
      c.requiresGrad = t.requiresGrad;
      return c;
    });
    const probe = f(...xs);
    const R = Array.from({ length: probe.size }, () => rng.normal());
    const lossOf = (): number => {
      const y = f(...xs);
      const d = y.data as Float32Array;
      let s = 0;
      for (let i = 0; i < y.size; i++) s += d[i]! * R[i]!;
      return s;
    };
    const y = f(...xs);
    backward(y, Tensor.from("float32", Float64Array.from(R) as unknown as Float32Array, y.shape));
    xs.forEach((x, xi) => {
      if (!x.requiresGrad) return;
      const analytic = x.grad!.data;
      const numeric = new Float64Array(x.size);
      const d = x.data;
      for (let i = 0; i < x.size; i++) {
        const orig = d[i]!;
        d[i] = orig + eps;
        const up = lossOf();
        d[i] = orig - eps;
        const down = lossOf();
        d[i] = orig;
        numeric[i] = (up - down) / (2 * eps);
      }
      const diff = maxRelDiff(analytic, numeric, 1e-3);
      assert.ok(diff <= tol, `${name}: input ${xi} gradient differs from finite differences by ${diff.toExponential(3)} (rel)`);
    });
  });
}
