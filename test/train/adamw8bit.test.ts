// 8-bit AdamW: the dynamic maps against bitsandbytes' stored map, quantize_2D's rules on hand-picked
// values, one step worked by hand, the native kernel against the TypeScript reference bit for bit (odd
// sizes, partial blocks, non-finite gradients, with and without weight decay), the optimizer's 32-bit path
// for small tensors, and a state that saves and restores bit for bit.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.ts";
import { AdamW8bit, adamw8bitStateBytes } from "../../src/optim/index.ts";
import { createDynamicMap, DYNAMIC_SIGNED, DYNAMIC_UNSIGNED } from "../../src/optim/dynamic-map.ts";
import { adamw8bitRef, quantize2dRef, ADAMW8BIT_BLOCK } from "../../src/backend/js/adamw8bit.ts";
import { DYNAMIC_MAP } from "../../src/quant/codebooks.ts";
import { jsBackend } from "../../src/backend/js/index.ts";
import { loadNativeBackend } from "../../src/backend/native/index.ts";
import { setBackend } from "../../src/backend/index.ts";
import type { Adamw8bitStep } from "../../src/backend/kernels.ts";
import { identical, randn } from "../backend/kernel-cases.ts";

const native = loadNativeBackend();
if (native instanceof Error) throw native;

const fround = Math.fround;

/** Step constants as AdamW8bit forms them (lr 1e-3, betas 0.9 / 0.999, eps 1e-8). */
function constants(t: number, weightDecay = 0): Adamw8bitStep {
  const p = Tensor.zeros([1]);
  p.requiresGrad = true;
  const opt = new AdamW8bit([["p", p]], { lr: 1e-3, weightDecay });
  return (opt as unknown as { constants(t: number): Adamw8bitStep }).constants(t);
}

describe("dynamic maps (create_dynamic_map)", () => {
  it("the signed map is bitsandbytes' stored one, bit for bit", () => {
    identical(createDynamicMap(true), DYNAMIC_MAP, "signed map");
  });
  it("the unsigned map: 0, 254 increasing positive values, 1", () => {
    const u = DYNAMIC_UNSIGNED;
    assert.equal(u.length, 256);
    assert.equal(u[0], 0);
    assert.equal(u[255], 1);
    for (let i = 1; i < 256; i++) assert.ok(u[i]! > u[i - 1]!, `increasing at ${i}`);
    // exponent group i holds 2^(i+1) midpoints in [0.1, 1) · 10^(i−6)
    for (let i = 0; i < 7; i++) {
      const lo = 0.1 * 10 ** (i - 6), hi = 10 ** (i - 6);
      assert.equal(Array.from(u).filter((x) => x > lo && x < hi).length, 2 ** (i + 1), `group ${i}`);
    }
  });
});

describe("quantize_2D", () => {
  it("maps each map value to itself, and the ends and NaN as bitsandbytes", () => {
    for (const [map, signed] of [[DYNAMIC_SIGNED, true], [DYNAMIC_UNSIGNED, false]] as const) {
      for (let i = 0; i < 256; i++) assert.equal(quantize2dRef(map, signed, map[i]!), i, `${signed ? "signed" : "unsigned"} value ${i}`);
      assert.equal(quantize2dRef(map, signed, 1), 255);
      assert.equal(quantize2dRef(map, signed, NaN), 0);
    }
    assert.equal(quantize2dRef(DYNAMIC_SIGNED, true, -1), 0);
  });
  it("rounds at the float32 midpoint, a tie keeping the pivot the search ended on", () => {
    const m = DYNAMIC_SIGNED;
    // 200 and 201: the search for values between them ends on pivot 200 (an even index)
    const mid = fround(fround(m[200]! + m[201]!) * 0.5);
    const next = (x: number, d: number) => {
      const f = new Float32Array([x]);
      const b = new Int32Array(f.buffer);
      b[0]! += d;
      return f[0]!;
    };
    assert.equal(quantize2dRef(m, true, mid), 200);
    assert.equal(quantize2dRef(m, true, next(mid, 1)), 201);
    assert.equal(quantize2dRef(m, true, next(mid, -1)), 200);
  });
});

