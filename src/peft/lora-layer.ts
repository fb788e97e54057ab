// LoraLinear: a Linear (nn.Linear or GPT-2's Conv1D; float32, bfloat16 or NF4 weight) with named low-rank
// adapters, as PEFT's lora.Linear (tuners/lora/layer.py) defines it:
//
//   y = x·Wᵀ + b + Σ_active s·(drop(x)·Aᵀ)·Bᵀ          A [r, in], B [out, r], s = α/r (α/√r with rsLoRA)
//
// The sum is fused into the base GEMM (ops.linear with `adapters`). DoRA (PEFT's DoraLinearLayer) splits
// the merged weight into a magnitude m [out] and a direction: with n = ‖W + s·B·A‖ per output row, taken
// as a constant (detached, section 4.3 of the DoRA paper, as PEFT does),
//
//   y = x·Wᵀ + b + (m/n − 1)⊙(x_d·Wᵀ) + (m/n)⊙(s·(x_d·Aᵀ)·Bᵀ),   x_d = drop(x)
//
// so without dropout y = (m/n)⊙(x·Wᵀ + s·x·Aᵀ·Bᵀ) + b, and with it y = (x − x_d)·Wᵀ + b + (m/n)⊙(x_d·Wᵀ + s·x_d·Aᵀ·Bᵀ).
// Gradients follow from the ops: dm = Σ_rows dY⊙z / n (z the bracket), dA and dB as LoRA's with dY scaled
// by m/n per column, nothing through n.
//
// merge / unmerge / unload all come from deltaRows (PEFT's get_delta_weight): ΔW = s·B·A, transposed for
// Conv1D. A DoRA merge writes W' = (m/n)⊙(W + ΔW) with n from the weight being merged into, cached so
// unmerge can divide it out again.

import { Tensor } from "../tensor/tensor.ts";
import { Module, Linear, type Forward } from "../nn/index.ts";
import * as ops from "../ops/index.ts";
import type { LowRankAdapter } from "../ops/index.ts";
import { backend } from "../backend/index.ts";
import { noGrad } from "../autograd/engine.ts";
import { Rng, dropoutSeeds } from "../util/random.ts";
import { loraScaling } from "./config.ts";
import { BLOCK_ROWS, bufferStore, forEachBlock, MergeError, toFloat32Tensor, weightStore, type RowStore } from "./weight-rows.ts";

/** Children keyed by adapter name (PEFT's ModuleDict), so parameter names read `lora_A.<adapter>.weight`. */
export class ModuleDict<T extends Module> extends Module {
  readonly #items = new Map<string, T>();

  override children(): [string, Module][] {
    return [...this.#items];
  }

  get(name: string): T | undefined {
    return this.#items.get(name);
  }

  set(name: string, m: T): void {
    this.#items.set(name, m);
  }

  delete(name: string): void {
    this.#items.delete(name);
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }
}

/** One trainable float32 tensor held as `.weight` (PEFT's lora_A[name], lora_B[name], lora_magnitude_vector[name]). */
export class AdapterWeight extends Module {
  constructor(public weight: Tensor<"float32">) {
    super();
  }
}

export interface AdapterSettings {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  use_rslora: boolean;
  use_dora: boolean;
}

export interface AdapterInit {
  /** PEFT's init_lora_weights; "none" leaves zeros (values about to be loaded from a file). */
  init: boolean | "gaussian" | "none";
  rng: Rng;
}

export class LoraLinear extends Module implements Forward {
  base_layer: Linear;
  lora_A = new ModuleDict<AdapterWeight>();
  lora_B = new ModuleDict<AdapterWeight>();
  lora_magnitude_vector = new ModuleDict<AdapterWeight>();
  readonly #settings = new Map<string, AdapterSettings>();
  #active: string[] = [];
  #merged: string[] = [];
  #disabled = false;
  /** DoRA: the weight norm each merged adapter was merged with (PEFT's `<name>-weight_norm` cache). */
  readonly #mergeNorms = new Map<string, Float32Array>();

  constructor(base: Linear) {
    super();
    this.base_layer = base;
  }

  get inFeatures(): number {
    return this.base_layer.inFeatures;
  }

