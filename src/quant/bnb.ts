// bitsandbytes serialization, as transformers' save_pretrained writes a quantized model (module state dicts of
// bitsandbytes' Linear4bit and Linear8bitLt), and the quantization_config it puts in config.json.
// Tensors in, tensors out: no file IO here, so the checkpoint loader and writer can both use it.
//
// Linear4bit, module prefix P (QuantState.as_dict(packed=True), keys in this order):
//   P.weight                                  U8  [ceil(n/2), 1]   packed codes, element 2i in the high nibble
//   P.weight.absmax                           U8  [blocks] codes when double-quantized, else F32 [blocks]
//   P.weight.quant_map                        F32 [16]
//   P.weight.nested_absmax                    F32 [ceil(blocks / nested_blocksize)]   (double quant only)
//   P.weight.nested_quant_map                 F32 [256]                               (double quant only)
//   P.weight.quant_state.bitsandbytes__nf4    U8  the UTF-8 bytes of json.dumps({"quant_type", "blocksize",
//       "dtype", "shape", ["nested_blocksize", "nested_dtype", "nested_offset"]}), dtype written as torch's name
//       without "torch." ("float32", "bfloat16", "float16"), shape as a list, the offset as Python's repr.
// Linear8bitLt:
//   P.weight I8 [rows, cols], P.SCB F32 [rows] (row absmax), P.weight_format U8 [] = 0 ("row").

import { Tensor } from "../tensor/tensor.ts";
import type { DType } from "../tensor/dtype.ts";
import { codebook4bit } from "./codebooks.ts";
import { pyJsonDumps } from "./pyjson.ts";
import { isNested, type Quantized4bit, type Quantized8bit, type QuantizedMatrix } from "./types.ts";

const fround = Math.fround;

export type BnbComputeDtype = "float32" | "bfloat16" | "float16";
const COMPUTE_DTYPES: readonly string[] = ["float32", "bfloat16", "float16"];

/** Every key suffix (after the module prefix) a bitsandbytes Linear4bit / Linear8bitLt may write. */
export const BNB_4BIT_SUFFIXES = [
  ".weight",
  ".weight.absmax",
  ".weight.quant_map",
  ".weight.nested_absmax",
  ".weight.nested_quant_map",
  ".weight.quant_state.bitsandbytes__nf4",
  ".weight.quant_state.bitsandbytes__fp4",
] as const;
export const BNB_INT8_SUFFIXES = [".weight", ".SCB", ".weight_format"] as const;

export class BnbFormatError extends Error {}

// ---- writing -----------------------------------------------------------------------------------------------

/** The packed quant_state JSON bytes bitsandbytes writes for a 4-bit matrix. */
export function bnbQuantStateBytes(q: Quantized4bit, dtype: BnbComputeDtype = "float32"): Uint8Array {
  const state: Record<string, unknown> = { quant_type: q.type, blocksize: q.blockSize, dtype, shape: [q.rows, q.cols] };
  if (isNested(q.absmax)) {
    state.nested_blocksize = q.absmax.nestedBlockSize;
    state.nested_dtype = "float32";
    state.nested_offset = q.absmax.nestedOffset;
  }
  return new TextEncoder().encode(pyJsonDumps(state, { floatKeys: ["nested_offset"] }));
}

/**
 * The state-dict entries of a quantized Linear at `prefix`, in bitsandbytes' order. `computeDtype` is the
 * QuantState dtype bitsandbytes records (the dtype the weight had when quantized, which dequantization
 * returns). Large buffers are shared with `q`, small tables are copies.
 */
