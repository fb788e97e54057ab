// Checkpoint folders: single file vs. shards + index, transformers' sharding reproduced byte for byte,
// stale files of an earlier save, and malformed indexes.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CheckpointError, CheckpointReader, writeCheckpoint } from "../../src/io/checkpoint.ts";
import { writeSafetensors } from "../../src/io/safetensors.ts";
import { Tensor } from "../../src/tensor/tensor.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-checkpoint-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function open<T>(dir: string, fn: (r: CheckpointReader) => T): T {
  const r = CheckpointReader.open(dir);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}

/** The llama state_dict order (the order save_pretrained shards in). */
function stateDictOrder(): string[] {
  const names = ["model.embed_tokens.weight"];
  const parts = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj", "input_layernorm", "post_attention_layernorm"];
  for (const l of [0, 1]) for (const p of parts) names.push(`model.layers.${l}.${p}.weight`);
  return [...names, "model.norm.weight", "lm_head.weight"];
}

describe("CheckpointReader", () => {
  it("the sharded llama equals the single-file llama tensor by tensor", () => {
    open(join(MODELS, "llama"), (single) =>
      open(join(MODELS, "llama-sharded"), (sharded) => {
        assert.deepEqual([...sharded.names()].sort(), [...single.names()].sort());
        for (const name of single.names()) {
          const a = single.read(name);
          const b = sharded.read(name);
          assert.deepEqual(b.shape, a.shape, name);
          assert.deepEqual(b.data, a.data, name);
        }
        const index = JSON.parse(fs.readFileSync(join(MODELS, "llama-sharded/model.safetensors.index.json"), "utf8"));
        assert.equal(sharded.totalBytes(), index.metadata.total_size);
        assert.equal(single.totalBytes(), index.metadata.total_size);
        assert.equal(sharded.entry("lm_head.weight").file, join(MODELS, "llama-sharded/model-00004-of-00004.safetensors"));
        assert.equal(sharded.entry("model.embed_tokens.weight").file, join(MODELS, "llama-sharded/model-00001-of-00004.safetensors"));
        assert.deepEqual(sharded.entry("model.embed_tokens.weight").shape, [512, 64]);
      }),
    );
  });

  it("readAsFloat32 of the BF16 checkpoint", () => {
    open(join(MODELS, "llama-bf16"), (r) => {
      const t = r.readAsFloat32("model.norm.weight");
      assert.equal(t.dtype, "float32");
      assert.deepEqual(Array.from(t.data), Array.from(r.read("model.norm.weight").toFloat32()));
    });
  });

  function indexDir(name: string, index: string, shards: Record<string, Record<string, Tensor>> = {}): string {
    const dir = join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, "model.safetensors.index.json"), index);
    for (const [file, tensors] of Object.entries(shards)) writeSafetensors(join(dir, file), tensors);
    return dir;
  }

  const t = Tensor.fromArray([1, 2]);
  const cases: [string, () => string, RegExp][] = [
    ["no weights at all", () => fs.mkdtempSync(join(tmp, "empty-")), /neither model\.safetensors nor model\.safetensors\.index\.json/],
    ["malformed index JSON", () => indexDir("badjson", "{oops"), /index\.json: cannot read JSON/],
    ["index without weight_map", () => indexDir("nomap", '{"metadata": {}}'), /no "weight_map" object/],
    ["missing shard", () => indexDir("missing", '{"weight_map": {"a": "s1.safetensors"}}'), /shard s1\.safetensors \(tensor "a"\) does not exist/],
    ["tensor absent from its shard", () => indexDir("absent", '{"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}}', { "s1.safetensors": { a: t } }), /tensor "b" is mapped to s1\.safetensors, which does not contain it/],
    ["shard path escaping the folder", () => indexDir("escape", '{"weight_map": {"a": "../llama/model.safetensors"}}'), /tensor "a" maps to "\.\.\/llama\/model\.safetensors", not a file name/],
    ["shard that is not a string", () => indexDir("notstring", '{"weight_map": {"a": 3}}'), /tensor "a" maps to 3/],
  ];
  for (const [what, make, pattern] of cases) {
    it(`rejects: ${what}`, () => {
      const dir = make();
      assert.throws(() => CheckpointReader.open(dir), (e: unknown) => e instanceof CheckpointError && e.message.includes(dir) && pattern.test(e.message));
    });
  }

  it("names a tensor that is not in the checkpoint", () => {
    open(join(MODELS, "llama"), (r) => assert.throws(() => r.read("model.layers.9.mlp.up_proj.weight"), /no tensor "model\.layers\.9\.mlp\.up_proj\.weight"/));
  });
});

