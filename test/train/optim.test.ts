// Optimizers, schedules and clipping against hand-computed torch / transformers values.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/tensor.ts";
import { AdamW, SGD, clipGradNorm, gradNorm, lrAt, type Schedule } from "../../src/optim/index.ts";
import { Rng } from "../../src/util/random.ts";

const close = (a: number, b: number, tol = 1e-12, what = "") => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

function param(values: number[], grad?: number[]): [string, Tensor<"float32">] {
  const p = Tensor.fromArray(values);
  p.requiresGrad = true;
  if (grad) p.grad = Tensor.fromArray(grad);
  return [`p${values.length}`, p];
}

describe("lr schedules (transformers get_scheduler)", () => {
  const base = { lr: 1e-3, warmupSteps: 10, totalSteps: 100 };
  it("linear warmup then linear decay", () => {
    const s: Schedule = { name: "linear", ...base };
    close(lrAt(0, s), 0);
    close(lrAt(5, s), 5e-4);
    close(lrAt(10, s), 1e-3);
    close(lrAt(55, s), 1e-3 * (45 / 90));
    close(lrAt(99, s), 1e-3 / 90);
    close(lrAt(100, s), 0);
    close(lrAt(120, s), 0);
  });
  it("cosine with warmup", () => {
    const s: Schedule = { name: "cosine", ...base };
    close(lrAt(3, s), 3e-4);
    close(lrAt(10, s), 1e-3);
    close(lrAt(40, s), 7.5e-4, 1e-15); // progress 1/3: 0.5·(1 + cos(π/3))
    close(lrAt(55, s), 5e-4, 1e-15);
    close(lrAt(70, s), 2.5e-4, 1e-15);
    close(lrAt(100, s), 0, 1e-15);
  });
  it("constant with warmup, and no warmup", () => {
    close(lrAt(1, { name: "constant", lr: 2e-4, warmupSteps: 4, totalSteps: 10 }), 0.5e-4);
    close(lrAt(4, { name: "constant", lr: 2e-4, warmupSteps: 4, totalSteps: 10 }), 2e-4);
    close(lrAt(0, { name: "linear", lr: 2e-4, warmupSteps: 0, totalSteps: 10 }), 2e-4);
    close(lrAt(5, { name: "linear", lr: 2e-4, warmupSteps: 0, totalSteps: 10 }), 1e-4);
  });
});

describe("SGD (torch.optim.SGD)", () => {
  const grads = [1, 2, -1];
  function runSgd(o: ConstructorParameters<typeof SGD>[1]): number[] {
    const [name, p] = param([1]);
    const opt = new SGD([[name, p]], o);
    return grads.map((g) => {
      p.grad = Tensor.fromArray([g]);
      opt.step();
      return p.data[0]!;
    });
  }
  it("momentum 0.9", () => {
    const w = runSgd({ lr: 0.1, momentum: 0.9 });
    [0.9, 0.61, 0.449].forEach((e, i) => close(w[i]!, e, 1e-6, `step ${i + 1}`));
  });
  it("Nesterov", () => {
    const w = runSgd({ lr: 0.1, momentum: 0.9, nesterov: true });
    [0.81, 0.349, 0.3041].forEach((e, i) => close(w[i]!, e, 1e-6, `step ${i + 1}`));
  });
  it("weight decay and dampening (the first buffer is the undampened gradient)", () => {
    const w = runSgd({ lr: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1 });
    [0.89, 0.68655].forEach((e, i) => close(w[i]!, e, 1e-6, `step ${i + 1}`));
  });
  it("plain SGD", () => {
    const w = runSgd({ lr: 0.5 });
    [0.5, -0.5, 0].forEach((e, i) => close(w[i]!, e, 1e-7, `step ${i + 1}`));
  });
  it("rejects Nesterov without momentum", () => {
    assert.throws(() => new SGD([param([1])], { lr: 0.1, nesterov: true }), /Nesterov/);
  });
});

describe("clip_grad_norm_", () => {
  it("returns the norm before clipping and scales by max/(norm + 1e-6)", () => {
    const a = param([0, 0], [3, 4]);
    const b = param([0], [12]);
    const total = clipGradNorm([a, b], 1);
    close(total, 13);
    const coef = Math.fround(1 / (13 + 1e-6));
    close(a[1].grad!.data[0]!, Math.fround(3 * coef), 1e-7);
    close(b[1].grad!.data[0]!, Math.fround(12 * coef), 1e-7);
    close(gradNorm([a, b]), 1, 1e-6);
  });
  it("leaves gradients alone under the limit", () => {
    const a = param([0, 0], [3, 4]);
    close(clipGradNorm([a], 10), 5);
    assert.deepEqual([...a[1].grad!.data], [3, 4]);
  });
  it("reports a non-finite norm", () => {
    const a = param([0, 0], [NaN, 4]);
    assert.ok(!Number.isFinite(clipGradNorm([a], 1)));
  });
});

describe("AdamW", () => {
  it("one step by hand: decoupled decay, bias correction, eps outside the sqrt", () => {
    const [n, p] = param([1, -2], [0.5, -0.25]);
    const opt = new AdamW([[n, p]], { lr: 0.1, weightDecay: 0.1 });
    opt.step();
    // step 1: m̂ = g, v̂ = g², update = lr · g / (|g| + eps) ≈ lr · sign(g)
    close(p.data[0]!, Math.fround(1 * (1 - 0.01) - 0.1 * (0.5 / (0.5 + 1e-8))), 1e-7);
    close(p.data[1]!, Math.fround(-2 * (1 - 0.01) + 0.1 * (0.25 / (0.25 + 1e-8))), 1e-7);
  });
  it("skips parameters without a gradient, as torch", () => {
    const a = param([1]);
    const b = param([1, 1], [1, 1]);
    const opt = new AdamW([a, b], { lr: 0.1 });
    opt.step();
    assert.equal(a[1].data[0], 1);
    assert.equal((opt.state().json.steps as Record<string, number>)[a[0]], 0);
  });
  it("state round trip continues bit for bit", () => {
    const rng = new Rng(3);
    const make = () => {
      const p = Tensor.zeros([5]);
      p.requiresGrad = true;
      for (let i = 0; i < 5; i++) p.data[i] = i / 5;
      return p;
    };
    const grads = Array.from({ length: 6 }, () => Tensor.fromArray(Array.from({ length: 5 }, () => rng.normal())));
    const pa = make();
    const oa = new AdamW([["w", pa]], { lr: 0.01 });
    for (let s = 0; s < 3; s++) {
      pa.grad = grads[s]!;
      oa.step();
    }
    const st = oa.state();
    const pb = Tensor.zeros([5]);
    pb.requiresGrad = true;
    pb.data.set(pa.data);
    const ob = new AdamW([["w", pb]], { lr: 0.5 });
    ob.loadState(new Map(st.tensors.map(([k, t]) => [k, Tensor.from("float32", Float32Array.from(t.data as Float32Array), t.shape)])), JSON.parse(JSON.stringify(st.json)));
    for (let s = 3; s < 6; s++) {
      pa.grad = grads[s]!;
      pb.grad = grads[s]!;
      oa.step();
      ob.step();
    }
    assert.deepEqual([...pb.data], [...pa.data]);
  });
});