export function toBnbTensors(prefix: string, q: QuantizedMatrix, computeDtype: BnbComputeDtype = "float32"): Array<[string, Tensor]> {
  if (q.type === "int8") return int8Tensors(prefix, q);
  if (!COMPUTE_DTYPES.includes(computeDtype)) throw new BnbFormatError(`toBnbTensors ${prefix}: dtype must be one of ${COMPUTE_DTYPES.join(", ")}, got ${computeDtype}`);
  const out: Array<[string, Tensor]> = [[`${prefix}.weight`, Tensor.from("uint8", q.codes, [q.codes.length, 1])]];
  const a = q.absmax;
  out.push([`${prefix}.weight.absmax`, isNested(a) ? Tensor.from("uint8", a.codes) : Tensor.from("float32", a)]);
  out.push([`${prefix}.weight.quant_map`, Tensor.from("float32", q.codebook.slice())]);
  if (isNested(a)) {
    out.push([`${prefix}.weight.nested_absmax`, Tensor.from("float32", a.nestedAbsmax)]);
    out.push([`${prefix}.weight.nested_quant_map`, Tensor.from("float32", a.nestedMap.slice())]);
  }
  out.push([`${prefix}.weight.quant_state.bitsandbytes__${q.type}`, Tensor.from("uint8", bnbQuantStateBytes(q, computeDtype))]);
  return out;
}

function int8Tensors(prefix: string, q: Quantized8bit): Array<[string, Tensor]> {
  const scb = q.rowAbsmax ?? Float32Array.from(q.rowScale, (s) => fround(s * 127));
  return [
    [`${prefix}.weight`, Tensor.from("int8", q.codes, [q.rows, q.cols])],
    [`${prefix}.SCB`, Tensor.from("float32", scb)],
    [`${prefix}.weight_format`, Tensor.from("uint8", Uint8Array.of(0), [])],
  ];
}

// ---- reading -----------------------------------------------------------------------------------------------

type Getter = (key: string) => Tensor | undefined;

/** Which bitsandbytes layout the module at `prefix` was saved in, or null when it is not quantized. */
export function bnbWeightKind(prefix: string, get: Getter): "nf4" | "fp4" | "int8" | null {
  if (get(`${prefix}.weight.quant_state.bitsandbytes__nf4`)) return "nf4";
  if (get(`${prefix}.weight.quant_state.bitsandbytes__fp4`)) return "fp4";
  if (get(`${prefix}.SCB`)) return "int8";
  return null;
}

/** The parsed packed quant_state of a 4-bit weight. */
export interface BnbQuantState {
  quant_type: "nf4" | "fp4";
  blocksize: number;
  dtype: BnbComputeDtype;
  shape: [number, number];
  nested_blocksize?: number;
  nested_dtype?: string;
  nested_offset?: number;
}

function fail(key: string, what: string): never {
  throw new BnbFormatError(`bitsandbytes checkpoint: ${key}: ${what}`);
}

function need(get: Getter, key: string, dtype: DType | null, length?: number): Tensor {
  const t = get(key);
  if (!t) fail(key, "missing");
  if (dtype && t.dtype !== dtype) fail(key, `expected ${dtype}, got ${t.dtype} [${t.shape.join(", ")}]`);
  if (length !== undefined && t.size !== length) fail(key, `expected ${length} values, got ${t.size} (shape [${t.shape.join(", ")}])`);
  return t;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

/** Parses and checks the JSON of `P.weight.quant_state.bitsandbytes__<type>`. */
export function parseBnbQuantState(key: string, bytes: Uint8Array, type: "nf4" | "fp4"): BnbQuantState {
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch (e) {
    fail(key, `not UTF-8 JSON (${(e as Error).message})`);
  }
  if (s === null || typeof s !== "object" || Array.isArray(s)) fail(key, "not a JSON object");
  if (s.quant_type !== type) fail(key, `quant_type ${JSON.stringify(s.quant_type)} does not match the key's ${type}`);
  if (!isPositiveInt(s.blocksize)) fail(key, `blocksize must be a positive integer, got ${JSON.stringify(s.blocksize)}`);
  if (typeof s.dtype !== "string" || !COMPUTE_DTYPES.includes(s.dtype)) fail(key, `unsupported dtype ${JSON.stringify(s.dtype)}`);
  const shape = s.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every(isPositiveInt)) {
    fail(key, `shape must be [out_features, in_features], got ${JSON.stringify(shape)}`);
  }
  const nested = "nested_blocksize" in s || "nested_offset" in s || "nested_dtype" in s;
  if (nested) {
    if (!isPositiveInt(s.nested_blocksize)) fail(key, `nested_blocksize must be a positive integer, got ${JSON.stringify(s.nested_blocksize)}`);
    if (s.nested_dtype !== "float32") fail(key, `unsupported nested_dtype ${JSON.stringify(s.nested_dtype)}`);
    if (typeof s.nested_offset !== "number") fail(key, `nested_offset must be a number, got ${JSON.stringify(s.nested_offset)}`);
  }
  return s as unknown as BnbQuantState;
}

