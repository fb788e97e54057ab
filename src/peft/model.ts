// PeftModel: a CausalLM with LoRA adapters injected by module path, the base frozen (no gradient buffers),
// only adapter tensors (and modules_to_save copies, and biases when asked) trainable. It mirrors PEFT's
// PeftModel / LoraModel: several named adapters, set_adapter, disable_adapter, merge / unmerge /
// merge_and_unload / unload, add_weighted_adapter ("linear"), save_pretrained / load_adapter.

import { Tensor } from "../tensor/tensor.ts";
import { QuantizedTensor } from "../quant/types.ts";
import { Module, Linear } from "../nn/index.ts";
import type { CausalLM, ModelInput, ModelOutput } from "../models/index.ts";
import { Rng } from "../util/random.ts";
import { parseLoraConfig, type LoraConfig } from "./config.ts";
import { LoraLinear } from "./lora-layer.ts";
import { MergeError } from "./weight-rows.ts";
import { applyPlan, InjectionError, isTied, loraLayers, planInjection, savedModuleWrappers } from "./inject.ts";
import { loadAdapterInto, saveAdapterFrom, type LoadAdapterOptions, type SaveAdapterOptions } from "./adapter-io.ts";

/** PEFT's prefix in front of module paths, in parameter names and adapter files. */
export const PEFT_PREFIX = "base_model.model.";

export interface PeftOptions {
  adapterName?: string;
  /** Seed of the adapter initialisation (A, and B when init_lora_weights is false). */
  seed?: number;
  /** Where notes go (ignored config keys, untied weights); default stderr. */
  onNote?: (note: string) => void;
}

export interface ParameterReport {
  trainable: number;
  total: number;
  percent: number;
  /** PEFT's print_trainable_parameters line. */
  text: string;
}

const stderrNote = (note: string): void => void process.stderr.write(`peft-ts: note: ${note}\n`);

/** Wraps `model` with a new adapter (PEFT's get_peft_model). The base is frozen. */
export function getPeftModel(model: CausalLM, config: Partial<LoraConfig>, opts: PeftOptions = {}): PeftModel {
  model.requiresGrad(false);
  const peft = new PeftModel(model, opts.onNote);
  const name = opts.adapterName ?? "default";
  peft.addAdapter(name, config, { seed: opts.seed ?? 0 });
  peft.setAdapter(name);
  return peft;
}

/** Loads a PEFT adapter folder onto `model` and activates it (PEFT's PeftModel.from_pretrained). */
export function loadPeftModel(model: CausalLM, adapterDir: string, opts: LoadAdapterOptions & { onNote?: (n: string) => void } = {}): PeftModel {
  model.requiresGrad(false);
  const peft = new PeftModel(model, opts.onNote);
  const name = opts.adapterName ?? "default";
  peft.loadAdapter(adapterDir, { ...opts, adapterName: name });
  peft.setAdapter(name);
  return peft;
}

/**
 * The adapted model. As a Module its only child is the base model under "base_model.model", so
 * namedParameters() and trainableParameters() give PEFT's names
 * (`base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight`).
 */
export class PeftModel extends Module {
  readonly base: CausalLM;
  readonly #configs = new Map<string, LoraConfig>();
  #active: string[] = [];
  #released = false;
  readonly #onNote: (note: string) => void;

  constructor(base: CausalLM, onNote: (note: string) => void = stderrNote) {
    super();
    this.base = base;
    this.training = base.training;
    this.#onNote = onNote;
  }

  override children(): [string, Module][] {
    return this.#released ? [] : [["base_model.model", this.base]];
  }

