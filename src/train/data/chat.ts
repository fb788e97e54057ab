// Which tokens of a rendered conversation belong to assistant turns, for a chat template that has no
// generation markers: render prefixes of the conversation and compare their token ids with the whole
// conversation's ids, as TRL's assistant-only loss does without {% generation %} blocks.
//
// For assistant message i:
//   start = length of the common prefix of tokens(render(messages[:i], add_generation_prompt)) and ids
//           (so the assistant header the template emits is prompt, not target)
//   end   = length of the common prefix of tokens(render(messages[:i+1])) and ids
//           (so whatever the template emits for the turn — the content, any empty think block, the
//           end-of-turn token and its newline — is target)
// Common prefixes, not lengths, make this robust to tokens that merge across a boundary: a merged token
// is left out of the target rather than half-trained.
//
// Some templates render an assistant turn differently once messages follow it (Qwen3 adds an empty
// <think> block only to the final turn), so render(messages[:i+1]) is not a prefix of the conversation
// and `end` falls back to `start`. Then the turn's end is found by rendering the whole conversation again
// with a changed content and taking the common suffix, and the end-of-sequence token that directly
// follows the content (ChatML's <|im_end|> when it is the eos token) is included.

import type { ChatMessage } from "../../tokenizer/index.ts";
import { LineError } from "./formats.ts";

export interface ChatTokenizer {
  encodeChat(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): number[];
  readonly eosTokenId: number | null;
}

export interface RenderedChat {
  ids: number[];
  /** [start, end) token ranges of the assistant turns, in order, non-overlapping. */
  spans: [number, number][];
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function commonSuffix(a: readonly number[], b: readonly number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[a.length - 1 - i] === b[b.length - 1 - i]) i++;
  return i;
}

/** Where assistant message i's content ends in `ids`, found by changing it; the eos right after is kept. */
function contentEnd(tok: ChatTokenizer, messages: ChatMessage[], i: number, ids: number[]): number {
  const changed = messages.map((m, j) => (j === i ? { ...m, content: `${m.content} x` } : m));
  const end = ids.length - commonSuffix(ids, tok.encodeChat(changed));
  return ids[end] !== undefined && ids[end] === tok.eosTokenId ? end + 1 : end;
}

export function renderChat(tok: ChatTokenizer, messages: ChatMessage[]): RenderedChat {
  const ids = tok.encodeChat(messages);
  const spans: [number, number][] = [];
  let previousEnd = 0;
  messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    const start = Math.max(previousEnd, commonPrefix(tok.encodeChat(messages.slice(0, i), { addGenerationPrompt: true }), ids));
    let end = commonPrefix(tok.encodeChat(messages.slice(0, i + 1)), ids);
    if (end <= start) end = contentEnd(tok, messages, i, ids);
    if (end <= start) {
      throw new LineError(`chat: cannot find assistant message ${i} in the rendered conversation (the chat template does not render it as a continuation of the messages before it)`);
    }
    spans.push([start, end]);
    previousEnd = end;
  });
  return { ids, spans };
}
