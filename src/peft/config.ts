// LoraConfig is adapter_config.json: field names are PEFT's JSON keys, and one parser reads and checks the
// file. What PEFT 0.21 writes was read from its `LoraConfig` (tuners/lora/config.py) and from the fixture
// files it saved; the keys we do not act on (corda, eva, loftq, megatron, qalora, ...) are accepted,
// reported as notes when set to something other than their default, and written back unchanged.

import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";

export class LoraConfigError extends Error {}

export type BiasMode = "none" | "all" | "lora_only";
/** PEFT's init_lora_weights: true (kaiming-uniform A, zero B), "gaussian" (A ~ N(0, 1/r)), false (random B too). */
export type InitLoraWeights = boolean | string;

export interface LoraConfig {
  peft_type: "LORA";
  task_type: string | null;
  base_model_name_or_path: string | null;
  revision: string | null;
  inference_mode: boolean;
  /** Rank of A [r, in] and B [out, r]. */
  r: number;
  /** Scaling = lora_alpha / r (or / √r with use_rslora). */
  lora_alpha: number;
  lora_dropout: number;
  /** A list (exact name or `.`-suffix match), a regex (full match), "all-linear", or null (per-architecture default). */
  target_modules: string[] | string | null;
  exclude_modules: string[] | string | null;
  fan_in_fan_out: boolean;
  bias: BiasMode;
  use_rslora: boolean;
  use_dora: boolean;
  init_lora_weights: InitLoraWeights;
  modules_to_save: string[] | null;
  layers_to_transform: number[] | number | null;
  layers_pattern: string[] | string | null;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  peft_version: string;
  /** Keys PEFT writes that peft-ts does not act on, kept as read so a save writes them back. */
  [ignoredKey: string]: unknown;
}

/** The PEFT version whose adapter_config.json layout we write (and whose key set we reproduce). */
export const PEFT_FORMAT_VERSION = "0.21.0";

/** Keys PEFT 0.21 writes that have no effect here, with the value PEFT writes by default. */
export const IGNORED_KEY_DEFAULTS: Readonly<Record<string, unknown>> = Object.freeze({
  alora_invocation_tokens: null,
  arrow_config: null,
  auto_mapping: null,
  corda_config: null,
  ensure_weight_tying: false,
  eva_config: null,
  kasa_config: null,
  layer_replication: null,
  loftq_config: {},
  lora_bias: false,
  lora_ga_config: null,
  megatron_config: null,
  megatron_core: "megatron.core",
  monteclora_config: null,
  qalora_group_size: 16,
  target_parameters: null,
  trainable_token_indices: null,
  use_bdlora: null,
  use_qalora: false,
  velora_config: null,
});

export function defaultLoraConfig(): LoraConfig {
  return {
    ...structuredClone(IGNORED_KEY_DEFAULTS),
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: null,
    revision: null,
    inference_mode: false,
    r: 8,
    lora_alpha: 8,
    lora_dropout: 0,
    target_modules: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    bias: "none",
    use_rslora: false,
    use_dora: false,
    init_lora_weights: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    peft_version: PEFT_FORMAT_VERSION,
  };
}

/** Per-key checks: each returns the value to keep or throws through `bad`. */
type Check = (v: unknown, bad: (why: string) => never) => unknown;

const isStrList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");
const isIntList = (v: unknown): v is number[] => Array.isArray(v) && v.every((n) => Number.isInteger(n));
const nullable = (c: Check): Check => (v, bad) => (v === null || v === undefined ? null : c(v, bad));
const bool: Check = (v, bad) => (typeof v === "boolean" ? v : bad("must be true or false"));
const str: Check = (v, bad) => (typeof v === "string" ? v : bad("must be a string"));
const strOrList: Check = (v, bad) => (typeof v === "string" || isStrList(v) ? (Array.isArray(v) ? [...v] : v) : bad("must be a string or a list of strings"));

function numberMap(v: unknown, bad: (why: string) => never, integer: boolean): Record<string, number> {
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) bad("must be an object of name → number");
  for (const [k, n] of Object.entries(v as object)) {
    if (typeof n !== "number" || !Number.isFinite(n) || (integer && (!Number.isInteger(n) || n <= 0))) {
      bad(`entry "${k}" must be a ${integer ? "positive integer" : "number"}, got ${JSON.stringify(n)}`);
    }
  }
  return { ...(v as Record<string, number>) };
}

