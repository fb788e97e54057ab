// Weights built straight into their held form: a random checkpoint written shard by shard loads back as
// written; layers quantized while streaming from the file equal the same layers quantized from whole
// tensors, bit for bit; random weights generated a run at a time equal the whole-matrix ones; the streamed
// writers produce the bytes the ordinary writers do; quantized embedding tables read as their floats.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildModel, loadModel, RandomWeights, type CausalLM } from "../../src/models/index.ts";
import { PRESETS, presetConfig } from "../../src/models/presets.ts";
import { CheckpointReader, writeCheckpoint, writeCheckpointStreamed, writeSafetensors, writeSafetensorsStreamed } from "../../src/io/index.ts";
import { checkpointTensors, writeRandomCheckpoint } from "../../src/bench/random-checkpoint.ts";
import { dequantizeTensor, quantizeTensor, QuantizedTensor, isNested } from "../../src/quant/index.ts";
import type { Embedding, Linear } from "../../src/nn/index.ts";
import { setBackend } from "../../src/backend/index.ts";
import { resolveArgs } from "../../src/train/args.ts";
import { maxRelDiff } from "../helpers.ts";
import { QLORA_QUANTIZATION } from "../../src/train/model.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { f32ArrayToBf16 } from "../../src/tensor/dtype.ts";

const tmp = (p: string) => mkdtempSync(join(tmpdir(), `peft-ts-${p}-`));

function sameQuantized(a: QuantizedTensor, b: QuantizedTensor, what: string): void {
  const x = a.q, y = b.q;
  assert.ok(x.type === "nf4" && y.type === "nf4", what);
  assert.deepEqual(Buffer.from(x.codes), Buffer.from(y.codes), `${what}: codes`);
  assert.ok(isNested(x.absmax) && isNested(y.absmax));
  assert.deepEqual(Buffer.from(x.absmax.codes), Buffer.from(y.absmax.codes), `${what}: absmax codes`);
  assert.deepEqual([...x.absmax.nestedAbsmax], [...y.absmax.nestedAbsmax], `${what}: nested absmax`);
  assert.equal(x.absmax.nestedOffset, y.absmax.nestedOffset, `${what}: offset`);
}

function params(m: CausalLM): Map<string, Tensor | QuantizedTensor> {
  return new Map(m.namedParameters().map(([n, p]) => [n, p as Tensor | QuantizedTensor]));
}

describe("a random checkpoint written shard by shard", () => {
  const dir = join(tmp("random-ckpt"), "tiny");
  writeRandomCheckpoint(dir, { ...PRESETS.tiny!, num_hidden_layers: 2 }, { maxShardBytes: 2 ** 20, seed: 3 });
  const config = presetConfig("tiny", { layers: 2 });

  it("holds every tensor the model reads, in bf16, sharded, with its config", () => {
    assert.ok(readdirSync(dir).filter((f) => f.endsWith(".safetensors")).length > 2);
    const reader = CheckpointReader.open(dir);
    const wanted = checkpointTensors(config);
    assert.deepEqual(reader.names().sort(), wanted.map((w) => w.name).sort());
    for (const w of wanted) assert.deepEqual(reader.entry(w.name).shape, w.shape);
    assert.equal(reader.entry("model.norm.weight").dtype, "BF16");
    assert.deepEqual([...reader.readAsFloat32("model.norm.weight").data.slice(0, 3)], [1, 1, 1]);
    const emb = reader.readAsFloat32("model.embed_tokens.weight").data;
    const std = Math.sqrt(emb.reduce((s, x) => s + x * x, 0) / emb.length);
    assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
    reader.close();
    assert.equal(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).torch_dtype, "bfloat16");
  });

  it("QLoRA load: layers streamed into the quantizer equal the whole-tensor quantization, bit for bit", () => {
    const streamed = params(loadModel(dir, { quantization: QLORA_QUANTIZATION }));
    const whole = params(loadModel(dir, { policy: { quantize: (_n, w) => quantizeTensor(w, QLORA_QUANTIZATION) } }));
    let quantized = 0;
    for (const [name, p] of streamed) {
      const q = whole.get(name)!;
      if (p instanceof QuantizedTensor) {
        sameQuantized(p, q as QuantizedTensor, name);
        quantized++;
      } else {
        assert.equal(p.dtype, p.shape.length === 2 ? "bfloat16" : "float32", `${name}: embedding and head as stored, norms float32`);
        assert.deepEqual(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength), Buffer.from((q as Tensor).data.buffer, (q as Tensor).data.byteOffset, (q as Tensor).byteLength), name);
      }
    }
    assert.equal(quantized, 2 * 7);
  });

  it("a tensor read past its end names the file and tensor", () => {
    const reader = CheckpointReader.open(dir);
    assert.throws(() => reader.readInto("model.norm.weight", 250, new Uint16Array(10)), /model\.norm\.weight.*elements \[250, 260\) are outside its 256/);
    assert.throws(() => reader.readInto("model.norm.weight", 0, new Float32Array(2)), /cannot read it into 4-byte elements/);
    reader.close();
  });
});

