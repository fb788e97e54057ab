// Before a command reads a folder given as --model or --adapter: a plain error when it is not the kind of
// folder asked for, saying what it is instead (missing, a file, an adapter folder and the base it names,
// a model folder), rather than the first missing file the loader would trip over.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export class FolderError extends Error {}

const MODEL_FILES = "config.json, *.safetensors and tokenizer.json";

function kind(dir: string): "missing" | "file" | "adapter" | "model" | "other" {
  if (!existsSync(dir)) return "missing";
  if (!statSync(dir).isDirectory()) return "file";
  if (existsSync(join(dir, "config.json"))) return "model";
  return existsSync(join(dir, "adapter_config.json")) ? "adapter" : "other";
}

/** The base model an adapter folder names (base_model_name_or_path), or null. */
function adapterBase(dir: string): string | null {
  try {
    const base = (JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")) as { base_model_name_or_path?: unknown }).base_model_name_or_path;
    return typeof base === "string" && base.length > 0 ? base : null;
  } catch {
    return null;
  }
}

/** Throws FolderError unless `dir` holds a model (config.json); `flag` is how the user gave it. */
export function checkModelFolder(dir: string, flag = "--model"): void {
  switch (kind(dir)) {
    case "model":
      return;
    case "missing":
      throw new FolderError(`${flag} ${dir}: no such folder`);
    case "file":
      throw new FolderError(`${flag} ${dir}: a file, not a folder (a Hugging Face model folder holds ${MODEL_FILES})`);
    case "adapter": {
      const base = adapterBase(dir);
      throw new FolderError(
        `${flag} ${dir} is a PEFT adapter folder, not a model: give its base model as ${flag}${base ? ` (the adapter names ${base})` : ""} and this folder as --adapter`,
      );
    }
    case "other":
      throw new FolderError(`${flag} ${dir}: no config.json, so not a Hugging Face model folder (one holds ${MODEL_FILES})`);
  }
}

/** Throws FolderError unless `dir` holds a PEFT adapter (adapter_config.json). */
export function checkAdapterFolder(dir: string, flag = "--adapter"): void {
  switch (kind(dir)) {
    case "adapter":
      return;
    case "missing":
      throw new FolderError(`${flag} ${dir}: no such folder`);
    case "file":
      throw new FolderError(`${flag} ${dir}: a file, not a folder (an adapter folder holds adapter_config.json and adapter_model.safetensors)`);
    case "model":
      if (existsSync(join(dir, "adapter_config.json"))) return;
      throw new FolderError(`${flag} ${dir} is a full model folder (config.json, no adapter_config.json): give it as --model, without --adapter`);
    case "other":
      throw new FolderError(`${flag} ${dir}: no adapter_config.json, so not a PEFT adapter folder`);
  }
}