const CHECKS: Record<string, Check> = {
  peft_type: (v, bad) => (v === "LORA" ? v : bad(`must be "LORA" (this loader reads LoRA adapters only)`)),
  task_type: nullable(str),
  base_model_name_or_path: nullable(str),
  revision: nullable(str),
  inference_mode: bool,
  r: (v, bad) => (Number.isInteger(v) && (v as number) > 0 ? v : bad("must be a positive integer")),
  lora_alpha: (v, bad) => (typeof v === "number" && Number.isFinite(v) ? v : bad("must be a number")),
  lora_dropout: (v, bad) => (typeof v === "number" && v >= 0 && v < 1 ? v : bad("must be a number in [0, 1)")),
  target_modules: nullable(strOrList),
  exclude_modules: nullable(strOrList),
  fan_in_fan_out: bool,
  bias: (v, bad) => (v === "none" || v === "all" || v === "lora_only" ? v : bad(`must be "none", "all" or "lora_only"`)),
  use_rslora: bool,
  use_dora: bool,
  init_lora_weights: (v, bad) => (typeof v === "boolean" || typeof v === "string" ? v : bad(`must be true, false or a method name such as "gaussian"`)),
  modules_to_save: nullable((v, bad) => (isStrList(v) ? [...v] : bad("must be a list of module names"))),
  layers_to_transform: nullable((v, bad) => (Number.isInteger(v) ? v : isIntList(v) ? [...v] : bad("must be an integer or a list of integers"))),
  layers_pattern: nullable(strOrList),
  rank_pattern: (v, bad) => numberMap(v, bad, true),
  alpha_pattern: (v, bad) => numberMap(v, bad, false),
  peft_version: nullable(str),
};

export interface ParsedConfig {
  config: LoraConfig;
  /** Things worth telling the user: ignored settings, unknown keys. */
  notes: string[];
}

/**
 * Checks a config object (adapter_config.json's content, or a partial one given in code) and fills in
 * PEFT's defaults. Invalid values throw LoraConfigError naming the key and `source`.
 */
export function parseLoraConfig(raw: unknown, source = "LoraConfig"): ParsedConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new LoraConfigError(`${source}: not a JSON object`);
  const config = defaultLoraConfig();
  const notes: string[] = [];
  const out = config as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value === undefined) continue; // a Partial<LoraConfig> in code: not given
    const check = CHECKS[key];
    const bad = (why: string): never => {
      throw new LoraConfigError(`${source}: "${key}" ${why}, got ${JSON.stringify(value)}`);
    };
    if (check) {
      const v = check(value, bad);
      out[key] = key === "peft_version" && v === null ? PEFT_FORMAT_VERSION : v;
    } else if (key in IGNORED_KEY_DEFAULTS) {
      out[key] = structuredClone(value);
      if (!isDefaultish(value, IGNORED_KEY_DEFAULTS[key])) notes.push(`${source}: "${key}" = ${JSON.stringify(value)} is ignored by peft-ts`);
    } else {
      out[key] = structuredClone(value);
      notes.push(`${source}: unknown key "${key}" ignored`);
    }
  }
  crossCheck(config, source, notes);
  return { config, notes };
}

function isDefaultish(value: unknown, def: unknown): boolean {
  if (value === null || value === undefined || value === false) return true;
  if (typeof value === "object" && Object.keys(value as object).length === 0) return true;
  return JSON.stringify(value) === JSON.stringify(def);
}

/** PEFT's __post_init__ rules that involve more than one key. */
function crossCheck(c: LoraConfig, source: string, notes: string[]): void {
  const regexTargets = typeof c.target_modules === "string" && c.target_modules.toLowerCase() !== "all-linear";
  if (regexTargets && c.layers_to_transform !== null) {
    throw new LoraConfigError(`${source}: "layers_to_transform" cannot be used when "target_modules" is a regex string`);
  }
  if (regexTargets && c.layers_pattern !== null) {
    throw new LoraConfigError(`${source}: "layers_pattern" cannot be used when "target_modules" is a regex string`);
  }
  if (c.layers_pattern !== null && c.layers_pattern.length > 0 && c.layers_to_transform === null) {
    throw new LoraConfigError(`${source}: "layers_pattern" is set but "layers_to_transform" is not`);
  }
  if (c.use_dora && c.megatron_config) throw new LoraConfigError(`${source}: "use_dora" does not support "megatron_config"`);
  if (typeof c.init_lora_weights === "string" && c.init_lora_weights !== "gaussian") {
    notes.push(`${source}: "init_lora_weights" = "${c.init_lora_weights}" only matters when an adapter is created; peft-ts creates "gaussian", true or false`);
  }
}

/** Reads `<dir>/adapter_config.json`. */
export function readLoraConfig(dir: string, onNote: (note: string) => void = defaultNote): LoraConfig {
  const file = join(dir, "adapter_config.json");
  if (!existsSync(file)) throw new LoraConfigError(`${file}: not found (is this a PEFT adapter folder?)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new LoraConfigError(`${file}: malformed JSON: ${(e as Error).message}`);
  }
  const { config, notes } = parseLoraConfig(raw, file);
  notes.forEach(onNote);
  return config;
}

function defaultNote(note: string): void {
  process.stderr.write(`peft-ts: note: ${note}\n`);
}

/** adapter_config.json text as PEFT writes it: every key, sorted, two-space indent. */
export function serializeLoraConfig(config: LoraConfig): string {
  const full: Record<string, unknown> = { ...structuredClone(IGNORED_KEY_DEFAULTS), ...config };
  const sorted = Object.fromEntries(Object.keys(full).sort().map((k) => [k, full[k] === undefined ? null : full[k]]));
  return JSON.stringify(sorted, null, 2);
}

/** Scaling of an adapter: α/r, or α/√r with rsLoRA. */
export function loraScaling(alpha: number, r: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}
