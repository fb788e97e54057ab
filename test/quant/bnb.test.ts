// bitsandbytes serialization: key names, dtypes, shapes and JSON bytes as transformers saves Linear4bit /
// Linear8bitLt, round trips, errors naming the key, and the quantization_config of config.json.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BNB_CONFIG_FLOAT_KEYS,
  bnbQuantizationConfig,
  bnbWeightKind,
  fromBnbTensors,
  parseBnbQuantizationConfig,
  toBnbTensors,
} from "../../src/quant/bnb.ts";
import { pyFloatRepr, pyJsonDumps } from "../../src/quant/pyjson.ts";
import { quantize4bitRef } from "../../src/quant/quantize4bit.ts";
import { quantizeInt8Ref } from "../../src/quant/int8.ts";
import { DYNAMIC_MAP, FP4_CODE, NF4_CODE } from "../../src/quant/codebooks.ts";
import { isNested, type QuantizedMatrix } from "../../src/quant/types.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { Rng } from "../../src/util/random.ts";
import { fixtureF32, nf4Json } from "./fixture.ts";

const P = "model.layers.0.self_attn.q_proj";
const text = (t: Tensor) => new TextDecoder().decode(t.data as Uint8Array);

function entries(list: Array<[string, Tensor]>): Array<[string, string, number[]]> {
  return list.map(([k, t]) => [k, t.dtype, [...t.shape]]);
}

function getterOf(list: Array<[string, Tensor]>): (key: string) => Tensor | undefined {
  const m = new Map(list);
  return (k) => m.get(k);
}

function assertSameMatrix(a: QuantizedMatrix, b: QuantizedMatrix): void {
  assert.deepEqual(a, b);
}

const fixtureNested = () => quantize4bitRef(fixtureF32("w256x160.weight"), 256, 160, { type: "nf4", doubleQuant: true });

describe("toBnbTensors: Linear4bit state dict", () => {
  it("NF4 with double quantization: keys, dtypes, shapes and the quant_state JSON bytes", () => {
    const q = fixtureNested();
    const list = toBnbTensors(P, q);
    assert.deepEqual(entries(list), [
      [`${P}.weight`, "uint8", [20480, 1]],
      [`${P}.weight.absmax`, "uint8", [640]],
      [`${P}.weight.quant_map`, "float32", [16]],
      [`${P}.weight.nested_absmax`, "float32", [3]],
      [`${P}.weight.nested_quant_map`, "float32", [256]],
      [`${P}.weight.quant_state.bitsandbytes__nf4`, "uint8", [169]],
    ]);
    assert.equal(
      text(list[5]![1]),
      '{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [256, 160], "nested_blocksize": 256, ' +
        `"nested_dtype": "float32", "nested_offset": ${nf4Json.cases.w256x160!.nested_offset}}`,
    );
    assert.ok(text(list[5]![1]).endsWith('"nested_offset": 0.05199342966079712}'));
    assert.deepEqual(list[2]![1].data, NF4_CODE);
    assert.deepEqual(list[4]![1].data, DYNAMIC_MAP);
    assert.equal(list[0]![1].data, q.codes, "the packed codes are shared, not copied");
  });

  it("NF4 without double quantization, bf16 dtype; FP4 names its quant_state __fp4", () => {
    const q = quantize4bitRef(fixtureF32("w3x50.weight"), 3, 50, { type: "nf4", doubleQuant: false });
    const list = toBnbTensors("lm.fc", q, "bfloat16");
    assert.deepEqual(entries(list), [
      ["lm.fc.weight", "uint8", [75, 1]],
      ["lm.fc.weight.absmax", "float32", [3]],
      ["lm.fc.weight.quant_map", "float32", [16]],
      ["lm.fc.weight.quant_state.bitsandbytes__nf4", "uint8", [77]],
    ]);
    assert.equal(text(list[3]![1]), '{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [3, 50]}');
    const f = toBnbTensors("x", quantize4bitRef(new Float32Array(15).fill(0.5), 3, 5, { type: "fp4", blockSize: 128 }));
    assert.deepEqual(f.map(([k]) => k).at(-1), "x.weight.quant_state.bitsandbytes__fp4");
    assert.deepEqual(f[0]![1].shape, [8, 1], "ceil(15 / 2) bytes");
    assert.deepEqual(f[2]![1].data, FP4_CODE);
    assert.match(text(f.at(-1)![1]), /^\{"quant_type": "fp4", "blocksize": 128, "dtype": "float32", "shape": \[3, 5\], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0\.5\}$/);
  });

  it("int8: weight I8, SCB F32, weight_format U8 scalar 0", () => {
    const q = quantizeInt8Ref(Float32Array.of(1, -2, 3, 4, 0.5, -0.25), 2, 3);
    const list = toBnbTensors(P, q);
    assert.deepEqual(entries(list), [
      [`${P}.weight`, "int8", [2, 3]],
      [`${P}.SCB`, "float32", [2]],
      [`${P}.weight_format`, "uint8", []],
    ]);
    assert.deepEqual(Array.from(list[1]![1].data as Float32Array), [3, 4]);
    assert.equal(list[2]![1].data[0], 0);
  });
});

