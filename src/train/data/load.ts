// A training file → tokenized examples.
//
// JSONL: one JSON object per line (formats.ts), blank lines skipped; or a JSON array of such objects (a
// file whose first character is "[", as alpaca_data.json ships). Any malformed record stops the load with
// an error naming the file and line (or array index): bad JSON, unknown or ambiguous shape, wrong field
// types, empty completion or assistant turn, unknown role, a template that refuses the messages.
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
  /** A system message put first in chat records that have none. */
  system?: string | null;
  /** Called for each record in order: what training will see of it (null when it was dropped). */
  onRecord?: (r: { where: string; format: DataFormat; example: Example | null; truncated: boolean }) => void;
}

/** One record of a file before its shape is checked: a JSONL line's text or a JSON array's element. */
export type RawRecord = { where: string; position: number } & ({ line: string } | { value: unknown });

/** The records of a JSONL file or a JSON array file, in order. */
export function readRecords(path: string, text: string): RawRecord[] {
  const body = text.replace(/^\uFEFF/, "");
  const lines = body.split("\n").flatMap((raw, index) => {
    const line = raw.replace(/\r$/, "");
    return line.trim() === "" ? [] : [{ where: `${path}:${index + 1}`, line, position: index + 1 }];
  });
  if (!body.trimStart().startsWith("[")) return lines;
  let list: unknown;
  try {
    list = JSON.parse(body);
  } catch (e) {
    if (lines.length > 1 && isJson(lines[0]!.line)) return lines; // JSONL whose first record is (wrongly) an array
    throw new DataError(`${path}: starts with "[" but is not a valid JSON array: ${(e as Error).message}`);
  }
  if (!Array.isArray(list)) throw new DataError(`${path}: not a JSON array`);
  return list.map((value: unknown, i) => ({ where: `${path}: record ${i + 1} of the array`, value, position: i + 1 }));
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** What the loss learns, by format: mixing is allowed within a kind only. */
const KIND: Record<DataFormat, "every token" | "answers only"> = {
  text: "every token",
  "prompt-completion": "answers only",
  chat: "answers only",
  alpaca: "answers only",
};

function parseLine(record: RawRecord, format: DataFormat | "auto"): { format: DataFormat; obj: Record<string, unknown> } {
  let json: unknown;
  try {
    json = "line" in record ? JSON.parse(record.line) : record.value;
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
  const tokenizeOptions = { trainOnPrompt: opts.trainOnPrompt ?? false, eos: (opts.addEos ?? true) ? tokenizer.eosTokenId : null, system: opts.system ?? null };
  const examples: Example[] = [];
  let first: { format: DataFormat; line: number } | null = null;
  let truncated = 0;
  let dropped = 0;
  for (const record of readRecords(path, text)) {
    try {
      const { format, obj } = parseLine(record, opts.format ?? "auto");
      first ??= { format, line: record.position };
      if (KIND[format] !== KIND[first.format]) {
        throw new LineError(`${format} line (loss on ${KIND[format]}) mixed with ${first.format} lines such as line ${first.line} (loss on ${KIND[first.format]}); use one kind per file`);
      }
      if (format === "chat" && !tokenizer.hasChatTemplate) throw new LineError("chat line, but the tokenizer has no chat template");
      const t = tokenizeRecord(tokenizer, parseRecord(obj, format), tokenizeOptions);
      const { example, truncated: cut } = toExample(t.ids, t.labels, opts.maxSeqLen);
      if (cut) truncated++;
      const kept = hasTarget(example.labels);
      if (kept) examples.push(example);
      else dropped++;
      opts.onRecord?.({ where: record.where, format, example: kept ? example : null, truncated: cut });
    } catch (e) {
      if (e instanceof DataError) throw e;
      throw new DataError(`${record.where}: ${(e as Error).message}`);
    }
  }
  const total = examples.length + dropped;
  if (total === 0) throw new DataError(`${path}: no examples (the file has no records)`);
  if (truncated > 0 || dropped > 0) {
    const notes = [`${truncated} of ${total} examples truncated to ${opts.maxSeqLen} tokens`];
    if (dropped > 0) notes.push(`${dropped} dropped: nothing left to learn within ${opts.maxSeqLen} tokens`);
    (opts.onInfo ?? ((m) => process.stderr.write(`peft-ts: ${m}\n`)))(`${path}: ${notes.join("; ")}`);
  }
  if (examples.length === 0) throw new DataError(`${path}: every example was dropped (maxSeqLen ${opts.maxSeqLen} leaves no target tokens)`);
  return examples;
}
