// One checked record → token ids and labels (before truncation), with the loss mask of its format:
// everything for text; the completion for prompt-completion and alpaca; assistant turns for chat (see
// chat.ts). `trainOnPrompt` takes the loss on every token instead.
//
// Special tokens: text, prompts and completions are encoded with the tokenizer's own special tokens (bos
// where its post-processor adds one, as transformers' tokenizer(text) does); a chat is rendered by its
// template and encoded without them (the template writes bos itself, as apply_chat_template does).
// EOS: appended, and trained, unless the sequence already ends with it (a post-processor that adds eos)
// or, for chat, the last assistant turn already contains it (ChatML's <|im_end|> where that is the eos
// token); so the model learns to stop.

import type { ChatMessage } from "../../tokenizer/index.ts";
import { IGNORE_INDEX } from "../../ops/loss.ts";
import { alpacaPrompt, type DataRecord } from "./formats.ts";
import { commonPrefix, renderChat, type ChatTokenizer } from "./chat.ts";

export interface DataTokenizer extends ChatTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  readonly hasChatTemplate: boolean;
}

export interface TokenizeOptions {
  trainOnPrompt: boolean;
  /** The eos id to append, or null not to. */
  eos: number | null;
  /** A system message put first in chat records that have none. */
  system?: string | null;
}

interface Tokens {
  ids: number[];
  labels: number[];
}

/** prompt + completion encoded together; the prompt part is the common prefix with the prompt alone. */
function promptCompletion(tok: DataTokenizer, prompt: string, completion: string): Tokens {
  const ids = tok.encode(prompt + completion);
  const boundary = commonPrefix(tok.encode(prompt), ids);
  return { ids, labels: ids.map((id, i) => (i < boundary ? IGNORE_INDEX : id)) };
}

function chat(tok: DataTokenizer, messages: ChatMessage[], eos: number | null): Tokens & { hasEos: boolean } {
  const { ids, spans } = renderChat(tok, messages);
  const labels = new Array<number>(ids.length).fill(IGNORE_INDEX);
  for (const [s, e] of spans) for (let i = s; i < e; i++) labels[i] = ids[i]!;
  const [s, e] = spans[spans.length - 1]!;
  return { ids, labels, hasEos: eos !== null && ids.slice(s, e).includes(eos) };
}

/** The messages with `system` put first, unless there is none to add or they open with a system turn. */
export function withSystem(messages: ChatMessage[], system: string | null): ChatMessage[] {
  return system === null || messages[0]?.role === "system" ? messages : [{ role: "system", content: system }, ...messages];
}

export function tokenizeRecord(tok: DataTokenizer, r: DataRecord, o: TokenizeOptions): Tokens {
  let t: Tokens;
  let hasEos = false;
  switch (r.format) {
    case "text": {
      const ids = tok.encode(r.text);
      t = { ids, labels: [...ids] };
      break;
    }
    case "prompt-completion":
      t = promptCompletion(tok, r.prompt, r.completion);
      break;
    case "alpaca":
      t = promptCompletion(tok, alpacaPrompt(r.instruction, r.input), r.output);
      break;
    case "chat":
      ({ hasEos, ...t } = chat(tok, withSystem(r.messages, o.system ?? null), o.eos));
      break;
  }
  if (o.eos !== null && !hasEos && t.ids[t.ids.length - 1] !== o.eos) {
    t.ids.push(o.eos);
    t.labels.push(o.eos);
  }
  if (o.trainOnPrompt) t.labels = [...t.ids];
  return t;
}
