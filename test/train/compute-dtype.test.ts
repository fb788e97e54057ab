// computeDtype bfloat16, torch's CPU autocast: every product of a linear layer (its LoRA adapters and the
// fused output head + loss included) asks the GEMM for bf16 operands, forward and backward, and nothing
// else changes; how the GEMM rounds is gemm-bf16.test.ts's subject. The accuracy this gives a training run,
// stated by the loss-curve test: over 50 steps of full fine-tuning, LoRA and QLoRA on the fixture Llama,
// every step's loss stays within 0.5% of the float32 run's (measured: at most 0.13%, 0.22% and 0.10%).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backend, setBackend, nativeAvailable } from "../../src/backend/index.ts";
import type { ComputeDtype, GemmArgs } from "../../src/backend/kernels.ts";
import { nativeAddon } from "../../src/backend/native/index.ts";
import { backward } from "../../src/autograd/engine.ts";
import { loadConfig } from "../../src/models/index.ts";
import * as ops from "../../src/ops/index.ts";
import { bnbQuantizationConfig } from "../../src/quant/bnb.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { normaliseKeys, resolveArgs, readConfigFile } from "../../src/train/args.ts";
import { chooseComputeDtype } from "../../src/train/compute-dtype.ts";
import { train } from "../../src/train/index.ts";
import { Rng } from "../../src/util/random.ts";
import { randn } from "../helpers.ts";
import { LLAMA, runCli, tempDir, writeTextData } from "./helpers.ts";

/** The layout and compute dtype of every product fn issues. */
function productsOf(fn: () => void): string[] {
  const be = backend();
  const gemm = be.gemm;
  const seen: string[] = [];
  (be as { gemm: (a: GemmArgs) => void }).gemm = (a) => {
    seen.push(`${a.transA ? "T" : "N"}${a.transB ? "T" : "N"} ${a.computeDtype ?? "float32"}`);
    gemm(a);
  };
  try {
    fn();
  } finally {
    (be as { gemm: (a: GemmArgs) => void }).gemm = gemm;
  }
  return seen;
}

/** A LoRA linear layer feeding a trainable output head and the fused loss, forward and backward. */
function layerStep(): void {
  const rng = new Rng(3);
  const x = randn(rng, [20, 40], 1, true);
  const w = randn(rng, [30, 40], 0.1, true);
  const a = randn(rng, [4, 40], 0.1, true);
  const b = randn(rng, [30, 4], 0.1, true);
  const head = randn(rng, [50, 30], 0.1, true);
  const h = ops.linear(x, w, null, { adapters: [{ A: a, B: b, scaling: 2 }] });
  const labels = Int32Array.from({ length: 20 }, (_, i) => (i * 7) % 50);
  const loss = ops.linearCrossEntropy(h, head, labels);
  backward(loss, Tensor.scalar(1));
}

function examples(n: number) {
  const rng = new Rng(11);
  return Array.from({ length: n }, () => {
    const ids = Int32Array.from({ length: 32 }, () => rng.int(512));
    return { ids, labels: Int32Array.from(ids) };
  });
}

async function lossCurve(method: "full" | "lora" | "qlora", computeDtype: ComputeDtype): Promise<number[]> {
  const losses: number[] = [];
  const out = join(tempDir(`curve-${method}`), "out");
  await train(
    { model: LLAMA, data: "(in memory)", out, method, maxSteps: 50, batchSize: 4, lr: method === "full" ? 3e-3 : 1e-2, loraR: 8, computeDtype },
    { onStep: (s) => losses.push(s.loss) },
    { examples: examples(16), padId: 0 },
  );
  return losses;
}

