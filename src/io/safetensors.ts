// safetensors files: a lazy reader and a streaming, atomic writer.
//
// The reader reads the 8-byte length and the JSON header on open (validated in safetensors-header.ts),
// then each tensor's bytes on demand with positioned reads into a fresh, correctly aligned typed array:
// the file is never read whole and no tensor is held twice. The writer lays files out byte for byte as the
// Python library does and streams tensors one at a time through openAtomic.
// Tensor bytes are little-endian in the file, and are used as they are: this module requires a
// little-endian host (every platform Node supports for this work is one).

import * as fs from "node:fs";
import { Tensor } from "../tensor/tensor.ts";
import { allocTyped, BYTES_PER_ELEMENT, f16Table32, type DType } from "../tensor/dtype.ts";
import { openAtomic, type AtomicOptions } from "./atomic.ts";
import { buildHeader, MAX_HEADER_BYTES, parseHeader, SafetensorsError, type SafetensorsEntry } from "./safetensors-header.ts";

export { SafetensorsError, type SafetensorsEntry } from "./safetensors-header.ts";

if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error("safetensors: a little-endian host is required");

/** Node's positioned reads take at most 2 GiB − 1 bytes per call; large tensors are read in pieces. */
const READ_CHUNK = 1 << 30;

export class SafetensorsReader {
  readonly path: string;
  readonly metadata: Record<string, string>;
  #fd: number | null;
  /** Absolute file offset of the data area (8 + header length). */
  readonly #dataStart: number;
  readonly #entries: Map<string, SafetensorsEntry>;

  private constructor(path: string, fd: number, dataStart: number, entries: Map<string, SafetensorsEntry>, metadata: Record<string, string>) {
    this.path = path;
    this.#fd = fd;
    this.#dataStart = dataStart;
    this.#entries = entries;
    this.metadata = metadata;
  }