describe("fromBnbTensors", () => {
  const rng = new Rng(21);
  const w = Float32Array.from({ length: 40 * 33 }, () => Math.fround(rng.normal() * 0.1));
  const matrices: Array<[string, QuantizedMatrix]> = [
    ["nf4 double quant (fixture)", fixtureNested()],
    ["nf4 plain, odd length", quantize4bitRef(w.subarray(0, 39 * 33), 39, 33, { type: "nf4", doubleQuant: false })],
    ["fp4 double quant, block 128", quantize4bitRef(w, 40, 33, { type: "fp4", blockSize: 128 })],
    ["int8", quantizeInt8Ref(w, 40, 33)],
  ];
  for (const [name, q] of matrices) {
    it(`round trip is identical: ${name}`, () => {
      const list = toBnbTensors(P, q, "bfloat16");
      assert.equal(bnbWeightKind(P, getterOf(list)), q.type);
      assertSameMatrix(fromBnbTensors(P, getterOf(list)), q);
    });
  }

  it("int8 without rowAbsmax writes SCB = scale · 127", () => {
    const q = quantizeInt8Ref(w, 40, 33);
    const { rowAbsmax: _drop, ...bare } = q;
    const back = fromBnbTensors(P, getterOf(toBnbTensors(P, bare)));
    assert.deepEqual(back.type === "int8" && back.rowScale, q.rowScale);
  });

  it("reads the packed bytes whatever bnb_4bit_quant_storage viewed them as", () => {
    const q = fixtureNested();
    const list = toBnbTensors(P, q);
    const asBf16 = new Uint16Array(q.codes.buffer, q.codes.byteOffset, q.codes.length / 2);
    list[0] = [`${P}.weight`, Tensor.from("bfloat16", asBf16, [asBf16.length, 1])];
    assertSameMatrix(fromBnbTensors(P, getterOf(list)), q);
  });

  it("errors name the key", () => {
    const q = fixtureNested();
    const without = (suffix: string) => getterOf(toBnbTensors(P, q).filter(([k]) => k !== `${P}${suffix}`));
    assert.throws(() => fromBnbTensors(P, without(".weight.nested_absmax")), new RegExp(`${P}\\.weight\\.nested_absmax: missing`));
    assert.throws(() => fromBnbTensors(P, without(".weight.quant_state.bitsandbytes__nf4")), /has no quant state/);

    const bad = (suffix: string, t: Tensor) => getterOf(toBnbTensors(P, q).map(([k, v]) => [k, k === `${P}${suffix}` ? t : v]));
    assert.throws(() => fromBnbTensors(P, bad(".weight.absmax", Tensor.from("float32", new Float32Array(640)))), /weight\.absmax: expected uint8, got float32/);
    assert.throws(() => fromBnbTensors(P, bad(".weight.absmax", Tensor.from("uint8", new Uint8Array(639)))), /weight\.absmax: expected 640 values, got 639/);
    assert.throws(() => fromBnbTensors(P, bad(".weight", Tensor.from("uint8", new Uint8Array(100), [100, 1]))), /q_proj\.weight: 100 bytes/);
    const lying = new TextEncoder().encode('{"quant_type": "fp4", "blocksize": 64, "dtype": "float32", "shape": [256, 160]}');
    assert.throws(() => fromBnbTensors(P, bad(".weight.quant_state.bitsandbytes__nf4", Tensor.from("uint8", lying))), /bitsandbytes__nf4: quant_type "fp4" does not match/);
    const badDtype = new TextEncoder().encode('{"quant_type": "nf4", "blocksize": 64, "dtype": "float64", "shape": [256, 160]}');
    assert.throws(() => fromBnbTensors(P, bad(".weight.quant_state.bitsandbytes__nf4", Tensor.from("uint8", badDtype))), /unsupported dtype "float64"/);
    const map = NF4_CODE.slice();
    map[3] = 0.1;
    assert.throws(() => fromBnbTensors(P, bad(".weight.quant_map", Tensor.from("float32", map))), /weight\.quant_map: entry 3/);

    const q8 = toBnbTensors(P, quantizeInt8Ref(w, 40, 33));
    q8[2] = [`${P}.weight_format`, Tensor.from("uint8", Uint8Array.of(2), [])];
    assert.throws(() => fromBnbTensors(P, getterOf(q8)), /weight_format: only the row-major format/);
  });
});