describe("8-bit AdamW step", () => {
  it("first step from zero state: θ − lr·sign(g), codes at the ends of the maps, absmax = |m|, v", () => {
    const n = 300; // one full block and a partial one
    const g = randn(n, 0.1);
    const p0 = randn(n);
    const p = p0.slice();
    const [s1, s2] = [new Uint8Array(n), new Uint8Array(n)];
    const [a1, a2] = [new Float32Array(2), new Float32Array(2)];
    adamw8bitRef(p, g, s1, s2, a1, a2, n, constants(1));
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(p[i]! - (p0[i]! - 1e-3 * Math.sign(g[i]!))) < 1e-6, `param ${i}`);
    }
    for (let b = 0; b < 2; b++) {
      const block = Array.from(g.subarray(b * ADAMW8BIT_BLOCK, (b + 1) * ADAMW8BIT_BLOCK));
      const gmax = Math.max(...block.map(Math.abs));
      assert.equal(a1[b], fround(fround(1 - fround(0.9)) * gmax));
      assert.equal(a2[b], fround(fround(fround(1 - fround(0.999)) * gmax) * gmax));
      const top = block.findIndex((x) => Math.abs(x) === gmax) + b * ADAMW8BIT_BLOCK;
      assert.equal(s1[top], g[top]! > 0 ? 255 : 0);
      assert.equal(s2[top], 255);
    }
  });

  it("native kernel = reference, bit for bit, over several steps", () => {
    for (const n of [1, 255, 256, 257, 4099, 70001]) {
      for (const wd of [0, 0.01]) {
        const init = randn(n);
        const pE = init.slice(), pO = init.slice();
        const blocks = Math.ceil(n / 256);
        const e = { s1: new Uint8Array(n), s2: new Uint8Array(n), a1: new Float32Array(blocks), a2: new Float32Array(blocks) };
        const o = { s1: new Uint8Array(n), s2: new Uint8Array(n), a1: new Float32Array(blocks), a2: new Float32Array(blocks) };
        for (let t = 1; t <= 6; t++) {
          const g = randn(n, t === 3 ? 1e-30 : 0.05); // step 3: tiny gradients, subnormal v
          if (t === 4) for (let i = 0; i < n; i += 97) g[i] = [NaN, Infinity, -Infinity, 0][i % 4]!;
          if (t === 5 && n > 256) g.fill(0, 0, 256); // a block of zero gradients
          const k = constants(t, wd);
          jsBackend.adamw8bit(pE, g, e.s1, e.s2, e.a1, e.a2, n, k);
          native.adamw8bit(pO, g, o.s1, o.s2, o.a1, o.a2, n, k);
        }
        const what = `n=${n} wd=${wd}`;
        identical(pO, pE, `${what} param`);
        identical(o.s1, e.s1, `${what} state1`);
        identical(o.s2, e.s2, `${what} state2`);
        identical(o.a1, e.a1, `${what} absmax1`);
        identical(o.a2, e.a2, `${what} absmax2`);
      }
    }
  });

  it("keeps a parameter whose gradient is not finite, and resets its moments", () => {
    const n = 8;
    const p = Float32Array.from({ length: n }, (_, i) => i);
    const [s1, s2, a1, a2] = [new Uint8Array(n), new Uint8Array(n), new Float32Array(1), new Float32Array(1)];
    adamw8bitRef(p, Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1]), s1, s2, a1, a2, n, constants(1));
    const before = p.slice();
    adamw8bitRef(p, Float32Array.from([NaN, 1, Infinity, 1, 1, 1, 1, 1]), s1, s2, a1, a2, n, constants(2));
    assert.equal(p[0], before[0]);
    assert.equal(p[2], before[2]);
    assert.notEqual(p[1], before[1]);
    assert.equal(DYNAMIC_UNSIGNED[s2[0]!]! * a2[0]!, 0, "v reset");
  });
});

