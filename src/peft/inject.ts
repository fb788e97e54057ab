// Where an adapter goes in a model, and putting it there. planInjection walks the module tree once with the
// target predicate (targets.ts) and modules_to_save, and returns what would change without changing it, so
// a loader can check an adapter file against the plan before touching the model. applyPlan then wraps each
// target with the first factory that accepts it, as PEFT's `_create_new_module` dispatchers do.

import { Module, Linear } from "../nn/index.ts";
import type { CausalLM } from "../models/index.ts";
import type { Parameter } from "../nn/index.ts";
import type { LoraConfig } from "./config.ts";
import { isTargetModule, rankAndAlpha, resolveTargetModules } from "./targets.ts";
import { LoraLinear, type AdapterInit } from "./lora-layer.ts";
import { ModulesToSaveWrapper } from "./modules-to-save.ts";

export class InjectionError extends Error {}

export interface LoraTarget {
  /** Module path in the base model, e.g. `model.layers.0.self_attn.q_proj`. */
  path: string;
  module: Module;
  r: number;
  alpha: number;
}

export interface InjectionPlan {
  config: LoraConfig;
  lora: LoraTarget[];
  modulesToSave: { path: string; module: Module }[];
}

/** Modules of the model with their paths, not descending into adapter wrappers (their insides are ours). */
export function visibleModules(model: Module): [string, Module][] {
  const out: [string, Module][] = [];
  const walk = (m: Module, path: string): void => {
    out.push([path, m]);
    if (m instanceof LoraLinear || m instanceof ModulesToSaveWrapper) return;
    for (const [name, child] of m.children()) walk(child, path ? `${path}.${name}` : name);
  };
  walk(model, "");
  return out;
}

export function loraLayers(model: Module): [string, LoraLinear][] {
  return visibleModules(model).filter((e): e is [string, LoraLinear] => e[1] instanceof LoraLinear);
}

export function savedModuleWrappers(model: Module): [string, ModulesToSaveWrapper][] {
  return visibleModules(model).filter((e): e is [string, ModulesToSaveWrapper] => e[1] instanceof ModulesToSaveWrapper);
}

/** Path of the module serving as the model's output head. */
export function headPath(model: CausalLM): string {
  const head = model.head as unknown;
  const found = visibleModules(model).find(([, m]) => m === head);
  return found ? found[0] : "lm_head";
}

/** The config with target_modules made concrete (architecture default, or "all-linear" expanded). */
export function resolveConfig(model: CausalLM, config: LoraConfig): LoraConfig {
  const linears = visibleModules(model)
    .filter(([p, m]) => p !== "" && (m instanceof Linear || m instanceof LoraLinear))
    .map(([p]) => p);
  const target_modules = resolveTargetModules(config.target_modules, model.config.modelType, linears, headPath(model));
  return { ...config, target_modules };
}

export function planInjection(model: CausalLM, config: LoraConfig): InjectionPlan {
  const cfg = resolveConfig(model, config);
  const lora: LoraTarget[] = [];
  const modulesToSave: { path: string; module: Module }[] = [];
  for (const [path, module] of visibleModules(model)) {
    if (path === "") continue;
    if ((cfg.modules_to_save ?? []).some((name) => path.endsWith(name))) {
      modulesToSave.push({ path, module });
      continue;
    }
    if (!isTargetModule(cfg, path)) continue;
    if (!FACTORIES.some((f) => f.accepts(module))) {
      throw new InjectionError(
        `target module "${path}" (${module.constructor.name}) is not supported: LoRA wraps linear layers (nn.Linear, GPT-2 Conv1D); ` +
          `narrow target_modules ${JSON.stringify(cfg.target_modules)}`,
      );
    }
    lora.push({ path, module, ...rankAndAlpha(cfg, path) });
  }
  if (lora.length === 0) {
    throw new InjectionError(`target modules ${JSON.stringify(cfg.target_modules)} not found in the base model (${model.config.architecture})`);
  }
  return { config: cfg, lora, modulesToSave };
}

/** Turns a module into (or extends) its adapter-carrying form; the first factory that accepts a module wins. */
interface WrapperFactory {
  accepts(m: Module): boolean;
  wrap(m: Module, adapter: string, target: LoraTarget, config: LoraConfig, init: AdapterInit): Module;
}

function settingsFor(target: LoraTarget, config: LoraConfig) {
  return { r: target.r, lora_alpha: target.alpha, lora_dropout: config.lora_dropout, use_rslora: config.use_rslora, use_dora: config.use_dora };
}

const FACTORIES: readonly WrapperFactory[] = [
  {
    accepts: (m) => m instanceof LoraLinear,
    wrap: (m, adapter, target, config, init) => {
      (m as LoraLinear).addAdapter(adapter, settingsFor(target, config), init);
      return m;
    },
  },
  {
    accepts: (m) => m instanceof Linear,
    wrap: (m, adapter, target, config, init) => {
      const layer = new LoraLinear(m as Linear);
      layer.addAdapter(adapter, settingsFor(target, config), init);
      return layer;
    },
  },
];

/** Carries out a plan: every target gets adapter `adapter`, every modules_to_save module a copy for it. */
export function applyPlan(model: CausalLM, plan: InjectionPlan, adapter: string, init: AdapterInit, onNote: (m: string) => void): void {
  checkTying(model, plan, onNote);
  for (const target of plan.lora) {
    const factory = FACTORIES.find((f) => f.accepts(target.module))!;
    const wrapped = factory.wrap(target.module, adapter, target, plan.config, init);
    if (wrapped !== target.module) model.setModule(target.path, wrapped);
    target.module = wrapped;
  }
  for (const entry of plan.modulesToSave) {
    const wrapper = entry.module instanceof ModulesToSaveWrapper ? entry.module : new ModulesToSaveWrapper(entry.module);
    wrapper.addAdapter(adapter);
    if (wrapper !== entry.module) model.setModule(entry.path, wrapper);
    entry.module = wrapper;
  }
  if (model.training) model.train(true);
}

/** Tied weights: a LoRA on a tied head is fine; a modules_to_save copy of one unties it, as PEFT warns. */
function checkTying(model: CausalLM, plan: InjectionPlan, onNote: (m: string) => void): void {
  if (!model.config.tieWordEmbeddings) return;
  const tiedPaths = plan.modulesToSave.filter(({ module }) => isTied(model, module));
  if (tiedPaths.length === 0) return;
  if (plan.config.ensure_weight_tying === true) {
    throw new InjectionError(`ensure_weight_tying is not supported: modules_to_save ${tiedPaths.map((t) => t.path).join(", ")} hold tied weights`);
  }
  onNote(
    `modules_to_save ${tiedPaths.map((t) => t.path).join(", ")} hold weights tied to another module; the trained copy is not tied ` +
      "(a merged export writes both and sets tie_word_embeddings to false)",
  );
}

/** Whether one of the module's tensors is also used by another module of the model. */
export function isTied(model: Module, module: Module): boolean {
  const own = new Set<Parameter>(module.namedParameters().map(([, p]) => p));
  for (const [, m] of visibleModules(model)) {
    if (m === module) continue;
    for (const [, p] of m.ownParameters()) if (own.has(p)) return true;
  }
  return false;
}