  /** Opens and validates a file; throws SafetensorsError naming the file (and tensor) for anything malformed. */
  static open(path: string): SafetensorsReader {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch (e) {
      throw new SafetensorsError(path, `cannot open: ${(e as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(path, `file is ${size} bytes, too short for the 8-byte header length`);
      const lenBytes = new Uint8Array(8);
      readFully(path, fd, lenBytes, 0);
      // The u64 is checked as a BigInt, before anything is allocated from it.
      const n = new DataView(lenBytes.buffer).getBigUint64(0, true);
      if (n > BigInt(size - 8)) throw new SafetensorsError(path, `header length ${n} runs past the end of the ${size}-byte file`);
      if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(path, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      const headerBytes = new Uint8Array(Number(n));
      readFully(path, fd, headerBytes, 8);
      const dataStart = 8 + headerBytes.length;
      const { entries, metadata } = parseHeader(path, headerBytes, size - dataStart);
      return new SafetensorsReader(path, fd, dataStart, entries, metadata);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in file order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  entry(name: string): SafetensorsEntry {
    const e = this.#entries.get(name);
    if (!e) throw new SafetensorsError(this.path, "not in this file", name);
    return { ...e, shape: [...e.shape] };
  }

  /** Reads one tensor in its stored dtype (BOOL as uint8). */
  read(name: string): Tensor {
    const e = this.#readable(name);
    const data = allocTyped(e.tensorDtype, (e.end - e.begin) / BYTES_PER_ELEMENT[e.tensorDtype]);
    this.#readBytes(e, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return Tensor.from(e.tensorDtype, data, e.shape);
  }

  /**
   * Reads elements [start, start + dst.length) of a tensor, in its stored dtype, into dst (a typed array of
   * that element size): one positioned read, so a large tensor can be consumed a piece at a time.
   */
  readInto(name: string, start: number, dst: Float32Array | Uint16Array | Uint8Array): void {
    const e = this.#readable(name);
    const size = BYTES_PER_ELEMENT[e.tensorDtype];
    if (dst.BYTES_PER_ELEMENT !== size) throw new SafetensorsError(this.path, `is ${e.dtype}; cannot read it into ${dst.BYTES_PER_ELEMENT}-byte elements`, name);
    const count = (e.end - e.begin) / size;
    if (!(Number.isInteger(start) && start >= 0 && start + dst.length <= count)) {
      throw new SafetensorsError(this.path, `elements [${start}, ${start + dst.length}) are outside its ${count}`, name);
    }
    if (this.#fd === null) throw new SafetensorsError(this.path, "reader is closed", name);
    readFully(this.path, this.#fd, new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength), this.#dataStart + e.begin + start * size, name);
  }

  /** Reads an F32, BF16 or F16 tensor as float32, in a single float32 allocation. */
  readAsFloat32(name: string): Tensor<"float32"> {
    const e = this.#readable(name);
    if (e.tensorDtype === "float32") return this.read(name) as Tensor<"float32">;
    if (e.tensorDtype !== "bfloat16" && e.tensorDtype !== "float16") {
      throw new SafetensorsError(this.path, `is ${e.dtype}, not a floating-point tensor`, name);
    }
    const n = (e.end - e.begin) / 2;
    const out = new Float32Array(n);
    // The 16-bit values are read into the upper half of the output buffer and widened in place, front to
    // back: writing float i overwrites halves 2i and 2i+1, which are below n + i + 1, so no unread half is lost.
    this.#readBytes(e, new Uint8Array(out.buffer, 2 * n, 2 * n));
    const halves = new Uint16Array(out.buffer);
    if (e.tensorDtype === "bfloat16") {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = halves[n + i]! << 16;
    } else {
      const table = f16Table32();
      for (let i = 0; i < n; i++) out[i] = table[halves[n + i]!]!;
    }
    return Tensor.from("float32", out, e.shape);
  }

  close(): void {
    if (this.#fd === null) return;
    fs.closeSync(this.#fd);
    this.#fd = null;
  }

  #readable(name: string): SafetensorsEntry & { tensorDtype: DType } {
    const e = this.#entries.get(name);
    if (!e) throw new SafetensorsError(this.path, "not in this file", name);
    if (e.tensorDtype === null) throw new SafetensorsError(this.path, `unsupported dtype ${e.dtype}`, name);
    return e as SafetensorsEntry & { tensorDtype: DType };
  }

  #readBytes(e: SafetensorsEntry, dst: Uint8Array): void {
    if (this.#fd === null) throw new SafetensorsError(this.path, "reader is closed", e.name);
    readFully(this.path, this.#fd, dst, this.#dataStart + e.begin, e.name);
  }
}

function readFully(path: string, fd: number, dst: Uint8Array, position: number, tensor?: string): void {
  for (let off = 0; off < dst.byteLength; ) {
    const len = Math.min(READ_CHUNK, dst.byteLength - off);
    const got = fs.readSync(fd, dst, off, len, position + off);
    if (got === 0) throw new SafetensorsError(path, `file ended at byte ${position + off}; was it truncated after opening?`, tensor);
    off += got;
  }
}

export type TensorSource = Iterable<readonly [string, Tensor]> | Record<string, Tensor>;

/**
 * A tensor whose bytes are produced while the file is written (generated or converted data), so a file or
 * a whole checkpoint can be written without holding its tensors: `write` hands `byteLength` bytes to `out`
 * in order, in as many pieces as it likes.
 */
export interface StreamedTensor {
  name: string;
  dtype: DType;
  shape: readonly number[];
  byteLength: number;
  write(out: (bytes: Uint8Array) => void): void;
}

function tensorList(tensors: TensorSource): [string, Tensor][] {
  const it = Symbol.iterator in tensors ? (tensors as Iterable<readonly [string, Tensor]>) : Object.entries(tensors);
  return Array.from(it, ([name, t]) => [name, t]);
}

function bytesOf(path: string, name: string, t: Tensor): Uint8Array {
  const d = t.data;
  // Guards against a float64 test-oracle buffer posing as float32, which would write the wrong bytes.
  if (d.BYTES_PER_ELEMENT !== BYTES_PER_ELEMENT[t.dtype]) {
    throw new SafetensorsError(path, `${t.dtype} tensor holds ${d.BYTES_PER_ELEMENT}-byte elements`, name);
  }
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A held tensor as a StreamedTensor (its bytes written straight from its storage). */
export function streamedTensor(path: string, name: string, t: Tensor): StreamedTensor {
  return { name, dtype: t.dtype, shape: t.shape, byteLength: t.byteLength, write: (out) => out(bytesOf(path, name, t)) };
}

/**
 * Writes a safetensors file atomically: the header, then each tensor's bytes straight from its storage.
 * Tensors are ordered as the Python writer orders them (dtype size, then name), so the output matches it.
 */
export function writeSafetensors(path: string, tensors: TensorSource, metadata?: Record<string, string>, options: AtomicOptions = {}): void {
  writeSafetensorsStreamed(path, tensorList(tensors).map(([name, t]) => streamedTensor(path, name, t)), metadata, options);
}

/** writeSafetensors for tensors produced as they are written; a producer that writes the wrong size is an error. */
export function writeSafetensorsStreamed(path: string, tensors: readonly StreamedTensor[], metadata?: Record<string, string>, options: AtomicOptions = {}): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const { header, order } = buildHeader(path, [...tensors], metadata);
  const file = openAtomic(path, options);
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(header.length), true);
    file.write(len);
    file.write(header);
    for (const { name } of order) {
      const t = byName.get(name)!;
      let written = 0;
      t.write((bytes) => {
        written += bytes.byteLength;
        file.write(bytes);
      });
      if (written !== t.byteLength) throw new SafetensorsError(path, `produced ${written} bytes, its header says ${t.byteLength}`, name);
    }
  } catch (e) {
    file.abort();
    throw e;
  }
  file.commit();
}
