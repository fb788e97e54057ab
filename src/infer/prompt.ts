// A prompt as the training data rendered it, so a fine-tuned model is asked the way it was taught:
//   text, prompt-completion  the text itself, with the tokenizer's special tokens (as training encodes
//                            a prompt before its completion)
//   alpaca                   Stanford Alpaca's template around the instruction (and input), ending at
//                            "### Response:\n" where the trained output began
//   chat                     the chat template with the generation prompt, after an optional system turn

import type { ChatMessage } from "../tokenizer/index.ts";
import { alpacaPrompt } from "../train/data/formats.ts";
import type { DataTokenizer } from "../train/data/tokenize.ts";

export const PROMPT_FORMATS = ["text", "prompt-completion", "alpaca", "chat"] as const;
export type PromptFormat = (typeof PROMPT_FORMATS)[number];

export interface PromptOptions {
  format: PromptFormat;
  /** A system message (chat only). */
  system?: string | null;
  /** Alpaca's optional input (alpaca only). */
  input?: string | null;
}

export class PromptError extends Error {}

/** The token ids of `text` rendered as `o.format` renders a prompt. */
export function promptIds(tok: DataTokenizer, text: string, o: PromptOptions): number[] {
  if (o.system != null && o.format !== "chat") throw new PromptError(`a system message needs the chat format (${o.format} prompts have no system turn)`);
  if (o.input != null && o.format !== "alpaca") throw new PromptError(`an input needs the alpaca format (${o.format} prompts have no input field)`);
  switch (o.format) {
    case "text":
    case "prompt-completion":
      return tok.encode(text);
    case "alpaca":
      return tok.encode(alpacaPrompt(text, o.input ?? ""));
    case "chat": {
      if (!tok.hasChatTemplate) throw new PromptError("the chat format needs a tokenizer with a chat template, and this one has none");
      const messages: ChatMessage[] = o.system != null ? [{ role: "system", content: o.system }] : [];
      return tok.encodeChat([...messages, { role: "user", content: text }], { addGenerationPrompt: true });
    }
  }
}
