// safetensors reader and writer: real checkpoints written by the Python library, round trips for every
// dtype, byte-identical output, and hostile files that must fail fast with a SafetensorsError.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafetensorsError, SafetensorsReader, writeSafetensors } from "../../src/io/safetensors.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { allocTyped, f32ToBf16, type DType } from "../../src/tensor/dtype.ts";
import { Rng } from "../../src/util/random.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-safetensors-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function withReader<T>(path: string, fn: (r: SafetensorsReader) => T): T {
  const r = SafetensorsReader.open(path);
  try {
    return fn(r);
  } finally {
    r.close();
  }
}

describe("reading checkpoints written by the Python library", () => {
  const llama = join(FIXTURES, "models/llama/model.safetensors");
  const llamaBf16 = join(FIXTURES, "models/llama-bf16/model.safetensors");

  it("lists names, shapes, dtypes and metadata of the F32 llama", () => {
    withReader(llama, (r) => {
      assert.equal(r.names().length, 21);
      assert.deepEqual(r.metadata, { format: "pt" });
      assert.ok(r.has("model.layers.1.self_attn.k_proj.weight"));
      assert.ok(!r.has("model.layers.2.self_attn.k_proj.weight"));
      const e = r.entry("model.embed_tokens.weight");
      assert.equal(e.dtype, "F32");
      assert.equal(e.tensorDtype, "float32");
      assert.deepEqual(e.shape, [512, 64]);
      assert.equal(e.end - e.begin, 512 * 64 * 4);
      assert.deepEqual(r.entry("model.layers.0.self_attn.k_proj.weight").shape, [32, 64]);
      assert.deepEqual(r.entry("model.layers.0.mlp.down_proj.weight").shape, [64, 176]);
      const t = r.read("model.norm.weight");
      assert.equal(t.dtype, "float32");
      assert.deepEqual(t.shape, [64]);
      // The README says norm weights were perturbed away from 1.
      assert.ok(Array.from(t.data as Float32Array).some((v) => v !== 1));
    });
  });

  it("BF16 tensors read as their stored bits, widened exactly, and equal the F32 weights rounded to bf16", () => {
    withReader(llamaBf16, (bf) =>
      withReader(llama, (f32) => {
        assert.deepEqual(bf.names(), f32.names());
        for (const name of bf.names()) {
          const raw = bf.read(name);
          assert.equal(raw.dtype, "bfloat16");
          const bits = raw.data as Uint16Array;
          const wide = bf.readAsFloat32(name);
          assert.deepEqual(wide.shape, raw.shape);
          const wideBits = new Uint32Array(wide.data.buffer, wide.data.byteOffset, wide.size);
          const ref = f32.read(name).data as Float32Array;
          for (let i = 0; i < bits.length; i++) {
            assert.equal(wideBits[i], (bits[i]! << 16) >>> 0, `${name}[${i}] widening`);
            assert.equal(bits[i], f32ToBf16(ref[i]!), `${name}[${i}] vs the F32 checkpoint`);
          }
        }
      }),
    );
  });

  it("reads I64 tensors (token ids) from a reference file", () => {
    withReader(join(FIXTURES, "models/llama/reference.safetensors"), (r) => {
      const ids = r.read("input_ids");
      assert.equal(ids.dtype, "int64");
      assert.deepEqual(ids.shape, [2, 16]);
      const labels = r.read("labels").data as BigInt64Array;
      // Row 1's first 4 labels are -100 (prompt-masked SFT, per the README).
      assert.deepEqual(Array.from(labels.subarray(16, 20)), [-100n, -100n, -100n, -100n]);
      assert.throws(() => r.readAsFloat32("input_ids"), (e: unknown) => e instanceof SafetensorsError && /input_ids.*not a floating-point/.test(e.message));
    });
  });

  it("rewrites every fixture byte for byte as the Python writer wrote it", () => {
    const files = [
      "models/llama/model.safetensors",
      "models/llama-bf16/model.safetensors",
      "models/llama/reference.safetensors",
      "quant/nf4.safetensors",
      "adapters/llama-lora/adapter_model.safetensors",
    ];
    for (const f of files) {
      const out = join(tmp, "rewrite.safetensors");
      withReader(join(FIXTURES, f), (r) => {
        const metadata = Object.keys(r.metadata).length > 0 ? r.metadata : undefined;
        writeSafetensors(out, r.names().map((n) => [n, r.read(n)] as const), metadata);
      });
      assert.ok(fs.readFileSync(out).equals(fs.readFileSync(join(FIXTURES, f))), `${f} differs from the Python writer's bytes`);
    }
  });
});

