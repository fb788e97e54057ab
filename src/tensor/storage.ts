// Tensor storage with a deterministic lifetime.
//
// Large tensors live in ArrayBuffers outside the V8 heap, and V8 collects them on its own schedule, not
// when gigabytes pile up. So float32 buffers created by ops are recycled explicitly: autograd releases what
// backward has used, `scope()` releases what a block allocated and did not return, and released buffers go
// to a pool of size classes, where the next op of a similar size picks them up. Peak memory then follows
// the live set, step after step.

import { allocTyped, type DType, type TypedArrayOf } from "./dtype.ts";

export class ReleasedTensorError extends Error {}

/** Set PEFT_TS_POISON=1 (tests) to fill every new float buffer with NaN, so an unwritten element shows. */
let poison = process.env.PEFT_TS_POISON === "1";

export function setPoison(on: boolean): void {
  poison = on;
}

const POOL_LIMIT_BYTES = Number(process.env.PEFT_TS_POOL_MB ?? 4096) * 2 ** 20;

/**
 * Buffers come in size classes (exact up to 4096 elements, then eighth steps between powers of two, at most
 * 12.5% unused), so tensors whose shapes vary a little — batches of different lengths — share buffers
 * instead of filling the pool with one-off sizes.
 */
export function sizeClass(length: number): number {
  if (length <= 4096) return length;
  const step = 2 ** (Math.floor(Math.log2(length)) - 3);
  return Math.ceil(length / step) * step;
}

/** Buffers of the pool's size classes, keyed by class; only buffers allocated here ever enter it. */
const pool = new Map<number, ArrayBuffer[]>();
const pooledOrigin = new WeakSet<ArrayBufferLike>();
let pooledBytes = 0;

/** The smallest pooled buffer of at least `length` elements and at most twice its size class. */
function takeFromPool(length: number): Float32Array | undefined {
  const cls = sizeClass(length);
  let best = pool.get(cls)?.length ? cls : 0;
  if (!best) {
    for (const [c, list] of pool) if (c > cls && c <= 2 * cls && list.length > 0 && (!best || c < best)) best = c;
  }
  const buf = best ? pool.get(best)!.pop() : undefined;
  if (!buf) return undefined;
  pooledBytes -= buf.byteLength;
  return new Float32Array(buf, 0, length);
}

function newPoolable(length: number): Float32Array {
  const buf = new ArrayBuffer(4 * sizeClass(length));
  pooledOrigin.add(buf);
  return new Float32Array(buf, 0, length);
}

function giveToPool(arr: Float32Array): void {
  const buf = arr.buffer;
  if (!pooledOrigin.has(buf) || pooledBytes + buf.byteLength > POOL_LIMIT_BYTES) return;
  const cls = buf.byteLength / 4;
  let list = pool.get(cls);
  if (!list) pool.set(cls, (list = []));
  list.push(buf as ArrayBuffer);
  pooledBytes += buf.byteLength;
}

/** Drops every pooled buffer (for the garbage collector), e.g. after loading a model. */
export function trimPool(): void {
  pool.clear();
  pooledBytes = 0;
}

export function pooledMegabytes(): number {
  return pooledBytes / 2 ** 20;
}

/**
 * Test-only: "float32" buffers become Float64Array, so the js backend (whose kernels compute in float64)
 * runs whole graphs in double precision for finite-difference gradient checks.
 */
let float64Oracle = false;

export function setFloat64Oracle(on: boolean): void {
  float64Oracle = on;
}

/** An uninitialised float32 buffer (NaN-filled under PEFT_TS_POISON=1). */
export function allocF32(length: number): Float32Array {
  if (float64Oracle) return new Float64Array(length).fill(poison ? NaN : 0) as unknown as Float32Array;
  const buf = takeFromPool(length) ?? newPoolable(length);
  if (poison) buf.fill(NaN);
  return buf;
}

export function allocZeroF32(length: number): Float32Array {
  if (float64Oracle) return new Float64Array(length) as unknown as Float32Array;
  return takeFromPool(length)?.fill(0) ?? newPoolable(length);
}

export class Storage<D extends DType = DType> {
  #data: TypedArrayOf<D> | null;
  readonly dtype: D;
  readonly length: number;
  /** Created by an op: may go back to the pool once nothing needs it. Leaves and user data are never released. */
  releasable = false;
  /** Held beyond its scope or graph (model outputs the caller reads after backward, parameters' grads). */
  kept = false;
  /** Graph nodes that saved this storage for backward and have not run yet. */
  pins = 0;

  constructor(dtype: D, data: TypedArrayOf<D>) {
    this.dtype = dtype;
    this.#data = data;
    this.length = data.length;
  }

  get data(): TypedArrayOf<D> {
    const d = this.#data;
    if (d === null) {
      throw new ReleasedTensorError(
        "tensor storage was released (after backward or at the end of its scope); call .keep() on tensors you read later",
      );
    }
    return d;
  }

  get released(): boolean {
    return this.#data === null;
  }

  /** Returns the buffer to the pool; any later read throws. */
  release(): void {
    const d = this.#data;
    if (d === null) return;
    this.#data = null;
    if (d instanceof Float32Array) giveToPool(d);
  }

  /** Releases only if nothing may still need it. */
  releaseIfUnused(): void {
    if (this.releasable && !this.kept && this.pins === 0) this.release();
  }
}

export function newStorage<D extends DType>(dtype: D, length: number, zero = false): Storage<D> {
  if (dtype === "float32") {
    const data = (zero ? allocZeroF32(length) : allocF32(length)) as TypedArrayOf<D>;
    return new Storage(dtype, data);
  }
  return new Storage(dtype, allocTyped(dtype, length));
}

// ---- scopes ---------------------------------------------------------------------------------------------

const scopes: Set<Storage>[] = [];

/** Called for every storage an op creates. */
export function trackInScope(s: Storage): void {
  s.releasable = true;
  scopes[scopes.length - 1]?.add(s);
}

/**
 * Runs `fn`; storages that ops created inside and that are neither returned, kept, nor still pinned by a
 * pending backward are released when it ends. Returned storages move to the enclosing scope.
 */
export function scope<T>(fn: () => T, escaping: (result: T) => Iterable<Storage> = storagesIn): T {
  const own = new Set<Storage>();
  scopes.push(own);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const out = new Set(escaping(result));
  const parent = scopes[scopes.length - 1];
  for (const s of own) {
    if (out.has(s) || s.pins > 0) parent?.add(s);
    else s.releaseIfUnused();
  }
  return result;
}

interface HasStorage {
  storage: Storage;
}

function* storagesIn(value: unknown): Iterable<Storage> {
  if (value === null || typeof value !== "object") return;
  if ((value as HasStorage).storage instanceof Storage) {
    yield (value as HasStorage).storage;
    return;
  }
  if (Array.isArray(value)) for (const v of value) yield* storagesIn(v);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) yield* storagesIn(v);
}
