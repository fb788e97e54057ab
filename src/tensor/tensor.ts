// Tensor: a shape, a dtype and contiguous row-major storage, plus the autograd fields.
// Ops live in src/ops; this file holds only what every tensor is.

import { BYTES_PER_ELEMENT, bf16ArrayToF32, f16ArrayToF32, type DType, type TypedArrayOf } from "./dtype.ts";
import { allocZeroF32, newStorage, Storage, trackInScope } from "./storage.ts";
import type { GraphNode } from "../autograd/node.ts";

export class ShapeError extends Error {}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor<D extends DType = DType> {
  readonly shape: readonly number[];
  readonly storage: Storage<D>;
  /** Leaves: whether backward fills `.grad`. Op outputs: whether a gradient flows through them. */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf that requires it (float32, same shape). */
  grad: Tensor<"float32"> | null = null;
  /** The recorded op that produced this tensor (null for leaves and under noGrad). */
  node: GraphNode | null = null;

  constructor(storage: Storage<D>, shape: readonly number[], requiresGrad = false) {
    if (numel(shape) !== storage.length) {
      throw new ShapeError(`tensor: shape ${fmtShape(shape)} does not match ${storage.length} elements`);
    }
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  get dtype(): D {
    return this.storage.dtype;
  }

  get data(): TypedArrayOf<D> {
    return this.storage.data;
  }

  get size(): number {
    return this.storage.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /** Wraps existing data (not copied, never pooled). */
  static from<D extends DType>(dtype: D, data: TypedArrayOf<D>, shape: readonly number[] = [data.length]): Tensor<D> {
    return new Tensor(new Storage(dtype, data), shape);
  }

  static fromArray(values: ArrayLike<number>, shape: readonly number[] = [values.length]): Tensor<"float32"> {
    return Tensor.from("float32", Float32Array.from(values), shape);
  }

  /** A zeroed float32 tensor that lives until the caller drops it (parameters, gradients, state). */
  static zeros(shape: readonly number[]): Tensor<"float32"> {
    return Tensor.from("float32", allocZeroF32(numel(shape)), shape);
  }

  static scalar(value: number): Tensor<"float32"> {
    return Tensor.from("float32", Float32Array.of(value), []);
  }

  /** A new op output: pooled storage (uninitialised unless `zero`), released when no longer needed. */
  static empty(shape: readonly number[], zero = false): Tensor<"float32"> {
    const s = newStorage("float32", numel(shape), zero);
    trackInScope(s);
    return new Tensor(s, shape);
  }

  /** A tensor sharing this one's storage under another shape (no autograd; see ops `reshape`). */
  view(shape: readonly number[]): Tensor<D> {
    const resolved = resolveShape(shape, this.size);
    return new Tensor(this.storage, resolved);
  }

  /** Keeps the storage alive beyond the current scope and backward. */
  keep(): this {
    this.storage.kept = true;
    return this;
  }

  release(): void {
    this.storage.release();
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor has ${this.size} elements`);
    return Number(this.data[0]!);
  }

  /** Values as float32 (a copy for bf16 / f16 / int dtypes; the storage itself for float32). */
  toFloat32(): Float32Array {
    const d = this.data;
    switch (this.dtype) {
      case "float32":
        return d as Float32Array;
      case "bfloat16":
        return bf16ArrayToF32(d as Uint16Array);
      case "float16":
        return f16ArrayToF32(d as Uint16Array);
      case "int64":
        return Float32Array.from(d as BigInt64Array, Number);
      default:
        return Float32Array.from(d as Int32Array | Uint8Array | Int8Array);
    }
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}${this.requiresGrad ? ", requiresGrad" : ""})`;
  }
}

/** Resolves one -1 in a shape against a known element count. */
export function resolveShape(shape: readonly number[], size: number): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = numel(out.filter((_, i) => i !== unknown));
    out[unknown] = known === 0 ? 0 : size / known;
  }
  if (numel(out) !== size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(`reshape: cannot view ${size} elements as ${fmtShape(shape)}`);
  }
  return out;
}

/** Token ids as Int32Array whatever their stored integer dtype. */
export function idsToInt32(t: Tensor): Int32Array {
  if (t.dtype === "int32") return t.data as Int32Array;
  if (t.dtype === "int64") return Int32Array.from(t.data as BigInt64Array, Number);
  throw new ShapeError(`expected integer token ids, got ${t.dtype}`);
}