describe("quantization_config", () => {
  it("NF4 + double quant + bf16 compute, as transformers writes config.json", () => {
    const cfg = bnbQuantizationConfig({ type: "nf4", doubleQuant: true, computeDtype: "bfloat16" });
    const json = pyJsonDumps({ quantization_config: cfg }, { indent: 2, sortKeys: true, floatKeys: BNB_CONFIG_FLOAT_KEYS });
    assert.equal(
      json,
      `{
  "quantization_config": {
    "_load_in_4bit": true,
    "_load_in_8bit": false,
    "bnb_4bit_compute_dtype": "bfloat16",
    "bnb_4bit_quant_storage": "uint8",
    "bnb_4bit_quant_type": "nf4",
    "bnb_4bit_use_double_quant": true,
    "llm_int8_enable_fp32_cpu_offload": false,
    "llm_int8_has_fp16_weight": false,
    "llm_int8_skip_modules": null,
    "llm_int8_threshold": 6.0,
    "load_in_4bit": true,
    "load_in_8bit": false,
    "quant_method": "bitsandbytes"
  }
}`,
    );
  });

  it("int8 config and the parse round trip", () => {
    const c8 = bnbQuantizationConfig({ type: "int8", skipModules: ["lm_head"] });
    assert.equal(c8.load_in_8bit, true);
    assert.equal(c8.load_in_4bit, false);
    assert.equal(c8.bnb_4bit_use_double_quant, false);
    const p8 = parseBnbQuantizationConfig(JSON.parse(JSON.stringify(c8)));
    assert.deepEqual(p8, {
      type: "int8", doubleQuant: false, computeDtype: "float32", quantStorage: "uint8", skipModules: ["lm_head"], threshold: 6, ignoredKeys: [],
    });
    for (const type of ["nf4", "fp4"] as const) {
      for (const doubleQuant of [false, true]) {
        const p = parseBnbQuantizationConfig(bnbQuantizationConfig({ type, doubleQuant, computeDtype: "float16" }));
        assert.equal(p.type, type);
        assert.equal(p.doubleQuant, doubleQuant);
        assert.equal(p.computeDtype, "float16");
      }
    }
  });

  it("parses a minimal transformers-4 style config and keeps unknown keys aside", () => {
    const p = parseBnbQuantizationConfig({ quant_method: "bitsandbytes", load_in_4bit: true, bnb_4bit_quant_type: "nf4", foo: 1 });
    assert.equal(p.type, "nf4");
    assert.equal(p.doubleQuant, false);
    assert.deepEqual(p.ignoredKeys, ["foo"]);
  });

  it("errors name the key and the value", () => {
    const base = bnbQuantizationConfig({ type: "nf4" });
    assert.throws(() => parseBnbQuantizationConfig({ ...base, bnb_4bit_quant_type: "int4" }), /quantization_config\.bnb_4bit_quant_type: unsupported "int4"/);
    assert.throws(() => parseBnbQuantizationConfig({ ...base, bnb_4bit_compute_dtype: "float64" }), /bnb_4bit_compute_dtype: unsupported "float64"/);
    assert.throws(() => parseBnbQuantizationConfig({ ...base, quant_method: "gptq" }), /quant_method: expected "bitsandbytes", got "gptq"/);
    assert.throws(() => parseBnbQuantizationConfig({ ...base, load_in_8bit: true }), /both true/);
    assert.throws(() => parseBnbQuantizationConfig({ ...base, bnb_4bit_quant_storage: "float64" }), /bnb_4bit_quant_storage: unsupported "float64"/);
    assert.throws(() => parseBnbQuantizationConfig({ ...base, bnb_4bit_use_double_quant: "yes" }), /bnb_4bit_use_double_quant: must be a boolean/);
    assert.throws(() => bnbQuantizationConfig({ type: "nf4", blockSize: 48 }), /blockSize/);
  });
});

describe("Python json.dumps", () => {
  it("float repr", () => {
    const cases: Array<[number, string]> = [
      [6, "6.0"], [0.05199342966079712, "0.05199342966079712"], [1e-5, "1e-05"], [0.0001, "0.0001"], [1.5e-7, "1.5e-07"],
      [1e16, "1e+16"], [1234567890123456, "1234567890123456.0"], [123.25, "123.25"], [-0, "-0.0"], [-2.5e-10, "-2.5e-10"],
      [NaN, "NaN"], [Infinity, "Infinity"], [0.1, "0.1"], [Math.fround(0.1), "0.10000000149011612"], [1e300, "1e+300"],
    ];
    for (const [x, s] of cases) assert.equal(pyFloatRepr(x), s, `repr(${x})`);
  });

  it("separators, escapes, ints vs floats", () => {
    assert.equal(pyJsonDumps({ a: [1, 2.5], b: "é\"\n", c: null, d: true, e: {} }), '{"a": [1, 2.5], "b": "\\u00e9\\"\\n", "c": null, "d": true, "e": {}}');
    assert.equal(pyJsonDumps({ t: 6, n: [1, 2] }, { floatKeys: ["t", "n"] }), '{"t": 6.0, "n": [1.0, 2.0]}');
    assert.equal(pyJsonDumps([1, [2]], { indent: 1 }), "[\n 1,\n [\n  2\n ]\n]");
  });
});

it("bf16 checkpoints record dtype bfloat16 in quant_state (round trip keeps the matrix)", () => {
  const q = quantize4bitRef(fixtureF32("outlier.weight"), 64, 128, { type: "nf4" });
  assert.ok(isNested(q.absmax));
  const list = toBnbTensors(P, q, "bfloat16");
  assert.match(text(list.at(-1)![1]), /"dtype": "bfloat16"/);
  assertSameMatrix(fromBnbTensors(P, getterOf(list)), q);
});
