// Memory is flat from step 2: after the first step has filled the buffer pool, training steps of the same
// shape allocate nothing new outside it (ArrayBuffer bytes never above step 2's, pooled bytes constant) and the resident set
// shows no growth trend over ten more steps (after a forced GC, allowing allocator noise).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { join } from "node:path";
import { loadModel } from "../../src/models/index.ts";
import { fullModel, adapterModel, type TrainableModel } from "../../src/train/model.ts";
import { train } from "../../src/train/index.ts";
import { pooledMegabytes } from "../../src/tensor/storage.ts";
import { Rng } from "../../src/util/random.ts";
import { LLAMA, tempDir } from "./helpers.ts";

v8.setFlagsFromString("--expose_gc");
const gc = runInNewContext("gc") as () => void;

interface Sample {
  rss: number;
  arrayBuffers: number;
  pool: number;
}

async function measure(tm: TrainableModel, steps: number): Promise<Sample[]> {
  const rng = new Rng(4);
  const examples = Array.from({ length: 16 }, () => {
    const ids = Int32Array.from({ length: 48 }, () => rng.int(512));
    return { ids, labels: Int32Array.from(ids) };
  });
  const samples: Sample[] = [];
  const onStep = () => {
    gc();
    const m = process.memoryUsage();
    samples.push({ rss: m.rss / 2 ** 20, arrayBuffers: m.arrayBuffers / 2 ** 20, pool: pooledMegabytes() });
  };
  const out = join(tempDir("memory"), "out");
  await train({ model: LLAMA, data: "(in memory)", out, method: tm.method, maxSteps: steps, batchSize: 4, lr: 1e-3, loraDropout: 0.1, logEvery: 1 }, { onStep }, { examples, model: tm, padId: 0 });
  return samples;
}

function assertFlat(samples: Sample[], what: string): void {
  const from2 = samples.slice(1);
  for (const s of from2) {
    assert.ok(s.arrayBuffers - from2[0]!.arrayBuffers < 0.05, `${what}: ArrayBuffer MB ${from2.map((x) => x.arrayBuffers.toFixed(2)).join(" ")}`);
    assert.ok(Math.abs(s.pool - from2[0]!.pool) < 1e-9, `${what}: pooled MB ${from2.map((x) => x.pool.toFixed(2)).join(" ")}`);
  }
  const rss = from2.map((s) => s.rss);
  const half = Math.floor(rss.length / 2);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const trend = mean(rss.slice(half)) - mean(rss.slice(0, half));
  assert.ok(trend < 2 && Math.max(...rss) - rss[0]! < 6, `${what}: RSS MB from step 2 ${rss.map((r) => r.toFixed(1)).join(" ")}`);
}

describe("memory per step", () => {
  it("full fine-tuning: flat from step 2", async () => {
    assertFlat(await measure(fullModel(loadModel(LLAMA, { trainable: true })), 12), "full");
  });
  it("LoRA with dropout: flat from step 2", async () => {
    const a = { model: LLAMA, method: "lora" as const, baseDtype: "float32" as const, loraR: 8, loraAlpha: 16, loraDropout: 0.1, loraTargetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], seed: 0 };
    assertFlat(await measure(await adapterModel(a, loadModel(LLAMA), "lora"), 12), "lora");
  });
});
