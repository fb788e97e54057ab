// Reference activations: SiLU, GELU (erf and tanh forms), SwiGLU, GeGLU, the tanh soft cap; each with its derivative.

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_A = 0.044715;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export function silu(x: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = x[i]! * sigmoid(x[i]!);
}

/** d silu / dx = s · (1 + x · (1 − s)) */
export function siluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = sigmoid(x[i]!);
    dx[i] = dy[i]! * s * (1 + x[i]! * (1 - s));
  }
}

export function swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = gate[i]! * sigmoid(gate[i]!) * up[i]!;
}

export function swigluBackward(
  gate: Float32Array,
  up: Float32Array,
  dy: Float32Array,
  dGate: Float32Array,
  dUp: Float32Array,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i]!;
    const s = sigmoid(g);
    const d = dy[i]!;
    const u = up[i]!;
    dUp[i] = d * g * s;
    dGate[i] = d * u * s * (1 + g * (1 - s));
  }
}

/** erf to ~1e-15: Taylor series near 0, continued fraction for erfc in the tails. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let k = 1; k < 100; k++) {
      term *= -x2 / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

function geluValue(v: number, approximate: "none" | "tanh"): number {
  return approximate === "tanh"
    ? 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_TANH_A * v * v * v)))
    : 0.5 * v * (1 + erf(v / Math.SQRT2));
}

function geluGrad(v: number, approximate: "none" | "tanh"): number {
  if (approximate === "tanh") {
    const t = Math.tanh(SQRT_2_OVER_PI * (v + GELU_TANH_A * v * v * v));
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_A * v * v);
  }
  return 0.5 * (1 + erf(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
}

export function gelu(x: Float32Array, out: Float32Array, n: number, approximate: "none" | "tanh"): void {
  for (let i = 0; i < n; i++) out[i] = geluValue(x[i]!, approximate);
}

export function geluBackward(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  n: number,
  approximate: "none" | "tanh",
): void {
  for (let i = 0; i < n; i++) dx[i] = dy[i]! * geluGrad(x[i]!, approximate);
}

export function geglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number, approximate: "none" | "tanh"): void {
  for (let i = 0; i < n; i++) out[i] = geluValue(gate[i]!, approximate) * up[i]!;
}

/** ∂/∂up = gelu(gate), ∂/∂gate = up · gelu'(gate) */
export function gegluBackward(
  gate: Float32Array,
  up: Float32Array,
  dy: Float32Array,
  dGate: Float32Array,
  dUp: Float32Array,
  n: number,
  approximate: "none" | "tanh",
): void {
  for (let i = 0; i < n; i++) {
    const d = dy[i]!;
    const g = gate[i]!;
    const u = up[i]!;
    dUp[i] = d * geluValue(g, approximate);
    dGate[i] = d * u * geluGrad(g, approximate);
  }
}

export function softcap(x: Float32Array, out: Float32Array, n: number, cap: number): void {
  for (let i = 0; i < n; i++) out[i] = cap * Math.tanh(x[i]! / cap);
}

/** d/dx c·tanh(x/c) = 1 − tanh², from the output as torch's tanh backward takes it. */
export function softcapBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, n: number, cap: number): void {
  for (let i = 0; i < n; i++) {
    const t = y[i]! / cap;
    dx[i] = dy[i]! * (1 - t * t);
  }
}
