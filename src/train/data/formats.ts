// The JSONL shapes a training file may use, one object per line, checked field by field:
//   text               {"text": string}                                   loss on every token
//   prompt-completion  {"prompt": string, "completion": string}           loss on the completion
//   chat               {"messages": [{"role", "content"}, ...]}           loss on assistant turns
//   alpaca             {"instruction", "input"?, "output"}                loss on the output
// Other keys on a line (ids, sources, ...) are ignored. A "text" key beside another shape's keys is taken
// as a pre-rendered copy and ignored (tatsu-lab/alpaca ships one); a line whose keys fit no shape, or two
// of the others, is an error. Format "auto" detects each line's shape; load.ts says which may be mixed.

import type { ChatMessage } from "../../tokenizer/index.ts";

export type DataFormat = "text" | "prompt-completion" | "chat" | "alpaca";
export const DATA_FORMATS: readonly DataFormat[] = ["text", "prompt-completion", "chat", "alpaca"];

export type DataRecord =
  | { format: "text"; text: string }
  | { format: "prompt-completion"; prompt: string; completion: string }
  | { format: "chat"; messages: ChatMessage[] }
  | { format: "alpaca"; instruction: string; input: string; output: string };

/** Roles a chat template is expected to understand. */
export const CHAT_ROLES = new Set(["system", "user", "assistant", "tool"]);

/** A problem with one line; load.ts prefixes it with the file and line number. */
export class LineError extends Error {}

/** The shape a line's keys announce (the key that decides each format). */
function shapesOf(obj: Record<string, unknown>): DataFormat[] {
  const found: DataFormat[] = [];
  if ("text" in obj) found.push("text");
  if ("prompt" in obj || "completion" in obj) found.push("prompt-completion");
  if ("messages" in obj) found.push("chat");
  if ("instruction" in obj || "output" in obj) found.push("alpaca");
  return found;
}

export function detectFormat(obj: Record<string, unknown>): DataFormat {
  const all = shapesOf(obj);
  const shapes = all.length > 1 ? all.filter((f) => f !== "text") : all;
  if (shapes.length === 1) return shapes[0]!;
  const keys = Object.keys(obj).map((k) => JSON.stringify(k)).join(", ") || "none";
  if (shapes.length === 0) {
    throw new LineError(`no known shape (keys: ${keys}); expected "text", "prompt"+"completion", "messages", or "instruction"+"output"`);
  }
  throw new LineError(`ambiguous shape: keys ${keys} fit ${shapes.join(" and ")}`);
}

function str(obj: Record<string, unknown>, key: string, what: DataFormat, { optional = false, nonEmpty = false } = {}): string {
  const v = obj[key];
  if (v === undefined && optional) return "";
  if (typeof v !== "string") {
    throw new LineError(`${what}: "${key}" must be a string, got ${v === undefined ? "nothing" : JSON.stringify(v)?.slice(0, 60)}`);
  }
  if (nonEmpty && v.length === 0) throw new LineError(`${what}: "${key}" is empty (nothing to learn from)`);
  return v;
}

function messages(obj: Record<string, unknown>): ChatMessage[] {
  const list = obj.messages;
  if (!Array.isArray(list) || list.length === 0) throw new LineError(`chat: "messages" must be a non-empty list`);
  const out = list.map((m: unknown, i): ChatMessage => {
    if (typeof m !== "object" || m === null || Array.isArray(m)) throw new LineError(`chat: messages[${i}] is not an object`);
    const msg = m as Record<string, unknown>;
    if (typeof msg.role !== "string") throw new LineError(`chat: messages[${i}].role must be a string`);
    if (!CHAT_ROLES.has(msg.role)) {
      throw new LineError(`chat: messages[${i}] has unknown role "${msg.role}" (known: ${[...CHAT_ROLES].join(", ")})`);
    }
    if (typeof msg.content !== "string") throw new LineError(`chat: messages[${i}].content must be a string`);
    if (msg.role === "assistant" && msg.content.length === 0) throw new LineError(`chat: messages[${i}] is an empty assistant turn`);
    return { ...msg, role: msg.role, content: msg.content };
  });
  if (!out.some((m) => m.role === "assistant")) throw new LineError(`chat: no assistant message (nothing to learn from)`);
  return out;
}

/** Checks one parsed line against `format` and returns its fields. */
export function parseRecord(obj: Record<string, unknown>, format: DataFormat): DataRecord {
  switch (format) {
    case "text":
      return { format, text: str(obj, "text", format, { nonEmpty: true }) };
    case "prompt-completion":
      return { format, prompt: str(obj, "prompt", format), completion: str(obj, "completion", format, { nonEmpty: true }) };
    case "chat":
      return { format, messages: messages(obj) };
    case "alpaca":
      return {
        format,
        instruction: str(obj, "instruction", format, { nonEmpty: true }),
        input: str(obj, "input", format, { optional: true }),
        output: str(obj, "output", format, { nonEmpty: true }),
      };
  }
}

/** The prompt of Stanford Alpaca's training script (with and without an input). */
export function alpacaPrompt(instruction: string, input: string): string {
  return input.length > 0
    ? "Below is an instruction that describes a task, paired with an input that provides further context. " +
        "Write a response that appropriately completes the request.\n\n" +
        `### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`
    : "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
        `### Instruction:\n${instruction}\n\n### Response:\n`;
}