describe("random weights a run at a time", () => {
  const config = presetConfig("tiny", { layers: 1 });
  it("bf16 and quantized forms equal the exact float32 weights converted whole", () => {
    const f32 = params(buildModel(config, new RandomWeights(5, { weightDtype: "float32", trainable: false })));
    const bf16 = params(buildModel(config, new RandomWeights(5, { weightDtype: "bfloat16", trainable: false })));
    const nf4 = params(buildModel(config, new RandomWeights(5, { weightDtype: "float32", trainable: false, quantizeAs: () => QLORA_QUANTIZATION })));
    for (const [name, p] of f32) {
      const t = p as Tensor;
      const b = bf16.get(name) as Tensor;
      if (t.shape.length === 2) assert.deepEqual([...(b.data as Uint16Array)], [...f32ArrayToBf16(t.data as Float32Array)], name);
      const q = nf4.get(name)!;
      if (q instanceof QuantizedTensor) sameQuantized(q, quantizeTensor(t, QLORA_QUANTIZATION), name);
    }
  });
  it("tiled sampling draws normal(0, std) values", () => {
    const m = params(buildModel(config, new RandomWeights(5, { weightDtype: "float32", trainable: false }, 0.02, "tiled")));
    const w = (m.get("model.layers.0.mlp.up_proj.weight") as Tensor).data as Float32Array;
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 1e-3 && Math.abs(std - 0.02) < 1e-3, `mean ${mean} std ${std}`);
  });
});

describe("streamed writers", () => {
  it("write the bytes writeSafetensors / writeCheckpoint write, and check each producer's size", () => {
    const dir = tmp("streamed");
    const tensors: [string, Tensor][] = [
      ["b", Tensor.from("float32", Float32Array.from([1, 2, 3]), [3])],
      ["a", Tensor.from("bfloat16", Uint16Array.from([7, 8]), [2])],
    ];
    const stream = tensors.map(([name, t]) => ({
      name, dtype: t.dtype, shape: t.shape, byteLength: t.byteLength,
      write: (out: (b: Uint8Array) => void) => {
        const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.byteLength);
        out(bytes.subarray(0, 2));
        out(bytes.subarray(2));
      },
    }));
    writeSafetensors(join(dir, "x.safetensors"), tensors, { k: "v" });
    writeSafetensorsStreamed(join(dir, "y.safetensors"), stream, { k: "v" });
    assert.ok(readFileSync(join(dir, "x.safetensors")).equals(readFileSync(join(dir, "y.safetensors"))));
    writeCheckpoint(join(dir, "c1"), tensors, { maxShardBytes: 8 });
    writeCheckpointStreamed(join(dir, "c2"), stream, { maxShardBytes: 8 });
    for (const f of readdirSync(join(dir, "c1"))) assert.ok(readFileSync(join(dir, "c1", f)).equals(readFileSync(join(dir, "c2", f))), f);
    const short = [{ ...stream[0]!, write: (out: (b: Uint8Array) => void) => out(new Uint8Array(4)) }];
    assert.throws(() => writeSafetensorsStreamed(join(dir, "z.safetensors"), short), /tensor "b": produced 4 bytes, its header says 12/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("z")), [], "nothing left of the failed write");
  });
});

describe("embedding and head quantized too (--quantize-embeddings, a departure from QLoRA's recipe)", () => {
  const LLAMA = "test/fixtures/models/llama";
  const ids = Int32Array.from({ length: 12 }, (_, i) => (i * 37) % 512);
  for (const type of ["int8", "nf4"] as const) {
    it(`${type}: the lookup and the head read the quantized tables exactly as their dequantized floats`, () => {
      const q = loadModel(LLAMA, { quantization: QLORA_QUANTIZATION, embeddingQuantization: { type } });
      const f = loadModel(LLAMA, { quantization: QLORA_QUANTIZATION });
      const emb = q.getModule("model.embed_tokens") as Embedding;
      const head = q.getModule("lm_head") as Linear;
      assert.ok(emb.weight instanceof QuantizedTensor && head.weight instanceof QuantizedTensor);
      (f.getModule("model.embed_tokens") as Embedding).weight = dequantizeTensor(emb.weight);
      (f.getModule("lm_head") as Linear).weight = dequantizeTensor(head.weight);
      for (const be of ["js", "native"] as const) {
        setBackend(be);
        const a = q.forward({ ids, B: 2, T: 6 }).logits!.data as Float32Array;
        const b = f.forward({ ids, B: 2, T: 6 }).logits!.data as Float32Array;
        assert.ok(maxRelDiff(a, b) <= 1e-5, `${be}: ${maxRelDiff(a, b)}`);
      }
      setBackend("native");
    });
  }
  it("is refused for full fine-tuning, whose embedding trains", () => {
    assert.throws(() => resolveArgs({ model: LLAMA, data: "x", method: "full", quantizeEmbeddings: "nf4" }), /quantizeEmbeddings needs a frozen base/);
  });
});
