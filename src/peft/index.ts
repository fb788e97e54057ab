// LoRA for peft-ts, compatible with Hugging Face PEFT both ways: adapters are the files PEFT writes and reads.

import type { CausalLM } from "../models/index.ts";
import { loadPeftModel, type PeftModel } from "./model.ts";

export {
  parseLoraConfig,
  readLoraConfig,
  serializeLoraConfig,
  defaultLoraConfig,
  loraScaling,
  LoraConfigError,
  PEFT_FORMAT_VERSION,
  type LoraConfig,
  type BiasMode,
  type ParsedConfig,
} from "./config.ts";
export { isTargetModule, rankAndAlpha, resolveTargetModules, layerIndexOf, DEFAULT_TARGET_MODULES } from "./targets.ts";
export { LoraLinear, ModuleDict, AdapterWeight, type AdapterSettings } from "./lora-layer.ts";
export { ModulesToSaveWrapper } from "./modules-to-save.ts";
export { MergeError } from "./weight-rows.ts";
export { InjectionError, planInjection, type InjectionPlan } from "./inject.ts";
export { getPeftModel, loadPeftModel, PeftModel, PEFT_PREFIX, type PeftOptions, type ParameterReport } from "./model.ts";
export {
  adapterStateDict,
  AdapterFileError,
  ADAPTER_CONFIG,
  ADAPTER_WEIGHTS,
  type SaveAdapterOptions,
  type LoadAdapterOptions,
} from "./adapter-io.ts";
export { saveMergedModel, writeModelFiles, mergedTensors, type ExportOptions, type ExportDtype } from "./export.ts";

/**
 * One call for `--adapter DIR` on generate / forward: loads the PEFT adapter folder onto `model`, frozen and
 * active. Run the model as usual through the returned PeftModel's `.base` (or its `forward`).
 */
export function applyAdapterFromDir(model: CausalLM, dir: string): PeftModel {
  return loadPeftModel(model, dir, { isTrainable: false });
}
