// The non-weight files of a Hugging Face model folder that travel with a model when it is saved anew
// (merged, quantized, fully fine-tuned): tokenizer, chat template, generation defaults.

import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";

export const TOKENIZER_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
  "chat_template.json",
  "generation_config.json",
  "added_tokens.json",
  "vocab.json",
  "merges.txt",
  "tokenizer.model",
];

/** Copies whichever of TOKENIZER_FILES exist in `from` into `to`. */
export function copyTokenizerFiles(from: string, to: string): void {
  for (const f of TOKENIZER_FILES) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}