describe("AdamW8bit optimizer", () => {
  function params(): [string, Tensor][] {
    const mk = (name: string, shape: number[]): [string, Tensor] => {
      const t = Tensor.from("float32", randn(shape.reduce((a, b) => a * b, 1)), shape);
      t.requiresGrad = true;
      return [name, t];
    };
    return [mk("big", [70, 90]), mk("small", [31])];
  }

  it("holds ≈ 2 bytes per element for large tensors, float32 states under min_8bit_size", () => {
    assert.equal(adamw8bitStateBytes(6300), 2 * 6300 + 8 * 25);
    assert.equal(adamw8bitStateBytes(31), 8 * 31);
    const st = new AdamW8bit(params(), { lr: 1e-3 }).state();
    const dtypes = Object.fromEntries(st.tensors.map(([n, t]) => [n, `${t.dtype}[${t.shape.join(",")}]`]));
    assert.deepEqual(dtypes, {
      "state1.big": "uint8[70,90]", "state2.big": "uint8[70,90]", "absmax1.big": "float32[25]", "absmax2.big": "float32[25]",
      "state1.small": "float32[31]", "state2.small": "float32[31]",
    });
  });

  it("the small tensors follow bitsandbytes' 32-bit Adam: decay after the update, ε scaled by √(1 − β2^t)", () => {
    const p = params()[1]![1];
    const x0 = (p.data as Float32Array)[0]!;
    const g = 0.3;
    p.grad = Tensor.fromArray(Array.from({ length: 31 }, () => g));
    new AdamW8bit([["small", p]], { lr: 0.1, weightDecay: 0.5 }).step();
    const c2 = fround(Math.sqrt(fround(1 - fround(fround(0.999) ** 1))));
    const m = fround(fround(1 - fround(0.9)) * g);
    const v = fround(fround(1 - fround(0.999)) * fround(g * g));
    const stepSize = fround(fround(-fround(0.1) * c2) / fround(1 - fround(0.9)));
    const upd = fround(x0 + fround(stepSize * fround(m / fround(fround(Math.sqrt(v)) + fround(fround(1e-8) * c2)))));
    assert.equal(p.data[0], fround(upd * fround(1 - fround(fround(0.1) * fround(0.5)))));
  });

  it("saves and restores its state bit for bit: a restored optimizer continues exactly", () => {
    for (const be of ["js", "native"] as const) {
      setBackend(be);
      const a = params();
      const b = a.map(([n, t]) => [n, Tensor.from("float32", (t.data as Float32Array).slice(), t.shape)] as [string, Tensor]);
      for (const [, t] of b) t.requiresGrad = true;
      const grads = Array.from({ length: 6 }, () => a.map(([, t]) => Tensor.from("float32", randn(t.size, 0.1), t.shape)));
      const oa = new AdamW8bit(a, { lr: 1e-2, weightDecay: 0.01 });
      for (let s = 0; s < 3; s++) {
        a.forEach(([, t], i) => (t.grad = grads[s]![i]!));
        oa.step();
      }
      b.forEach(([, t], i) => (t.data as Float32Array).set(a[i]![1].data as Float32Array));
      const st = oa.state();
      const saved = new Map(st.tensors.map(([k, t]) => [k, Tensor.from(t.dtype as "uint8", (t.data as Uint8Array).slice(), t.shape)]));
      const ob = new AdamW8bit(b, { lr: 0.5, weightDecay: 0.01 });
      ob.loadState(saved, JSON.parse(JSON.stringify(st.json)));
      for (let s = 3; s < 6; s++) {
        a.forEach(([, t], i) => (t.grad = grads[s]![i]!));
        b.forEach(([, t], i) => (t.grad = grads[s]![i]!));
        oa.step();
        ob.step();
      }
      a.forEach(([n, t], i) => identical(b[i]![1].data, t.data, `${be} ${n}`));
      const sa = oa.state(), sb = ob.state();
      sa.tensors.forEach(([n, t], i) => identical(sb.tensors[i]![1].data, t.data, `${be} state ${n}`));
      assert.throws(() => ob.loadState(saved, { ...st.json, type: "adamw" }), /not adamw8bit/);
      assert.throws(() => ob.loadState(new Map([...saved].filter(([k]) => k !== "absmax2.big")), st.json), /absmax2.big" is missing/);
    }
    setBackend("native");
  });
});
