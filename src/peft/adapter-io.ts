// Adapter folders exactly as PEFT writes and reads them (utils/save_and_load.py):
//   adapter_config.json        the LoraConfig (config.ts), inference_mode true, as save_pretrained writes it
//   adapter_model.safetensors  metadata {"format": "pt"}; keys without the adapter name:
//     base_model.model.<path>.lora_A.weight [r, in], .lora_B.weight [out, r], DoRA .lora_magnitude_vector [out]
//     modules_to_save: base_model.model.<path>.<param> (the trained copy; `modules_to_save.<adapter>.` dropped)
//     bias "all": every base parameter named *bias* (LoRA layers' as <path>.base_layer.bias)
// Loading also takes keys that still carry an adapter name (`lora_A.<name>.weight`,
// `lora_magnitude_vector.<name>.weight`, `modules_to_save.<name>.`), as set_peft_model_state_dict does.
// Deliberate difference: with bias "lora_only" we save the LoRA layers' biases (<path>.base_layer.bias);
// PEFT 0.21 looks them up under a name its state dict does not have and saves none. PEFT loads ours.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Tensor, fmtShape } from "../tensor/tensor.ts";
import { SafetensorsReader, writeSafetensors } from "../io/safetensors.ts";
import { commitDirAtomic, createTempDirFor, writeFileAtomic } from "../io/atomic.ts";
import type { CausalLM } from "../models/index.ts";
import { readLoraConfig, serializeLoraConfig, type LoraConfig } from "./config.ts";
import { applyPlan, loraLayers, planInjection, savedModuleWrappers, type InjectionPlan } from "./inject.ts";
import type { LoraLinear } from "./lora-layer.ts";
import type { ModulesToSaveWrapper } from "./modules-to-save.ts";
import { Rng } from "../util/random.ts";

export const ADAPTER_CONFIG = "adapter_config.json";
export const ADAPTER_WEIGHTS = "adapter_model.safetensors";
const PREFIX = "base_model.model.";

export class AdapterFileError extends Error {}

export interface SaveAdapterOptions {
  /** Which adapter to save (default: the first active one). */
  adapterName?: string;
  /** Recorded as base_model_name_or_path (PEFT uses it to find the base model). */
  baseModelNameOrPath?: string | null;
}

export interface LoadAdapterOptions {
  adapterName?: string;
  /** Train the loaded adapter (PEFT's is_trainable); default false: frozen, inference_mode true. */
  isTrainable?: boolean;
}

/** What a PeftModel exposes to the saver (kept structural to avoid an import cycle). */
interface AdapterSource {
  activeAdapters: string[];
  config(name: string): LoraConfig;
}

/** The adapter's tensors under the names PEFT saves them with. */
export function adapterStateDict(model: CausalLM, name: string, config: LoraConfig): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  for (const [path, layer] of loraLayers(model)) {
    if (!layer.adapterNames.includes(name)) continue;
    out.push([`${PREFIX}${path}.lora_A.weight`, layer.A(name)], [`${PREFIX}${path}.lora_B.weight`, layer.B(name)]);
    const m = layer.magnitude(name);
    if (m) out.push([`${PREFIX}${path}.lora_magnitude_vector`, m]);
  }
  const wrappers = savedModuleWrappers(model);
  for (const [path, w] of wrappers) {
    const copy = w.modules_to_save.get(name);
    if (!copy) continue;
    for (const [k, p] of copy.namedParameters()) if (p instanceof Tensor) out.push([`${PREFIX}${path}.${k}`, p]);
  }
  for (const [pname, p] of biasParameters(model, config, wrappers)) out.push([`${PREFIX}${pname}`, p]);
  return out;
}