describe("compute dtype bfloat16", () => {
  it("every product of linear, its LoRA adapter and the fused head + loss takes bf16 operands, forward and backward", () => {
    setBackend(nativeAvailable() ? "native" : "js");
    const f32 = productsOf(layerStep);
    const bf16 = productsOf(() => ops.withComputeDtype("bfloat16", layerStep));
    // forward: W, A, B, head; backward: dX, dW, LoRA's dT, dB, dA and dX += dT·A, the head's dH and dW
    assert.equal(bf16.length, 12);
    assert.deepEqual(bf16, f32.map((p) => p.replace("float32", "bfloat16")));
    assert.deepEqual(new Set(bf16.map((p) => p.slice(0, 2))), new Set(["NT", "NN", "TN"]));
    assert.equal(ops.computeDtype(), "float32", "the region ends with fn");
  });

  it("50-step loss curves stay within 0.5% of float32 (full fine-tuning, LoRA, QLoRA)", async () => {
    setBackend(nativeAvailable() ? "native" : "js");
    for (const method of ["full", "lora", "qlora"] as const) {
      const f32 = await lossCurve(method, "float32");
      const bf16 = await lossCurve(method, "bfloat16");
      assert.equal(bf16.length, 50);
      const rel = bf16.map((l, i) => Math.abs(l - f32[i]!) / f32[i]!);
      const worst = Math.max(...rel);
      assert.ok(worst <= 5e-3, `${method}: a step's loss differs by ${(100 * worst).toFixed(3)}%`);
      assert.ok(worst > 1e-6, `${method}: bfloat16 changed nothing`);
      assert.ok(bf16.at(-1)! < bf16[0]! - 0.5, `${method}: the bf16 run did not learn (${bf16[0]} → ${bf16.at(-1)})`);
    }
  });
});

describe("choosing the compute dtype", () => {
  const config = loadConfig(LLAMA);
  const bnb = (type: "nf4" | "int8", computeDtype: "float32" | "bfloat16") => ({ ...config, quantizationConfig: bnbQuantizationConfig({ type, computeDtype }) });

  it("the flag decides; without one a bitsandbytes 4-bit model's bnb_4bit_compute_dtype bfloat16 is used, else float32", () => {
    assert.equal(chooseComputeDtype(null, config).dtype, "float32");
    assert.equal(chooseComputeDtype("bfloat16", config).dtype, "bfloat16");
    const asked = chooseComputeDtype(null, bnb("nf4", "bfloat16"));
    assert.equal(asked.dtype, "bfloat16");
    assert.match(asked.notes[0]!, /bnb_4bit_compute_dtype/);
    assert.equal(chooseComputeDtype("float32", bnb("nf4", "bfloat16")).dtype, "float32");
    assert.equal(chooseComputeDtype(null, bnb("nf4", "float32")).dtype, "float32");
    assert.equal(chooseComputeDtype(null, bnb("int8", "bfloat16")).dtype, "float32");
  });

  it("says once when bfloat16 gives no speed: without bf16 dot products, or on the TypeScript backend", () => {
    setBackend("js");
    assert.match(chooseComputeDtype("bfloat16", config).notes.join("\n"), /no speed here: the TypeScript backend/);
    assert.deepEqual(chooseComputeDtype("float32", config).notes, []);
    if (!nativeAvailable()) return;
    setBackend("native");
    const fast = nativeAddon()!.info().isa === "avx512bf16";
    const notes = chooseComputeDtype("bfloat16", config).notes;
    assert.deepEqual(notes.length, fast ? 0 : 1, notes.join("\n"));
    if (!fast) assert.match(notes[0]!, /kernels.*have no bf16 dot products \(AVX512_BF16\)/);
  });

  it("TrainingArgs and config files take computeDtype; bad values name the field", () => {
    assert.equal(resolveArgs({ model: "m", data: "d" }).computeDtype, null);
    assert.throws(() => resolveArgs({ model: "m", data: "d", computeDtype: "float16" } as never), /computeDtype must be one of float32, bfloat16, got "float16"/);
    const yaml = join(tempDir("compute-dtype"), "c.yaml");
    writeFileSync(yaml, "model: m\ndata: d\ncompute_dtype: bfloat16\n");
    const given = readConfigFile(yaml);
    assert.equal(resolveArgs(given.values, given.names).computeDtype, "bfloat16");
    assert.throws(() => normaliseKeys({ bf16: true }, "config file c.yaml"), /"bf16"; peft-ts calls it compute-dtype \(bfloat16: /);
  });

  it("train --compute-dtype bfloat16 trains and records it", async () => {
    const dir = tempDir("compute-dtype-cli");
    const out = join(dir, "out");
    const r = await runCli(["train", "--model", LLAMA, "--data", writeTextData(dir, 8), "--out", out, "--max-steps", "2", "--batch-size", "4", "--compute-dtype", "bfloat16"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(readFileSync(join(out, "training_args.json"), "utf8")).computeDtype, "bfloat16");
    const bad = await runCli(["train", "--model", LLAMA, "--data", "x", "--compute-dtype", "float16"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--compute-dtype.*float16.*float32, bfloat16/s);
  });
});