describe("writeCheckpoint", () => {
  it("reproduces transformers' sharded save of llama byte for byte (max shard 200 kB)", () => {
    const dir = join(tmp, "resharded");
    open(join(MODELS, "llama"), (r) => writeCheckpoint(dir, stateDictOrder().map((n) => [n, r.read(n)] as const), { maxShardBytes: 200_000 }));
    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, fs.readdirSync(join(MODELS, "llama-sharded")).filter((f) => f.startsWith("model")).sort());
    for (const f of files) assert.ok(fs.readFileSync(join(dir, f)).equals(fs.readFileSync(join(MODELS, "llama-sharded", f))), `${f} differs`);
  });

  it("writes one model.safetensors when everything fits, and reads back", () => {
    const dir = join(tmp, "single");
    open(join(MODELS, "llama"), (r) => writeCheckpoint(dir, r.names().map((n) => [n, r.read(n)] as const)));
    assert.deepEqual(fs.readdirSync(dir), ["model.safetensors"]);
    assert.ok(fs.readFileSync(join(dir, "model.safetensors")).equals(fs.readFileSync(join(MODELS, "llama/model.safetensors"))));
  });

  it("a tensor larger than the limit gets a shard of its own, in order of appearance", () => {
    const dir = join(tmp, "oversize");
    const small = (v: number) => Tensor.fromArray([v, v]); // 8 bytes
    const big = Tensor.fromArray(new Array(10).fill(7)); // 40 bytes
    function* gen(): Generator<[string, Tensor]> {
      yield ["a", small(1)];
      yield ["B", big];
      yield ["c", small(2)];
      yield ["d", small(3)];
    }
    writeCheckpoint(dir, gen(), { maxShardBytes: 16, metadata: { note: "x" } });
    const index = JSON.parse(fs.readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    assert.deepEqual(index, {
      metadata: { total_parameters: 16, total_size: 64 },
      weight_map: { B: "model-00001-of-00003.safetensors", a: "model-00002-of-00003.safetensors", c: "model-00002-of-00003.safetensors", d: "model-00003-of-00003.safetensors" },
    });
    open(dir, (r) => {
      assert.deepEqual(Array.from(r.read("d").data as Float32Array), [3, 3]);
      assert.equal(r.totalBytes(), 64);
    });
    const raw = fs.readFileSync(join(dir, "model-00002-of-00003.safetensors"));
    assert.match(raw.toString("utf8", 8, 8 + Number(raw.readBigUInt64LE(0))), /"__metadata__":\{"format":"pt","note":"x"\}/);
  });

  it("removes the weight files of an earlier save in the other layout", () => {
    const dir = join(tmp, "relayout");
    const tensors = (): [string, Tensor][] => [["a", Tensor.fromArray([1, 2])], ["b", Tensor.fromArray([3, 4])], ["c", Tensor.fromArray([5, 6])]];
    fs.mkdirSync(dir);
    fs.writeFileSync(join(dir, "config.json"), "{}");
    writeCheckpoint(dir, tensors(), { maxShardBytes: 8 });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors", "model.safetensors.index.json"]);
    writeCheckpoint(dir, tensors(), { maxShardBytes: 16 });
    assert.deepEqual(fs.readdirSync(dir).sort(), ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"]);
    writeCheckpoint(dir, tensors());
    assert.deepEqual(fs.readdirSync(dir).sort(), ["config.json", "model.safetensors"]);
    writeCheckpoint(dir, tensors(), { maxShardBytes: 8 });
    assert.ok(!fs.existsSync(join(dir, "model.safetensors")));
    open(dir, (r) => assert.deepEqual(Array.from(r.read("c").data as Float32Array), [5, 6]));
  });

  it("leaves nothing behind when a tensor cannot be written", () => {
    const dir = join(tmp, "failing");
    const released = Tensor.fromArray([1, 2]);
    released.release();
    function* gen(): Generator<[string, Tensor]> {
      yield ["a", Tensor.fromArray([1, 2])];
      yield ["b", released];
    }
    assert.throws(() => writeCheckpoint(dir, gen(), { maxShardBytes: 8 }), /released/);
    assert.deepEqual(fs.readdirSync(dir), []);
    const t = Tensor.fromArray([1, 2]);
    assert.throws(() => writeCheckpoint(dir, [["a", t], ["b", t], ["a", t]], { maxShardBytes: 8 }), (e: unknown) => e instanceof CheckpointError && /tensor "a" given twice/.test(e.message));
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
