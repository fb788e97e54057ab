// The safetensors header: parsing with full validation, and building it for the writer.
//
// Layout (https://github.com/huggingface/safetensors): u64 little-endian N, then N bytes of UTF-8 JSON
// {"__metadata__": {str: str}?, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}, then the
// data area; offsets are relative to the data area. Validation follows the Python library's rules, so a
// file is accepted here exactly when transformers would accept it: tensors tile the data area with no gap
// and no overlap, and each span is exactly shape × element size.

import type { DType } from "../tensor/dtype.ts";

export class SafetensorsError extends Error {
  readonly file: string;
  readonly tensor: string | undefined;
  constructor(file: string, message: string, tensor?: string) {
    super(`${file}: ${tensor === undefined ? "" : `tensor "${tensor}": `}${message}`);
    this.file = file;
    this.tensor = tensor;
  }
}

/** The Python library's cap on the header size; also keeps a hostile length from allocating anything big. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of every dtype the format defines (Maps: a dtype named "constructor" must not match). */
const DTYPE_BITS = new Map<string, number>([
  ["BOOL", 8], ["U8", 8], ["I8", 8], ["F8_E5M2", 8], ["F8_E4M3", 8], ["F8_E8M0", 8],
  ["F4", 4], ["F6_E2M3", 6], ["F6_E3M2", 6],
  ["I16", 16], ["U16", 16], ["F16", 16], ["BF16", 16],
  ["I32", 32], ["U32", 32], ["F32", 32],
  ["F64", 64], ["I64", 64], ["U64", 64], ["C64", 64],
]);

/** File dtype → the Tensor dtype it is read as; the rest are valid in a file but cannot be read here. */
const READ_AS = new Map<string, DType>([
  ["F32", "float32"], ["F16", "float16"], ["BF16", "bfloat16"],
  ["I64", "int64"], ["I32", "int32"], ["U8", "uint8"], ["I8", "int8"], ["BOOL", "uint8"],
]);

export const WRITE_AS: Record<DType, string> = {
  float32: "F32", bfloat16: "BF16", float16: "F16", int64: "I64", int32: "I32", uint8: "U8", int8: "I8",
};

/** The Python writer orders tensors by dtype, largest first (its enum order), keeping every tensor aligned. */
const WRITE_RANK: Record<DType, number> = { int64: 0, float32: 1, int32: 2, bfloat16: 3, float16: 4, int8: 5, uint8: 6 };

export interface SafetensorsEntry {
  name: string;
  /** The dtype as the file names it ("BF16"). */
  dtype: string;
  /** What `read` returns, or null for a dtype this project cannot hold (F64, U16, F8_*, ...). */
  tensorDtype: DType | null;
  shape: number[];
  /** Byte offsets inside the data area. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  /** In data-area order. */
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** A header value for an error message: short, and safe on hostile input (deep nesting overflows stringify). */
function brief(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    text = Array.isArray(v) ? "a deeply nested list" : typeof v;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function parseMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw new SafetensorsError(file, "__metadata__ is not an object of strings");
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") throw new SafetensorsError(file, `__metadata__ key "${k}" is ${brief(v)}, not a string`);
  }
  return Object.fromEntries(Object.entries(raw as Record<string, string>));
}

function parseEntry(file: string, name: string, raw: unknown, dataBytes: number): SafetensorsEntry {
  const fail = (msg: string): never => {
    throw new SafetensorsError(file, msg, name);
  };
  if (!isObject(raw)) return fail("entry is not an object");
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== "string") return fail("dtype is missing or not a string");
  const bits = DTYPE_BITS.get(dtype) ?? fail(`unknown dtype ${brief(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isCount)) return fail(`shape ${brief(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return fail(`data_offsets ${brief(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) return fail(`data_offsets [${begin}, ${end}] begin after end`);
  if (end > dataBytes) return fail(`data_offsets [${begin}, ${end}] run past the ${dataBytes}-byte data area`);
  // BigInt: a hostile shape's product can exceed 2^53 and must not round to a matching size.
  const totalBits = (shape as number[]).reduce((n, d) => n * BigInt(d), 1n) * BigInt(bits);
  if (totalBits % 8n !== 0n) return fail(`shape [${shape.join(", ")}] of ${dtype} is not a whole number of bytes`);
  if (totalBits / 8n !== BigInt(end - begin)) {
    return fail(`shape [${shape.join(", ")}] of ${dtype} needs ${totalBits / 8n} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype, tensorDtype: READ_AS.get(dtype) ?? null, shape: shape as number[], begin, end };
}

/** Tensors must tile the data area exactly: sorted by offset, each starts where the previous ended. */
function checkTiling(file: string, sorted: SafetensorsEntry[], dataBytes: number): void {
  let pos = 0;
  let prev: string | undefined;
  for (const e of sorted) {
    if (e.begin < pos) throw new SafetensorsError(file, `data_offsets [${e.begin}, ${e.end}] overlap tensor "${prev}" (ends at ${pos})`, e.name);
    if (e.begin > pos) throw new SafetensorsError(file, `data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${pos}`, e.name);
    pos = e.end;
    prev = e.name;
  }
  if (pos !== dataBytes) throw new SafetensorsError(file, `tensors cover ${pos} bytes of the ${dataBytes}-byte data area`);
}

/** Parses and validates the header bytes; `dataBytes` is the size of the data area that follows. */
export function parseHeader(file: string, bytes: Uint8Array, dataBytes: number): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new SafetensorsError(file, "header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(json)) throw new SafetensorsError(file, "header is not a JSON object");
  let metadata: Record<string, string> = {};
  const list: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === "__metadata__") metadata = parseMetadata(file, raw);
    else list.push(parseEntry(file, name, raw, dataBytes));
  }
  list.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : 1));
  checkTiling(file, list, dataBytes);
  return { entries: new Map(list.map((e) => [e.name, e])), metadata };
}

export interface HeaderTensor {
  name: string;
  dtype: DType;
  shape: readonly number[];
  byteLength: number;
}

/**
 * Orders tensors as the Python writer does and builds the padded header bytes.
 * Returns the tensors in data order; the header JSON is padded with spaces to a multiple of 8 bytes.
 */
export function buildHeader(file: string, tensors: HeaderTensor[], metadata?: Record<string, string>): { header: Uint8Array; order: HeaderTensor[] } {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === "__metadata__") throw new SafetensorsError(file, `"__metadata__" is reserved and cannot name a tensor`);
    if (seen.has(t.name)) throw new SafetensorsError(file, "given twice", t.name);
    seen.add(t.name);
  }
  const order = [...tensors].sort((a, b) => WRITE_RANK[a.dtype] - WRITE_RANK[b.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new SafetensorsError(file, `metadata key "${k}" is not a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const t of order) {
    const entry = { dtype: WRITE_AS[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(entry)}`);
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return { header: padded, order };
}