  private get model(): CausalLM {
    if (this.#released) throw new Error("PeftModel: the base model was handed back by mergeAndUnload() / unload(); use the returned model");
    return this.base;
  }

  get adapterNames(): string[] {
    return [...this.#configs.keys()];
  }

  get activeAdapters(): string[] {
    return [...this.#active];
  }

  config(name: string = this.#active[0] ?? "default"): LoraConfig {
    const c = this.#configs.get(name);
    if (!c) throw new Error(`PeftModel: no adapter "${name}" (has ${this.adapterNames.join(", ") || "none"})`);
    return c;
  }

  forward(input: ModelInput): ModelOutput {
    return this.model.forward(input);
  }

  loraLayers(): [string, LoraLinear][] {
    return loraLayers(this.model);
  }

  /** Adds adapter `name`, inactive until setAdapter (then trainable unless config.inference_mode). */
  addAdapter(name: string, config: Partial<LoraConfig> | LoraConfig, opts: { seed?: number; init?: "none" } = {}): void {
    if (this.#configs.has(name)) throw new Error(`PeftModel: adapter "${name}" already exists`);
    const { config: cfg, notes } = parseLoraConfig(config, `adapter "${name}" config`);
    notes.forEach(this.#onNote);
    if (cfg.bias !== "none" && this.#configs.size > 0) {
      throw new InjectionError(`adapter "${name}": bias "${cfg.bias}" is only supported with a single adapter (PEFT's rule)`);
    }
    const init = opts.init ?? initOf(cfg, name);
    const plan = planInjection(this.model, cfg);
    applyPlan(this.model, plan, name, { init, rng: new Rng(opts.seed ?? 0) }, this.#onNote);
    this.#configs.set(name, plan.config);
    this.refreshTrainable();
  }

  deleteAdapter(name: string): void {
    this.config(name);
    for (const [, layer] of this.loraLayers()) if (layer.adapterNames.includes(name)) layer.deleteAdapter(name);
    for (const [, w] of savedModuleWrappers(this.model)) w.deleteAdapter(name);
    this.#configs.delete(name);
    this.setAdapter(this.#active.filter((n) => n !== name));
  }

  /** Activates adapter(s): forward sums active LoRA adapters; modules_to_save follow the single active one. */
  setAdapter(names: string | readonly string[]): void {
    const list = typeof names === "string" ? [names] : [...names];
    for (const n of list) this.config(n);
    const wrappers = savedModuleWrappers(this.model);
    if (list.length > 1 && wrappers.some(([, w]) => list.some((n) => w.adapterNames.includes(n)))) {
      throw new Error(`PeftModel: only one adapter can be active with modules_to_save (asked for ${list.join(", ")})`);
    }
    for (const [, layer] of this.loraLayers()) {
      if (layer.merged) {
        this.#onNote("setAdapter: unmerging the merged adapters first");
        layer.unmerge();
      }
      layer.setActive(list);
    }
    for (const [, w] of wrappers) w.setActive(list.find((n) => w.adapterNames.includes(n)) ?? null);
    this.#active = list;
    this.refreshTrainable();
  }

  /** Active adapters train unless loaded for inference; inactive ones are frozen. Biases per config.bias. */
  private refreshTrainable(): void {
    const trainable = (n: string) => this.#active.includes(n) && !this.#configs.get(n)!.inference_mode;
    for (const [, layer] of this.loraLayers()) for (const n of layer.adapterNames) layer.setTrainable(n, trainable(n));
    for (const [, w] of savedModuleWrappers(this.model)) for (const n of w.adapterNames) w.setTrainable(n, trainable(n));
    for (const n of this.#active) {
      const bias = this.#configs.get(n)!.bias;
      if (bias === "none" || !trainable(n)) continue;
      for (const [pname, p] of this.model.namedParameters()) {
        if (!(p instanceof Tensor) || p.dtype !== "float32") continue;
        if (bias === "all" ? pname.includes("bias") : isLoraBaseBias(pname, this.loraLayers())) p.requiresGrad = true;
      }
    }
  }

  /** PEFT's get_nb_trainable_parameters: every parameter once (tied ones once), 4-bit weights at their logical size. */
  parameterReport(): ParameterReport {
    let trainable = 0;
    let total = 0;
    for (const [, p] of this.namedParameters()) {
      const n = p.size; // a QuantizedTensor's size is its logical element count
      total += n;
      if (p instanceof Tensor && p.requiresGrad) trainable += n;
    }
    const percent = total === 0 ? 0 : (100 * trainable) / total;
    const text = `trainable params: ${groupDigits(trainable)} || all params: ${groupDigits(total)} || trainable%: ${percent.toFixed(4)}`;
    return { trainable, total, percent, text };
  }

  /** Runs fn with every adapter off (the base model's output); merged layers are unmerged first, as PEFT does. */
  withAdaptersDisabled<T>(fn: () => T): T {
    const layers = this.loraLayers();
    const wrappers = savedModuleWrappers(this.model);
    for (const [, l] of layers) {
      if (l.merged) l.unmerge();
      l.setDisabled(true);
    }
    for (const [, w] of wrappers) w.setDisabled(true);
    try {
      return fn();
    } finally {
      for (const [, l] of layers) l.setDisabled(false);
      for (const [, w] of wrappers) w.setDisabled(false);
    }
  }

  /** Merges the active adapters into the base weights in place (float32 and bf16 bases; not quantized, not tied). */
  merge(names: readonly string[] = this.#active): void {
    for (const [path, layer] of this.loraLayers()) {
      if (isTied(this.model, layer.base_layer)) {
        throw new MergeError(`merge: ${path} shares its weight with another module (tied embeddings); use mergeAndUnload(), which unties it`);
      }
      layer.merge(names);
    }
  }

  unmerge(): void {
    for (const [, layer] of this.loraLayers()) layer.unmerge();
  }

  /**
   * Merges the active adapters and returns the plain model (PEFT's merge_and_unload). Float32 and bf16
   * weights are merged in place (bf16 rounds once); a quantized weight is dequantized and the layer becomes
   * a float32 Linear (never re-quantized); a tied weight gets an untied merged copy. This PeftModel is spent.
   */
  mergeAndUnload(): CausalLM {
    const model = this.model;
    for (const [path, layer] of this.loraLayers()) {
      const base = layer.base_layer;
      let merged: Linear;
      if (base.weight instanceof QuantizedTensor || isTied(model, base)) {
        merged = new Linear(layer.mergedWeight(this.#active), base.bias, base.layout);
        if (isTied(model, base)) model.config.tieWordEmbeddings = false;
      } else {
        layer.merge(this.#active);
        merged = base;
      }
      model.setModule(path, merged);
    }
    for (const [path, w] of savedModuleWrappers(model)) model.setModule(path, w.current());
    return this.release();
  }

  /** Removes every adapter and returns the base model with its original weights (merged layers are unmerged). */
  unload(): CausalLM {
    const model = this.model;
    for (const [path, layer] of this.loraLayers()) {
      layer.unmerge();
      model.setModule(path, layer.base_layer);
    }
    for (const [path, w] of savedModuleWrappers(model)) model.setModule(path, w.original_module);
    return this.release();
  }

  private release(): CausalLM {
    const model = this.base;
    model.requiresGrad(false);
    this.#released = true;
    return model;
  }

  /**
   * PEFT's add_weighted_adapter with combination_type "linear": adapters of one rank r combine into
   * A = Σ √(wᵢ·sᵢ)·Aᵢ and B = Σ √(wᵢ·sᵢ)·Bᵢ with scaling 1, so ΔW = (Σ √(wᵢsᵢ)·Bᵢ)(Σ √(wⱼsⱼ)·Aⱼ), cross
   * terms included (this is what PEFT computes; it equals Σ wᵢ·ΔWᵢ only for one adapter). The new adapter
   * is inactive and frozen. Deliberate difference: with use_rslora, PEFT keeps lora_alpha = r, which makes
   * the scaling √r instead of 1; here lora_alpha = √r so the scaling is 1 as intended.
   */
  addWeightedAdapter(names: readonly string[], weights: readonly number[], newName: string): void {
    if (names.length === 0 || names.length !== weights.length) throw new Error("addWeightedAdapter: give one weight per adapter");
    const configs = names.map((n) => this.config(n));
    if (weights.some((w) => !(w >= 0))) throw new Error(`addWeightedAdapter: "linear" takes square roots of the weights; got ${weights.join(", ")}`);
    const r = configs[0]!.r;
    if (configs.some((c) => c.r !== r)) throw new Error(`addWeightedAdapter: "linear" needs adapters of one rank, got ${configs.map((c) => c.r).join(", ")}`);
    if (configs.some((c) => c.use_dora)) throw new Error("addWeightedAdapter: DoRA adapters cannot be combined");
    const base = configs[0]!;
    this.addAdapter(newName, { ...base, r, lora_alpha: base.use_rslora ? Math.sqrt(r) : r, target_modules: unionTargets(configs), rank_pattern: {}, alpha_pattern: {} }, { init: "none" });
    for (const [path, layer] of this.loraLayers()) {
      if (!layer.adapterNames.includes(newName)) continue;
      const A = layer.A(newName).data;
      const B = layer.B(newName).data;
      names.forEach((n, i) => {
        if (!layer.adapterNames.includes(n)) return;
        if (layer.settings(n).r !== r) throw new Error(`addWeightedAdapter: ${path} has rank ${layer.settings(n).r} for "${n}", expected ${r}`);
        const c = Math.sqrt(weights[i]! * layer.scaling(n));
        axpy(A, layer.A(n).data, c);
        axpy(B, layer.B(n).data, c);
      });
    }
  }

  saveAdapter(dir: string, opts: SaveAdapterOptions = {}): void {
    saveAdapterFrom(this, this.model, dir, opts);
  }

  loadAdapter(dir: string, opts: LoadAdapterOptions = {}): void {
    const name = opts.adapterName ?? "default";
    if (this.#configs.has(name)) throw new Error(`PeftModel: adapter "${name}" already exists`);
    const config = loadAdapterInto(this.model, dir, name, opts, this.#onNote);
    this.#configs.set(name, config);
    this.refreshTrainable();
  }
}

function initOf(cfg: LoraConfig, name: string): boolean | "gaussian" {
  const init = cfg.init_lora_weights;
  if (init === true || init === false || init === "gaussian") return init;
  throw new InjectionError(`adapter "${name}": init_lora_weights "${init}" is not supported here (true, false or "gaussian")`);
}

function unionTargets(configs: LoraConfig[]): string[] | string {
  const targets = configs.map((c) => c.target_modules);
  if (targets.every((t) => Array.isArray(t))) return [...new Set(targets.flat() as string[])];
  if (targets.every((t) => typeof t === "string")) return targets.map((t) => `(${t})`).join("|");
  throw new Error("addWeightedAdapter: cannot combine adapters whose target_modules mix lists and regex strings");
}

function isLoraBaseBias(paramName: string, layers: [string, LoraLinear][]): boolean {
  return layers.some(([p]) => paramName === `${p}.base_layer.bias`);
}

function axpy(dst: Float32Array, src: Float32Array, c: number): void {
  for (let i = 0; i < dst.length; i++) dst[i] = dst[i]! + c * src[i]!;
}

/** 1234567 → "1,234,567" (Python's `:,d`). */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