/** Biases saved (and trained) for config.bias, under PEFT's parameter names. */
function biasParameters(model: CausalLM, config: LoraConfig, wrappers: [string, ModulesToSaveWrapper][]): [string, Tensor][] {
  if (config.bias === "none") return [];
  const insideWrapper = (n: string) => wrappers.some(([p]) => n.startsWith(`${p}.`));
  const loraBias = new Set(loraLayers(model).map(([p]) => `${p}.base_layer.bias`));
  return model
    .namedParameters()
    .filter((e): e is [string, Tensor] => e[1] instanceof Tensor && !insideWrapper(e[0]))
    .filter(([n]) => (config.bias === "all" ? n.includes("bias") : loraBias.has(n)));
}

/** save_pretrained: adapter_config.json + adapter_model.safetensors, written atomically. */
export function saveAdapterFrom(peft: AdapterSource, model: CausalLM, dir: string, opts: SaveAdapterOptions): void {
  const name = opts.adapterName ?? peft.activeAdapters[0] ?? "default";
  const base = peft.config(name);
  const config: LoraConfig = {
    ...base,
    inference_mode: true,
    base_model_name_or_path: opts.baseModelNameOrPath !== undefined ? opts.baseModelNameOrPath : base.base_model_name_or_path,
  };
  const tensors = adapterStateDict(model, name, config);
  if (tensors.length === 0) throw new AdapterFileError(`saveAdapter: adapter "${name}" has no tensors in this model`);
  const configText = serializeLoraConfig(config);
  const write = (into: string): void => {
    writeSafetensors(join(into, ADAPTER_WEIGHTS), tensors, { format: "pt" });
    writeFileAtomic(join(into, ADAPTER_CONFIG), configText);
  };
  if (existsSync(dir) && readdirSync(dir).some((f) => f !== ADAPTER_CONFIG && f !== ADAPTER_WEIGHTS && f !== "README.md")) {
    // A folder with other files in it (a training run's output): replace our two files, each atomically.
    write(dir);
    return;
  }
  const tmp = createTempDirFor(dir);
  write(tmp);
  commitDirAtomic(tmp, dir);
}

/** What a key may hold once injected: its shape, and where its values go. */
interface Slot {
  shape: readonly number[];
  required: boolean;
  assign: (values: Float32Array) => void;
}

/**
 * load_adapter: reads the folder, checks every tensor against where the config puts adapters in this model
 * (before changing anything), then injects adapter `name` and copies the values in. Returns the config.
 */
export function loadAdapterInto(model: CausalLM, dir: string, name: string, opts: LoadAdapterOptions, onNote: (n: string) => void): LoraConfig {
  const config = { ...readLoraConfig(dir, onNote), inference_mode: !(opts.isTrainable ?? false) };
  const file = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(file)) {
    const bin = existsSync(join(dir, "adapter_model.bin")) ? " (adapter_model.bin, a pickle, is not read: convert it to safetensors)" : "";
    throw new AdapterFileError(`${file}: not found${bin}`);
  }
  const plan = planInjection(model, config);
  const reader = SafetensorsReader.open(file);
  try {
    const slots = expectedSlots(model, plan, name);
    const keyOf = new Map<string, string>();
    for (const key of reader.names()) {
      const canonical = canonicalKey(key);
      const slot = slots.get(canonical);
      if (!slot) throw new AdapterFileError(`${file}: tensor "${key}" has no place in this model: ${whyNoSlot(canonical, plan)}`);
      const shape = reader.entry(key).shape;
      if (shape.length !== slot.shape.length || shape.some((d, i) => d !== slot.shape[i])) {
        throw new AdapterFileError(`${file}: tensor "${key}" has shape ${fmtShape(shape)}, the model needs ${fmtShape(slot.shape)} (r from the config is ${config.r})`);
      }
      if (keyOf.has(canonical)) throw new AdapterFileError(`${file}: tensors "${keyOf.get(canonical)}" and "${key}" both hold ${canonical}`);
      keyOf.set(canonical, key);
    }
    const missing = [...slots].filter(([k, s]) => s.required && !keyOf.has(k)).map(([k]) => PREFIX + k);
    if (missing.length > 0) {
      throw new AdapterFileError(`${file}: missing ${missing.length} tensor(s) the config implies: ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", ..." : ""}`);
    }
    applyPlan(model, plan, name, { init: "none", rng: new Rng(0) }, onNote);
    const placed = expectedSlots(model, plan, name);
    for (const [canonical, key] of keyOf) placed.get(canonical)!.assign(reader.readAsFloat32(key).data);
  } finally {
    reader.close();
  }
  return plan.config;
}