/** The raw bytes of a tensor whatever its storage dtype (bnb_4bit_quant_storage may be other than uint8). */
function bytesOf(t: Tensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return d instanceof Uint8Array ? d : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Checks a loaded quant_map against the type's table: bitsandbytes' kernels dequantize with the built-in one. */
function checkCodebook(key: string, map: Float32Array, type: "nf4" | "fp4"): Float32Array {
  const ref = codebook4bit(type);
  for (let i = 0; i < 16; i++) {
    if (!(Math.abs(map[i]! - ref[i]!) <= 1e-6)) fail(key, `entry ${i} is ${map[i]}, ${type} has ${ref[i]}`);
  }
  return ref;
}

/** Rebuilds the quantized matrix of the module at `prefix` from its bitsandbytes state-dict entries. */
export function fromBnbTensors(prefix: string, get: Getter): QuantizedMatrix {
  const kind = bnbWeightKind(prefix, get);
  if (kind === null) {
    throw new BnbFormatError(
      `bitsandbytes checkpoint: ${prefix}.weight has no quant state (expected ${prefix}.weight.quant_state.bitsandbytes__nf4, ` +
        `...__fp4 or ${prefix}.SCB)`,
    );
  }
  return kind === "int8" ? fromInt8(prefix, get) : from4bit(prefix, get, kind);
}

function from4bit(prefix: string, get: Getter, type: "nf4" | "fp4"): Quantized4bit {
  const stateKey = `${prefix}.weight.quant_state.bitsandbytes__${type}`;
  const st = parseBnbQuantState(stateKey, bytesOf(need(get, stateKey, "uint8")), type);
  const [rows, cols] = st.shape;
  const n = rows * cols;
  const blocks = Math.ceil(n / st.blocksize);
  const wKey = `${prefix}.weight`;
  const codes = bytesOf(need(get, wKey, null));
  if (codes.length < Math.ceil(n / 2)) fail(wKey, `${codes.length} bytes hold fewer than the ${n} codes of shape [${rows}, ${cols}]`);
  const codebook = checkCodebook(`${prefix}.weight.quant_map`, need(get, `${prefix}.weight.quant_map`, "float32", 16).data as Float32Array, type);
  const absmaxKey = `${prefix}.weight.absmax`;
  let absmax: Quantized4bit["absmax"];
  if (st.nested_blocksize !== undefined) {
    const groups = Math.ceil(blocks / st.nested_blocksize);
    absmax = {
      codes: need(get, absmaxKey, "uint8", blocks).data as Uint8Array,
      nestedAbsmax: need(get, `${prefix}.weight.nested_absmax`, "float32", groups).data as Float32Array,
      nestedMap: (need(get, `${prefix}.weight.nested_quant_map`, "float32", 256).data as Float32Array).slice(),
      nestedBlockSize: st.nested_blocksize,
      nestedOffset: fround(st.nested_offset!),
    };
  } else {
    absmax = need(get, absmaxKey, "float32", blocks).data as Float32Array;
  }
  return { type, rows, cols, blockSize: st.blocksize, codes: codes.subarray(0, Math.ceil(n / 2)), codebook, absmax };
}

function fromInt8(prefix: string, get: Getter): Quantized8bit {
  const wKey = `${prefix}.weight`;
  const w = need(get, wKey, "int8");
  if (w.shape.length !== 2) fail(wKey, `expected [out_features, in_features], got [${w.shape.join(", ")}]`);
  const [rows, cols] = w.shape as [number, number];
  const scb = need(get, `${prefix}.SCB`, "float32", rows).data as Float32Array;
  const fmt = get(`${prefix}.weight_format`);
  if (fmt) {
    const v = fmt.size === 1 ? Number(fmt.data[0]) : NaN;
    if (v !== 0) fail(`${prefix}.weight_format`, `only the row-major format (0) is supported, got ${fmt.size === 1 ? v : `${fmt.size} values`}`);
  }
  const rowScale = Float32Array.from(scb, (a) => fround(a / 127));
  return { type: "int8", rows, cols, codes: w.data as Int8Array, rowScale, rowAbsmax: scb };
}

// ---- quantization_config -----------------------------------------------------------------------------------

export interface BnbConfigOptions {
  type: "nf4" | "fp4" | "int8";
  /** bnb_4bit_use_double_quant (4-bit only; default true). */
  doubleQuant?: boolean;
  /** bnb_4bit_compute_dtype (default "float32"). */
  computeDtype?: BnbComputeDtype;
  /** Checked only: transformers' config has no block size; each weight's quant_state carries it. */
  blockSize?: number;
  /** llm_int8_skip_modules (default null). */
  skipModules?: string[] | null;
  /** llm_int8_threshold, a Python float (default 6.0). */
  threshold?: number;
}

/** The keys of the quantization_config that are Python floats (see pyjson.ts: write them with floatKeys). */
export const BNB_CONFIG_FLOAT_KEYS: readonly string[] = ["llm_int8_threshold"];

/**
 * The `quantization_config` object transformers writes into config.json for a bitsandbytes model
 * (BitsAndBytesConfig.to_dict(), keys sorted as config.json has them). Write it with pyJsonDumps and
 * BNB_CONFIG_FLOAT_KEYS, or `llm_int8_threshold` comes out as the int 6, which transformers rejects.
 */
export function bnbQuantizationConfig(opts: BnbConfigOptions): Record<string, unknown> {
  const is4 = opts.type === "nf4" || opts.type === "fp4";
  if (!is4 && opts.type !== "int8") throw new BnbFormatError(`bnbQuantizationConfig: type must be nf4, fp4 or int8, got ${String(opts.type)}`);
  const computeDtype = opts.computeDtype ?? "float32";
  if (!COMPUTE_DTYPES.includes(computeDtype)) throw new BnbFormatError(`bnbQuantizationConfig: computeDtype must be one of ${COMPUTE_DTYPES.join(", ")}, got ${computeDtype}`);
  const bs = opts.blockSize ?? 64;
  if (!Number.isInteger(bs) || bs < 2 || (bs & (bs - 1)) !== 0 || bs > 4096) {
    throw new BnbFormatError(`bnbQuantizationConfig: blockSize must be a power of two in [2, 4096], got ${bs}`);
  }
  return {
    _load_in_4bit: is4,
    _load_in_8bit: !is4,
    bnb_4bit_compute_dtype: computeDtype,
    bnb_4bit_quant_storage: "uint8",
    bnb_4bit_quant_type: is4 ? opts.type : "fp4",
    bnb_4bit_use_double_quant: is4 ? (opts.doubleQuant ?? true) : false,
    llm_int8_enable_fp32_cpu_offload: false,
    llm_int8_has_fp16_weight: false,
    llm_int8_skip_modules: opts.skipModules ?? null,
    llm_int8_threshold: opts.threshold ?? 6.0,
    load_in_4bit: is4,
    load_in_8bit: !is4,
    quant_method: "bitsandbytes",
  };
}

export interface ParsedBnbConfig {
  type: "nf4" | "fp4" | "int8";
  doubleQuant: boolean;
  computeDtype: BnbComputeDtype;
  /** bnb_4bit_quant_storage: the dtype the packed 4-bit bytes were viewed as (fromBnbTensors reads any). */
  quantStorage: "uint8" | "int8" | "bfloat16" | "float16" | "float32";
  skipModules: string[] | null;
  /** LLM.int8's activation outlier threshold (matmul behaviour, not storage). */
  threshold: number;
  /** Keys transformers would ignore too. */
  ignoredKeys: string[];
}

const KNOWN_CONFIG_KEYS = new Set([
  "quant_method", "_load_in_4bit", "_load_in_8bit", "load_in_4bit", "load_in_8bit", "llm_int8_threshold",
  "llm_int8_skip_modules", "llm_int8_enable_fp32_cpu_offload", "llm_int8_has_fp16_weight", "bnb_4bit_compute_dtype",
  "bnb_4bit_quant_type", "bnb_4bit_use_double_quant", "bnb_4bit_quant_storage",
]);

function configError(key: string, what: string): never {
  throw new BnbFormatError(`quantization_config.${key}: ${what}`);
}

function optBool(obj: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") configError(key, `must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

/** Reads a config.json `quantization_config` of quant_method "bitsandbytes" into options. */
export function parseBnbQuantizationConfig(obj: unknown): ParsedBnbConfig {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new BnbFormatError("quantization_config: not an object");
  const c = obj as Record<string, unknown>;
  if (c.quant_method !== "bitsandbytes") configError("quant_method", `expected "bitsandbytes", got ${JSON.stringify(c.quant_method)}`);
  const in4 = optBool(c, "load_in_4bit", optBool(c, "_load_in_4bit", false));
  const in8 = optBool(c, "load_in_8bit", optBool(c, "_load_in_8bit", false));
  if (in4 === in8) configError("load_in_4bit", in4 ? "load_in_4bit and load_in_8bit are both true" : "neither load_in_4bit nor load_in_8bit is true");
  const quantType = c.bnb_4bit_quant_type ?? "fp4";
  if (in4 && quantType !== "nf4" && quantType !== "fp4") configError("bnb_4bit_quant_type", `unsupported ${JSON.stringify(quantType)} (nf4 or fp4)`);
  const computeDtype = c.bnb_4bit_compute_dtype ?? "float32";
  if (typeof computeDtype !== "string" || !COMPUTE_DTYPES.includes(computeDtype)) {
    configError("bnb_4bit_compute_dtype", `unsupported ${JSON.stringify(computeDtype)} (${COMPUTE_DTYPES.join(", ")})`);
  }
  const storage = c.bnb_4bit_quant_storage ?? "uint8";
  if (!["uint8", "int8", "bfloat16", "float16", "float32"].includes(storage as string)) {
    configError("bnb_4bit_quant_storage", `unsupported ${JSON.stringify(storage)}`);
  }
  const skip = c.llm_int8_skip_modules ?? null;
  if (skip !== null && !(Array.isArray(skip) && skip.every((s) => typeof s === "string"))) {
    configError("llm_int8_skip_modules", `must be a list of strings or null, got ${JSON.stringify(skip)}`);
  }
  const threshold = c.llm_int8_threshold ?? 6.0;
  if (typeof threshold !== "number") configError("llm_int8_threshold", `must be a number, got ${JSON.stringify(threshold)}`);
  if (in8 && optBool(c, "llm_int8_has_fp16_weight", false)) configError("llm_int8_has_fp16_weight", "true (16-bit main weights) is not supported");
  return {
    type: in4 ? (quantType as "nf4" | "fp4") : "int8",
    doubleQuant: in4 && optBool(c, "bnb_4bit_use_double_quant", false),
    computeDtype: computeDtype as BnbComputeDtype,
    quantStorage: storage as ParsedBnbConfig["quantStorage"],
    skipModules: skip as string[] | null,
    threshold,
    ignoredKeys: Object.keys(c).filter((k) => !KNOWN_CONFIG_KEYS.has(k)),
  };
}
