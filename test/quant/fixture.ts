// The NF4 reference fixture (test/fixtures/quant): the json's cases and the safetensors tensors by name.

import { readFileSync } from "node:fs";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";

const DIR = "test/fixtures/quant";

export interface Nf4Case {
  shape: [number, number];
  double_quant: boolean;
  nested_offset: number;
}

export interface Nf4Fixture {
  nf4_code: number[];
  blocksize: number;
  nested_blocksize: number;
  cases: Record<string, Nf4Case>;
}

export const nf4Json = JSON.parse(readFileSync(`${DIR}/nf4.json`, "utf8")) as Nf4Fixture;

function readAll(path: string): Map<string, Tensor> {
  const reader = SafetensorsReader.open(path);
  try {
    return new Map(reader.names().map((name) => [name, reader.read(name)]));
  } finally {
    reader.close();
  }
}

const tensors = readAll(`${DIR}/nf4.safetensors`);

export function fixtureF32(name: string): Float32Array {
  const t = tensors.get(name);
  if (!t || t.dtype !== "float32") throw new Error(`fixture: no float32 tensor ${name}`);
  return t.data as Float32Array;
}

export function fixtureU8(name: string): Uint8Array {
  const t = tensors.get(name);
  if (!t || t.dtype !== "uint8") throw new Error(`fixture: no uint8 tensor ${name}`);
  return t.data as Uint8Array;
}
