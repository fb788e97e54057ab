// A run's TrainingArgs as its report shows them: keyed as the flags and config files spell them
// (max-seq-len, not maxSeqLen), only the settings that took part (no LoRA keys for full fine-tuning, no
// SGD keys for AdamW), and epochs said to be unused when max-steps decided the length.

import { basename } from "node:path";
import { ARG_KEYS, kebabKey, type TrainingArgs } from "../args.ts";

const LORA_KEYS: (keyof TrainingArgs)[] = ["loraR", "loraAlpha", "loraDropout", "loraTargetModules", "baseDtype"];
const ADAMW_KEYS: (keyof TrainingArgs)[] = ["adamBeta1", "adamBeta2", "adamEps"];
const SGD_KEYS: (keyof TrainingArgs)[] = ["momentum", "nesterov"];
/** How the run was driven, not what it computed. */
const LEFT_OUT: (keyof TrainingArgs)[] = ["resume", "allowChangedArgs", "ignoreMemoryCheck", "threads"];

/** The flag-style key of a field: loraR is --r, so "r"; maxSeqLen is "max-seq-len". */
function label(key: keyof TrainingArgs): string {
  return { loraR: "r", loraAlpha: "alpha", loraDropout: "dropout", loraTargetModules: "target-modules" }[key as string] ?? kebabKey(key);
}

export function runSettings(a: TrainingArgs): Record<string, unknown> {
  const skip = new Set<keyof TrainingArgs>([...LEFT_OUT, ...(a.method === "full" ? LORA_KEYS : []), ...(a.optimizer === "sgd" ? ADAMW_KEYS : SGD_KEYS)]);
  const out: Record<string, unknown> = {};
  for (const k of ARG_KEYS) {
    if (skip.has(k)) continue;
    out[label(k)] = k === "epochs" && a.maxSteps !== null ? `not used (max-steps ${a.maxSteps} sets the length)` : a[k];
  }
  return out;
}

/** "lora fine-tuning of brown-llama": the model folder's name, not its absolute path. */
export function runTitle(a: TrainingArgs): string {
  return `${a.method} fine-tuning of ${basename(a.model.replace(/\/+$/, "")) || a.model}`;
}