function sample(dtype: DType, shape: number[], rng: Rng): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = allocTyped(dtype, n);
  for (let i = 0; i < n; i++) {
    const x = rng.normal();
    if (d instanceof BigInt64Array) d[i] = BigInt(Math.round(x * 1e6)) * 1_000_000_007n;
    else if (d instanceof Float32Array) d[i] = x;
    else if (d instanceof Uint16Array) d[i] = Math.floor(Math.abs(x) * 65536) & 0xffff;
    else d[i] = Math.round(x * 1000);
  }
  return Tensor.from(dtype, d, shape);
}

describe("write → read round trips", () => {
  const dtypes: DType[] = ["float32", "bfloat16", "float16", "int64", "int32", "uint8", "int8"];
  const shapes = [[3, 5], [7], [], [0], [2, 0, 3], [1, 1, 1, 2]];

  it("every dtype and shape, empty tensors and 0-d scalars included, with metadata", () => {
    const rng = new Rng(3);
    const tensors: [string, Tensor][] = [];
    for (const dt of dtypes) shapes.forEach((s, i) => tensors.push([`${dt}.${i}`, sample(dt, s, rng)]));
    const path = join(tmp, "all.safetensors");
    writeSafetensors(path, tensors, { format: "pt", note: "ünïcode ✓" });
    withReader(path, (r) => {
      assert.deepEqual(r.metadata, { format: "pt", note: "ünïcode ✓" });
      assert.equal(r.names().length, tensors.length);
      for (const [name, t] of tensors) {
        const got = r.read(name);
        assert.equal(got.dtype, t.dtype, name);
        assert.deepEqual(got.shape, t.shape, name);
        assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), name);
        assert.equal(got.data.byteOffset % got.data.BYTES_PER_ELEMENT, 0, `${name} aligned`);
      }
    });
  });

  it("int64 extremes and float specials survive exactly", () => {
    const i64 = Tensor.from("int64", BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n), [4]);
    const f32 = Tensor.from("float32", Float32Array.of(NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38), [6]);
    const path = join(tmp, "specials.safetensors");
    writeSafetensors(path, { i64, f32 });
    withReader(path, (r) => {
      assert.deepEqual(Array.from(r.read("i64").data as BigInt64Array), Array.from(i64.data));
      const got = r.read("f32").data as Float32Array;
      assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(f32.data.buffer));
    });
  });

  it("float16 bits widen to the exact values", () => {
    const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x3555);
    const path = join(tmp, "f16.safetensors");
    writeSafetensors(path, [["h", Tensor.from("float16", bits, [7])]]);
    const got = withReader(path, (r) => Array.from(r.readAsFloat32("h").data));
    assert.deepEqual(got, [1, -2, 65504, 2 ** -24, Infinity, -0, Math.fround(0.333251953125)]);
  });

  it("pads the header with spaces to 8 bytes and keeps each tensor aligned to its element size", () => {
    const path = join(tmp, "align.safetensors");
    const u8 = Tensor.from("uint8", Uint8Array.of(1, 2, 3), [3]);
    const i64 = Tensor.from("int64", BigInt64Array.of(5n), [1]);
    const f16 = Tensor.from("float16", Uint16Array.of(1), [1]);
    writeSafetensors(path, { "b.u8": u8, "a.i64": i64, "c.f16": f16, "d.f32": Tensor.fromArray([1, 2, 3]) }, { format: "pt" });
    const bytes = fs.readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = bytes.subarray(8, 8 + n).toString("utf8");
    assert.equal(
      header.trimEnd(),
      '{"__metadata__":{"format":"pt"},"a.i64":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
        '"d.f32":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},"c.f16":{"dtype":"F16","shape":[1],"data_offsets":[20,22]},' +
        '"b.u8":{"dtype":"U8","shape":[3],"data_offsets":[22,25]}}',
    );
    assert.match(header, /} *$/);
    assert.equal(bytes.length, 8 + n + 25);
  });

  it("refuses duplicate names and the reserved __metadata__ name", () => {
    const t = Tensor.fromArray([1]);
    assert.throws(() => writeSafetensors(join(tmp, "dup.safetensors"), [["x", t], ["x", t]]), /dup\.safetensors: tensor "x": given twice/);
    assert.throws(() => writeSafetensors(join(tmp, "meta.safetensors"), [["__metadata__", t]]), SafetensorsError);
    assert.ok(!fs.existsSync(join(tmp, "dup.safetensors")));
  });
});

