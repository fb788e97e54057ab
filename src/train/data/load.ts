// A JSONL training file → tokenized examples.
//
// One JSON object per line (formats.ts); blank lines are skipped; any malformed line stops the load
// with an error naming the file and line (bad JSON, unknown or ambiguous shape, wrong field types, empty
// completion or assistant turn, unknown role, a template that refuses the messages).
//
// format "auto" detects each line's shape. Shapes may be mixed in one file only when they agree on what
// is learned: text lines (loss on every token) cannot be mixed with prompt-completion, alpaca and chat
// lines (loss on the answer only), which may be mixed with each other.
//
// Sequences longer than maxSeqLen are cut to their first maxSeqLen tokens. An example left with no
// target at all (its prompt fills maxSeqLen) is dropped. Both are counted and reported once.

import { readFileSync } from "node:fs";
import { IGNORE_INDEX } from "../../ops/loss.ts";
import { DataError, type Example } from "./types.ts";
import { detectFormat, LineError, parseRecord, DATA_FORMATS, type DataFormat } from "./formats.ts";
import { tokenizeRecord, type DataTokenizer } from "./tokenize.ts";

export interface LoadDatasetOptions {
  maxSeqLen: number;
  format?: DataFormat | "auto";
  /** Take the loss on prompt tokens too (default: only completions / assistant turns). */
  trainOnPrompt?: boolean;
  /** Append the tokenizer's eos token when the sequence does not already end with it (default true). */
  addEos?: boolean;
  /** Where the summary of truncated and dropped examples goes (default: stderr). */
  onInfo?: (message: string) => void;
}

/** What the loss learns, by format: mixing is allowed within a kind only. */
const KIND: Record<DataFormat, "every token" | "answers only"> = {
  text: "every token",
  "prompt-completion": "answers only",
  chat: "answers only",
  alpaca: "answers only",
};

function parseLine(line: string, format: DataFormat | "auto"): { format: DataFormat; obj: Record<string, unknown> } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    throw new LineError(`not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new LineError("not a JSON object");
  const obj = json as Record<string, unknown>;
  return { format: format === "auto" ? detectFormat(obj) : format, obj };
}

function checkOptions(path: string, tok: DataTokenizer, o: LoadDatasetOptions): void {
  if (!(Number.isInteger(o.maxSeqLen) && o.maxSeqLen > 1)) throw new DataError(`${path}: maxSeqLen must be an integer > 1, got ${o.maxSeqLen}`);
  const format = o.format ?? "auto";
  if (format !== "auto" && !DATA_FORMATS.includes(format)) {
    throw new DataError(`${path}: unknown format "${String(format)}" (auto, ${DATA_FORMATS.join(", ")})`);
  }
  if ((o.addEos ?? true) && tok.eosTokenId === null) throw new DataError(`${path}: the tokenizer has no eos token to append (pass addEos: false)`);
}

function toExample(ids: number[], labels: number[], maxSeqLen: number): { example: Example; truncated: boolean } {
  const n = Math.min(ids.length, maxSeqLen);
  return { example: { ids: Int32Array.from(ids.slice(0, n)), labels: Int32Array.from(labels.slice(0, n)) }, truncated: ids.length > n };
}

/** A target exists when some label after position 0 is not ignored (the shift never predicts position 0). */
function hasTarget(labels: Int32Array): boolean {
  for (let i = 1; i < labels.length; i++) if (labels[i] !== IGNORE_INDEX) return true;
  return false;
}

export function loadDataset(path: string, tokenizer: DataTokenizer, opts: LoadDatasetOptions): Example[] {
  checkOptions(path, tokenizer, opts);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new DataError(`${path}: cannot read: ${(e as Error).message}`);
  }
  const tokenizeOptions = { trainOnPrompt: opts.trainOnPrompt ?? false, eos: (opts.addEos ?? true) ? tokenizer.eosTokenId : null };
  const examples: Example[] = [];
  let first: { format: DataFormat; line: number } | null = null;
  let truncated = 0;
  let dropped = 0;
  for (const [index, raw] of text.replace(/^\uFEFF/, "").split("\n").entries()) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const where = `${path}:${index + 1}`;
    try {
      const { format, obj } = parseLine(line, opts.format ?? "auto");
      first ??= { format, line: index + 1 };
      if (KIND[format] !== KIND[first.format]) {
        throw new LineError(`${format} line (loss on ${KIND[format]}) mixed with ${first.format} lines such as line ${first.line} (loss on ${KIND[first.format]}); use one kind per file`);
      }
      if (format === "chat" && !tokenizer.hasChatTemplate) throw new LineError("chat line, but the tokenizer has no chat template");
      const t = tokenizeRecord(tokenizer, parseRecord(obj, format), tokenizeOptions);
      const { example, truncated: cut } = toExample(t.ids, t.labels, opts.maxSeqLen);
      if (cut) truncated++;
      if (hasTarget(example.labels)) examples.push(example);
      else dropped++;
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(`${where}: ${(e as Error).message}`);
    }
  }
  const total = examples.length + dropped;
  if (total === 0) throw new DataError(`${path}: no examples (the file has no non-blank lines)`);
  if (truncated > 0 || dropped > 0) {
    const notes = [`${truncated} of ${total} examples truncated to ${opts.maxSeqLen} tokens`];
    if (dropped > 0) notes.push(`${dropped} dropped: nothing left to learn within ${opts.maxSeqLen} tokens`);
    (opts.onInfo ?? ((m) => process.stderr.write(`peft-ts: ${m}\n`)))(`${path}: ${notes.join("; ")}`);
  }
  if (examples.length === 0) throw new DataError(`${path}: every example was dropped (maxSeqLen ${opts.maxSeqLen} leaves no target tokens)`);
  return examples;
}
