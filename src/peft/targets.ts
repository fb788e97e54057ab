// Which modules get an adapter: one pure predicate over a module path, as PEFT's
// `check_target_module_exists` (tuners/tuners_utils.py) decides it, plus the rank/alpha pattern lookup
// (`get_pattern_key`, utils/other.py). Patterns are Python regexes; the subset adapters use (names,
// dots, alternation, classes, quantifiers) means the same in JavaScript.

import type { LoraConfig } from "./config.ts";

/** Python's re.fullmatch. */
function fullMatch(pattern: string, key: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(key);
}

/** A list entry matches the exact path or a `.`-suffix of it; a string is a regex that must match the whole path. */
function matchesNames(spec: string[] | string, key: string): boolean {
  if (typeof spec === "string") return fullMatch(spec, key);
  return spec.some((name) => key === name || key.endsWith(`.${name}`));
}

/** The layer index in a path such as `model.layers.3.self_attn.q_proj`, under `layers_pattern` if given. */
export function layerIndexOf(key: string, layersPattern: string[] | string | null): number | null {
  const patterns = layersPattern === null || layersPattern.length === 0 ? null : typeof layersPattern === "string" ? [layersPattern] : layersPattern;
  const regexes = patterns ? patterns.map((p) => new RegExp(`^.*\\.${p}\\.(\\d+)\\.`)) : [/^.*\.[^.]*\.(\d+)\./];
  for (const re of regexes) {
    const m = re.exec(key);
    if (m) return Number(m[1]);
  }
  return null;
}

/** True when modules_to_save names this module or one of its ancestors (PEFT never puts a LoRA inside those). */
export function isInModulesToSave(key: string, modulesToSave: string[] | null): boolean {
  return (modulesToSave ?? []).some((m) => new RegExp(`(^|.*\\.)${m}($|\\..*)`).test(key));
}

export type TargetConfig = Pick<LoraConfig, "target_modules" | "exclude_modules" | "layers_to_transform" | "layers_pattern" | "modules_to_save">;

/**
 * Whether the module at `key` (its dotted path in the base model) gets an adapter. `target_modules` must
 * already be resolved (not null, not "all-linear"): see resolveTargetModules.
 */
export function isTargetModule(config: TargetConfig, key: string): boolean {
  const { target_modules: targets, exclude_modules: excludes } = config;
  if (targets === null) throw new Error("isTargetModule: target_modules must be resolved first");
  if (excludes !== null && excludes.length > 0 && matchesNames(excludes, key)) return false;
  if (isInModulesToSave(key, config.modules_to_save)) return false;
  if (typeof targets === "string") return fullMatch(targets, key);
  if (targets.includes(key)) return true;
  if (!targets.some((name) => key.endsWith(`.${name}`))) return false;
  const layers = config.layers_to_transform;
  if (layers === null || (Array.isArray(layers) && layers.length === 0)) return true;
  const index = layerIndexOf(key, config.layers_pattern);
  if (index === null) return false;
  return typeof layers === "number" ? index === layers : layers.includes(index);
}

/** The rank_pattern / alpha_pattern key that applies to `key`, if any: `(.*\.)?(<pattern>)$` from the start. */
export function patternKeyFor(patterns: Record<string, number>, key: string): string | null {
  for (const p of Object.keys(patterns)) if (new RegExp(`^(.*\\.)?(${p})$`).test(key)) return p;
  return null;
}

/** Rank and alpha of the adapter at `key`, after rank_pattern and alpha_pattern. */
export function rankAndAlpha(config: Pick<LoraConfig, "r" | "lora_alpha" | "rank_pattern" | "alpha_pattern">, key: string): { r: number; alpha: number } {
  const rk = patternKeyFor(config.rank_pattern, key);
  const ak = patternKeyFor(config.alpha_pattern, key);
  return { r: rk === null ? config.r : config.rank_pattern[rk]!, alpha: ak === null ? config.lora_alpha : config.alpha_pattern[ak]! };
}

/** PEFT's default target_modules per model_type (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
export const DEFAULT_TARGET_MODULES: Readonly<Record<string, readonly string[]>> = {
  llama: ["q_proj", "v_proj"],
  mistral: ["q_proj", "v_proj"],
  qwen2: ["q_proj", "v_proj"],
  qwen3: ["q_proj", "v_proj"],
  gpt2: ["c_attn"],
  // PEFT has none for phi3, smollm3 or gemma3 (Gemma3ForConditionalGeneration): they must name the modules.
  gemma2: ["q_proj", "v_proj"],
  gemma3_text: ["q_proj", "v_proj"],
};

/**
 * target_modules as a concrete list or regex: null → the architecture's default; "all-linear" (any case)
 * → the last path component of every linear layer except the output head, as PEFT's
 * `_maybe_include_all_linear_layers` does.
 */
export function resolveTargetModules(
  targets: string[] | string | null,
  modelType: string,
  linearPaths: readonly string[],
  headPath: string,
): string[] | string {
  if (targets === null) {
    const def = DEFAULT_TARGET_MODULES[modelType];
    if (!def) throw new Error(`target_modules is not set and there is no default for model_type "${modelType}": name the modules`);
    return [...def];
  }
  if (typeof targets === "string" && targets.toLowerCase() === "all-linear") {
    const names = new Set(linearPaths.filter((p) => p !== headPath).map((p) => p.slice(p.lastIndexOf(".") + 1)));
    names.delete(headPath.slice(headPath.lastIndexOf(".") + 1));
    return [...names];
  }
  return targets;
}