/** A file key without PEFT's prefix and without an adapter name inside it. */
export function canonicalKey(key: string): string {
  let k = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : key;
  k = k.replace(/\.(lora_[AB])\.[^.]+\.weight$/, ".$1.weight");
  k = k.replace(/\.lora_magnitude_vector(\.[^.]+)?\.weight$/, ".lora_magnitude_vector");
  k = k.replace(/\.modules_to_save\.[^.]+\./, ".");
  return k;
}

/** Every tensor the plan allows, keyed by canonical name. Valid before and after injection. */
function expectedSlots(model: CausalLM, plan: InjectionPlan, name: string): Map<string, Slot> {
  const slots = new Map<string, Slot>();
  for (const t of plan.lora) {
    const layer = t.module as LoraLinear | { inFeatures: number; outFeatures: number };
    const { inFeatures: inF, outFeatures: outF } = layer;
    const live = () => model.getModule(t.path) as LoraLinear;
    slots.set(`${t.path}.lora_A.weight`, { shape: [t.r, inF], required: true, assign: (v) => live().A(name).data.set(v) });
    slots.set(`${t.path}.lora_B.weight`, { shape: [outF, t.r], required: true, assign: (v) => live().B(name).data.set(v) });
    if (plan.config.use_dora) {
      slots.set(`${t.path}.lora_magnitude_vector`, { shape: [outF], required: true, assign: (v) => live().magnitude(name)!.data.set(v) });
    }
    if (plan.config.bias !== "none") {
      const bias = (live() as { base_layer?: { bias: Tensor | null }; bias?: Tensor | null }).base_layer?.bias ?? (t.module as { bias?: Tensor | null }).bias;
      if (bias) slots.set(`${t.path}.base_layer.bias`, { shape: bias.shape, required: false, assign: (v) => (bias.data as Float32Array).set(v) });
    }
  }
  for (const { path, module } of plan.modulesToSave) {
    for (const [k, p] of module.namedParameters()) {
      // Before injection the module is the original; after, the wrapper (original_module.*, modules_to_save.<name>.*).
      const key = k.replace(/^original_module\./, "").replace(/^modules_to_save\.[^.]+\./, "");
      if (slots.has(`${path}.${key}`)) continue;
      const target = () => {
        const copy = (model.getModule(path) as ModulesToSaveWrapper).modules_to_save.get(name)!;
        return copy.namedParameters().find(([n]) => n === key)![1] as Tensor;
      };
      slots.set(`${path}.${key}`, { shape: p.shape, required: true, assign: (v) => (target().data as Float32Array).set(v) });
    }
  }
  if (plan.config.bias === "all") {
    const covered = (n: string) => plan.lora.some((t) => n.startsWith(`${t.path}.`)) || plan.modulesToSave.some((m) => n.startsWith(`${m.path}.`));
    for (const [n, p] of model.namedParameters()) {
      if (!n.includes("bias") || covered(n) || !(p instanceof Tensor)) continue;
      slots.set(n, { shape: p.shape, required: false, assign: (v) => (p.data as Float32Array).set(v) });
    }
  }
  return slots;
}

function whyNoSlot(key: string, plan: InjectionPlan): string {
  const m = /^(.*)\.(lora_[AB]\.weight|lora_magnitude_vector)$/.exec(key);
  if (m) {
    return `module "${m[1]}" is not a LoRA target of this config (target_modules ${JSON.stringify(plan.config.target_modules)}` +
      `${m[2] === "lora_magnitude_vector" && !plan.config.use_dora ? ", and use_dora is false" : ""}) or does not exist in the model`;
  }
  return "it is neither a LoRA tensor of a targeted module nor a parameter of modules_to_save / a saved bias";
}