// ---- hostile files --------------------------------------------------------------------------------------

let hostileCount = 0;

/** Writes a file from a header (string or object) and a data area; `length` overrides the u64. */
function hostile(header: unknown, data = new Uint8Array(0), length?: bigint): string {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  const json = Buffer.from(text, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(length ?? BigInt(json.length));
  const path = join(tmp, `hostile-${hostileCount++}.safetensors`);
  fs.writeFileSync(path, Buffer.concat([len, json, data]));
  return path;
}

function assertRejected(path: string, tensor: string | null, pattern: RegExp): void {
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  assert.throws(
    () => SafetensorsReader.open(path),
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
      assert.ok(e.message.includes(path), `message names the file: ${e.message}`);
      if (tensor !== null) assert.ok(e.message.includes(`"${tensor}"`), `message names tensor ${tensor}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
  assert.ok(performance.now() - t0 < 1000, "rejected quickly");
  assert.ok(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, "without a large allocation");
}

const f32Entry = (begin: number, end: number, shape = [(end - begin) / 4]) => ({ dtype: "F32", shape, data_offsets: [begin, end] });

describe("hostile files fail with a SafetensorsError naming file and tensor", () => {
  it("file shorter than the 8-byte length", () => {
    const path = join(tmp, "short.safetensors");
    fs.writeFileSync(path, Buffer.from([1, 2, 3, 4, 5]));
    assertRejected(path, null, /5 bytes, too short/);
  });

  it("header length past the end of the file, and 2^60", () => {
    assertRejected(hostile("{}", new Uint8Array(2), 1000n), null, /header length 1000 runs past the end/);
    assertRejected(hostile("{}", new Uint8Array(0), 2n ** 60n), null, /header length 1152921504606846976/);
    assertRejected(hostile("{}", new Uint8Array(0), 2n ** 64n - 1n), null, /runs past the end/);
  });

  it("header length over the 100 MB limit (sparse file)", () => {
    const path = hostile("{}", new Uint8Array(0), 150_000_000n);
    fs.truncateSync(path, 200_000_000);
    assertRejected(path, null, /exceeds the 100000000-byte limit/);
  });

  it("header not UTF-8, not JSON, not an object", () => {
    const path = join(tmp, "utf8.safetensors");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(4n);
    fs.writeFileSync(path, Buffer.concat([len, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]));
    assertRejected(path, null, /not valid UTF-8/);
    assertRejected(hostile("{not json"), null, /not valid JSON/);
    assertRejected(hostile("[1, 2]"), null, /not a JSON object/);
    assertRejected(hostile("null"), null, /not a JSON object/);
    assertRejected(hostile("42"), null, /not a JSON object/);
  });

  it("entries with missing or mistyped fields", () => {
    assertRejected(hostile({ w: 7 }), "w", /entry is not an object/);
    assertRejected(hostile({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), "w", /dtype is missing/);
    assertRejected(hostile({ w: { dtype: "F32", data_offsets: [0, 4] } }, new Uint8Array(4)), "w", /shape undefined is not a list/);
    assertRejected(hostile({ w: { dtype: "F32", shape: "1", data_offsets: [0, 4] } }, new Uint8Array(4)), "w", /shape "1"/);
    assertRejected(hostile({ w: { dtype: "F32", shape: [1] } }, new Uint8Array(4)), "w", /data_offsets undefined is not a pair/);
    assertRejected(hostile({ w: { dtype: "F32", shape: [1], data_offsets: [0, 4, 8] } }, new Uint8Array(8)), "w", /not a pair/);
    assertRejected(hostile({ w: { dtype: "F32", shape: [1], data_offsets: [0, "4"] } }, new Uint8Array(4)), "w", /not a pair/);
  });

  it("unknown dtype", () => {
    assertRejected(hostile({ w: { dtype: "F33", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), "w", /unknown dtype "F33"/);
    assertRejected(hostile({ w: { dtype: "constructor", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), "w", /unknown dtype/);
  });

  it("negative, fractional and absurd dims", () => {
    assertRejected(hostile({ w: f32Entry(0, 16, [-1, 4]) }, new Uint8Array(16)), "w", /shape \[-1,4\] is not a list of non-negative integers/);
    assertRejected(hostile({ w: f32Entry(0, 16, [2.5, 4]) }, new Uint8Array(16)), "w", /non-negative integers/);
    assertRejected(hostile({ w: f32Entry(0, 16, [2 ** 40, 2 ** 40]) }, new Uint8Array(16)), "w", /needs 4835703278458516698824704 bytes/);
    assertRejected(hostile({ w: f32Entry(0, 16, [1e300]) }, new Uint8Array(16)), "w", /non-negative integers/);
    const deep = `{"w": {"dtype": "F32", "shape": ${"[".repeat(1e5)}${"]".repeat(1e5)}, "data_offsets": [0, 0]}}`;
    assertRejected(hostile(deep), "w", /shape a deeply nested list is not a list/);
  });

  it("shape × element size differing from the span (wrong dtype size)", () => {
    assertRejected(hostile({ w: f32Entry(0, 8, [3]) }, new Uint8Array(8)), "w", /needs 12 bytes, data_offsets \[0, 8\] hold 8/);
    assertRejected(hostile({ w: { dtype: "BF16", shape: [4], data_offsets: [0, 16] } }, new Uint8Array(16)), "w", /needs 8 bytes/);
  });

  it("offsets reversed or past the data area", () => {
    assertRejected(hostile({ w: f32Entry(8, 4, [1]) }, new Uint8Array(8)), "w", /begin after end/);
    assertRejected(hostile({ w: f32Entry(0, 1000) }, new Uint8Array(16)), "w", /run past the 16-byte data area/);
  });

  it("overlapping tensors, gaps, and bytes after the last tensor", () => {
    assertRejected(hostile({ a: f32Entry(0, 8), b: f32Entry(4, 12) }, new Uint8Array(12)), "b", /overlap tensor "a"/);
    assertRejected(hostile({ a: f32Entry(0, 8), b: f32Entry(0, 8) }, new Uint8Array(8)), null, /overlap/);
    assertRejected(hostile({ a: f32Entry(0, 8), b: f32Entry(12, 20) }, new Uint8Array(20)), "b", /gap after byte 8/);
    assertRejected(hostile({ a: f32Entry(0, 8) }, new Uint8Array(12)), null, /tensors cover 8 bytes of the 12-byte data area/);
  });

  it("__metadata__ that is not a string → string map", () => {
    assertRejected(hostile({ __metadata__: { format: 1 } }), null, /__metadata__ key "format" is 1, not a string/);
    assertRejected(hostile({ __metadata__: ["pt"] }), null, /__metadata__ is not an object/);
  });

  it("a dtype valid in the format but not readable here opens, and names the tensor on read", () => {
    const path = hostile({ d: { dtype: "F64", shape: [1], data_offsets: [0, 8] }, f: f32Entry(8, 12) }, new Uint8Array(12));
    withReader(path, (r) => {
      assert.equal(r.entry("d").tensorDtype, null);
      assert.throws(() => r.read("d"), (e: unknown) => e instanceof SafetensorsError && e.message.includes(path) && /"d": unsupported dtype F64/.test(e.message));
      assert.equal(r.read("f").size, 1);
      assert.throws(() => r.read("nope"), /tensor "nope": not in this file/);
    });
  });

  it("a file truncated after it was opened fails on read, naming the tensor", () => {
    const path = join(tmp, "shrinks.safetensors");
    writeSafetensors(path, { w: Tensor.fromArray([1, 2, 3, 4]) });
    withReader(path, (r) => {
      fs.truncateSync(path, fs.statSync(path).size - 4);
      assert.throws(() => r.read("w"), (e: unknown) => e instanceof SafetensorsError && /"w": file ended/.test(e.message));
    });
  });

  it("a closed reader refuses reads", () => {
    const path = join(tmp, "closed.safetensors");
    writeSafetensors(path, { w: Tensor.fromArray([1]) });
    const r = SafetensorsReader.open(path);
    r.close();
    assert.throws(() => r.read("w"), /reader is closed/);
  });

  it("a missing file", () => {
    assert.throws(() => SafetensorsReader.open(join(tmp, "absent.safetensors")), (e: unknown) => e instanceof SafetensorsError && /absent\.safetensors: cannot open/.test(e.message));
  });
});