  get outFeatures(): number {
    return this.base_layer.outFeatures;
  }

  get adapterNames(): string[] {
    return [...this.#settings.keys()];
  }

  get activeAdapters(): string[] {
    return [...this.#active];
  }

  get mergedAdapters(): string[] {
    return [...this.#merged];
  }

  get merged(): boolean {
    return this.#merged.length > 0;
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  settings(name: string): AdapterSettings {
    const s = this.#settings.get(name);
    if (!s) throw new Error(`LoraLinear: no adapter "${name}" (has ${this.adapterNames.join(", ") || "none"})`);
    return s;
  }

  scaling(name: string): number {
    const s = this.settings(name);
    return loraScaling(s.lora_alpha, s.r, s.use_rslora);
  }

  A(name: string): Tensor<"float32"> {
    return this.lora_A.get(name)!.weight;
  }

  B(name: string): Tensor<"float32"> {
    return this.lora_B.get(name)!.weight;
  }

  magnitude(name: string): Tensor<"float32"> | null {
    return this.lora_magnitude_vector.get(name)?.weight ?? null;
  }

  /** Adds (or replaces) adapter `name`, initialised as PEFT's reset_lora_parameters does. */
  addAdapter(name: string, s: AdapterSettings, { init, rng }: AdapterInit): void {
    if (this.#merged.includes(name)) throw new MergeError(`LoraLinear: adapter "${name}" is merged; unmerge before replacing it`);
    const { r } = s;
    const inF = this.inFeatures;
    const outF = this.outFeatures;
    const A = Tensor.zeros([r, inF]);
    const B = Tensor.zeros([outF, r]);
    if (init === true || init === false) {
      // kaiming_uniform_(a=√5) on [r, in]: bound = gain·√3/√fan_in = 1/√in, nn.Linear's default init.
      fillUniform(A.data, 1 / Math.sqrt(inF), rng);
    } else if (init === "gaussian") {
      for (let i = 0; i < A.size; i++) A.data[i] = rng.normal() / r;
    }
    // init false skips PEFT's reset, leaving nn.Linear(r, out)'s own init in B: bound 1/√r.
    if (init === false) fillUniform(B.data, 1 / Math.sqrt(r), rng);
    this.#settings.set(name, { ...s });
    this.lora_A.set(name, new AdapterWeight(A));
    this.lora_B.set(name, new AdapterWeight(B));
    this.lora_magnitude_vector.delete(name);
    if (s.use_dora) {
      const m = Tensor.zeros([outF]);
      if (init !== "none") m.data.set(this.weightNorms(name));
      this.lora_magnitude_vector.set(name, new AdapterWeight(m));
    }
  }

  deleteAdapter(name: string): void {
    if (this.#merged.includes(name)) throw new MergeError(`LoraLinear: adapter "${name}" is merged; unmerge before deleting it`);
    this.#settings.delete(name);
    this.lora_A.delete(name);
    this.lora_B.delete(name);
    this.lora_magnitude_vector.delete(name);
    this.#active = this.#active.filter((n) => n !== name);
  }

  /** Which adapters forward uses (names this layer lacks are skipped, as PEFT does). */
  setActive(names: readonly string[]): void {
    this.#active = [...names];
  }

  setDisabled(disabled: boolean): void {
    this.#disabled = disabled;
  }

  /** Marks adapter `name`'s tensors trainable or frozen. */
  setTrainable(name: string, on: boolean): void {
    for (const t of [this.A(name), this.B(name), this.magnitude(name)]) {
      if (!t) continue;
      t.requiresGrad = on;
      if (!on) t.grad = null;
    }
  }

  forward(x: Tensor): Tensor {
    const base = this.base_layer;
    if (this.#disabled || this.#merged.length > 0) return base.forward(x);
    const plain: LowRankAdapter[] = [];
    const dora: string[] = [];
    for (const name of this.#active) {
      if (!this.#settings.has(name)) continue;
      if (this.#settings.get(name)!.use_dora) dora.push(name);
      else plain.push(this.lowRank(name, true));
    }
    const layout = base.layout;
    if (dora.length === 0) return ops.linear(x, base.weight, base.bias, { layout, adapters: plain });
    if (dora.length === 1 && plain.length === 0) return this.doraOnly(x, dora[0]!);
    let y: Tensor = ops.linear(x, base.weight, base.bias, { layout, adapters: plain });
    for (const name of dora) {
      // (m/n − 1)⊙(x_d·Wᵀ) + (m/n)⊙(s·x_d·Aᵀ·Bᵀ) = (m/n)⊙(x_d·Wᵀ + s·x_d·Aᵀ·Bᵀ) − x_d·Wᵀ
      const xd = this.dropped(x, name);
      const z = ops.linear(xd, base.weight, null, { layout, adapters: [this.lowRank(name, false)] });
      const term = ops.add(ops.mulRowVector(z, this.doraScale(name)), ops.scale(ops.linear(xd, base.weight, null, { layout }), -1));
      y = ops.add(y, term);
    }
    return y;
  }

  /** The one-DoRA-adapter case in one or two GEMMs with W (see the file comment). */
  private doraOnly(x: Tensor, name: string): Tensor {
    const base = this.base_layer;
    const layout = base.layout;
    const xd = this.dropped(x, name);
    const z = ops.linear(xd, base.weight, null, { layout, adapters: [this.lowRank(name, false)] });
    const scaled = ops.mulRowVector(z, this.doraScale(name));
    if (xd === x) return base.bias ? ops.addRowVector(scaled, base.bias) : scaled;
    const rest = ops.linear(ops.add(x, ops.scale(xd, -1)), base.weight, base.bias, { layout });
    return ops.add(rest, scaled);
  }

  /** The adapter as ops.linear takes it; dropout (training only) with a seed from the replayable stream. */
  private lowRank(name: string, withDropout: boolean): LowRankAdapter {
    const p = this.#settings.get(name)!.lora_dropout;
    const a: LowRankAdapter = { A: this.A(name), B: this.B(name), scaling: this.scaling(name) };
    if (withDropout && this.training && p > 0) a.dropout = { p, seed: dropoutSeeds.next() };
    return a;
  }

  private dropped(x: Tensor, name: string): Tensor {
    const p = this.#settings.get(name)!.lora_dropout;
    return this.training && p > 0 ? ops.dropout(x, p, dropoutSeeds.next()) : x;
  }

  /** m / n with n = ‖W + s·B·A‖ per output feature, a constant for autograd. */
  private doraScale(name: string): Tensor {
    const n = noGrad(() => this.weightNorms(name));
    const inv = Tensor.from("float32", n.map((v) => 1 / v), [n.length]);
    return ops.mul(this.magnitude(name)!, inv);
  }

  // ---- ΔW, merge, unmerge ------------------------------------------------------------------------------

  /** Storage rows [row0, row0 + count) of ΔW = s·B·A (rows of ΔWᵀ for Conv1D) into out. */
  deltaRows(name: string, row0: number, count: number, out: Float32Array): void {
    const { r } = this.settings(name);
    const A = this.A(name).data;
    const B = this.B(name).data;
    const inF = this.inFeatures;
    const outF = this.outFeatures;
    const s = this.scaling(name);
    if (this.base_layer.layout === "out_in") {
      backend().gemm({
        M: count, N: inF, K: r, transA: false, transB: false, a: B, aOffset: row0 * r, lda: r,
        b: { kind: "f32", data: A, offset: 0, ld: inF }, c: out, cOffset: 0, ldc: inF, alpha: s, beta: 0,
      });
    } else {
      // ΔWᵀ[i, :] = s·Σ_k A[k, i]·B[:, k]
      backend().gemm({
        M: count, N: outF, K: r, transA: true, transB: true, a: A, aOffset: row0, lda: inF,
        b: { kind: "f32", data: B, offset: 0, ld: r }, c: out, cOffset: 0, ldc: outF, alpha: s, beta: 0,
      });
    }
  }

  /** ΔW of adapter `name` in the base weight's storage layout ([out, in], or [in, out] for Conv1D). */
  deltaWeight(name: string): Tensor<"float32"> {
    const shape = this.base_layer.weight.shape;
    const out = new Float32Array(shape[0]! * shape[1]!);
    this.deltaRows(name, 0, shape[0]!, out);
    return Tensor.from("float32", out, shape);
  }

  /** ‖W + ΔW‖ per output feature over the current base weight (DoRA's weight norm). */
  weightNorms(name: string, store: RowStore = weightStore(this.base_layer.weight, "LoraLinear")): Float32Array {
    const sums = new Float64Array(this.outFeatures);
    const rowsAreOutputs = this.base_layer.layout === "out_in";
    const delta = new Float32Array(Math.min(BLOCK_ROWS, store.rows) * store.cols);
    forEachBlock(store, (row0, count, w) => {
      this.deltaRows(name, row0, count, delta);
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < store.cols; j++) {
          const v = w[i * store.cols + j]! + delta[i * store.cols + j]!;
          sums[rowsAreOutputs ? row0 + i : j] += v * v;
        }
      }
    });
    return Float32Array.from(sums, Math.sqrt);
  }

  /** Adds adapter `name` into the matrix held by `store` (W += ΔW; DoRA: W ← (m/n)⊙(W + ΔW)). Returns n for DoRA. */
  private mergeInto(store: RowStore, name: string): Float32Array | null {
    const m = this.magnitude(name);
    const norms = m ? this.weightNorms(name, store) : null;
    const factor = m && norms ? m.data.map((v, j) => v / norms[j]!) : null;
    this.rewrite(store, name, (w, d, i, j, rowsAreOutputs) => {
      const v = w + d;
      return factor ? v * factor[rowsAreOutputs ? i : j]! : v;
    });
    return norms;
  }

  private unmergeFrom(store: RowStore, name: string): void {
    const m = this.magnitude(name);
    const norms = this.#mergeNorms.get(name);
    const factor = m && norms ? m.data.map((v, j) => v / norms[j]!) : null;
    this.rewrite(store, name, (w, d, i, j, rowsAreOutputs) => (factor ? w / factor[rowsAreOutputs ? i : j]! : w) - d);
  }

  /** w ← f(w, Δ, output-row index, column index) over the matrix, block by block. */
  private rewrite(store: RowStore, name: string, f: (w: number, d: number, i: number, j: number, rowsAreOutputs: boolean) => number): void {
    const rowsAreOutputs = this.base_layer.layout === "out_in";
    const delta = new Float32Array(Math.min(BLOCK_ROWS, store.rows) * store.cols);
    forEachBlock(store, (row0, count, w) => {
      this.deltaRows(name, row0, count, delta);
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < store.cols; j++) {
          const k = i * store.cols + j;
          w[k] = f(w[k]!, delta[k]!, row0 + i, j, rowsAreOutputs);
        }
      }
      store.write(row0, count, w);
    });
  }

  /** Merges adapters (default: the active ones not merged yet) into the base weight, in place. */
  merge(names: readonly string[] = this.#active): void {
    const todo = names.filter((n) => this.#settings.has(n) && !this.#merged.includes(n));
    if (todo.length === 0) return;
    const store = weightStore(this.base_layer.weight, "LoraLinear.merge");
    for (const name of todo) {
      const norms = this.mergeInto(store, name);
      if (norms) this.#mergeNorms.set(name, norms);
      this.#merged.push(name);
    }
  }

  /** Subtracts merged adapters again, last merged first. */
  unmerge(): void {
    const store = weightStore(this.base_layer.weight, "LoraLinear.unmerge");
    while (this.#merged.length > 0) {
      const name = this.#merged[this.#merged.length - 1]!;
      this.unmergeFrom(store, name);
      this.#mergeNorms.delete(name);
      this.#merged.pop();
    }
  }

  /**
   * The weight with `names` merged, as a new float32 tensor (storage layout); the layer is unchanged.
   * Adapters already merged in place are already in the base weight and are not added again.
   */
  mergedWeight(names: readonly string[] = this.#active): Tensor<"float32"> {
    const w = toFloat32Tensor(this.base_layer.weight);
    const [rows, cols] = w.shape as [number, number];
    const store = bufferStore(w.data, rows, cols);
    for (const name of names) if (this.#settings.has(name) && !this.#merged.includes(name)) this.mergeInto(store, name);
    return w;
  }
}

function fillUniform(d: Float32Array, bound: number, rng: Rng): void {
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-bound, bound);
}
