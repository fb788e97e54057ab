// peft-ts data: what training will see of a data file, before any training: how the first records
// render through the model's tokenizer (and chat template), their token counts, and which tokens carry
// the loss (green on a terminal, ⟦marked⟧ otherwise), like axolotl's preprocess --debug. It loads the
// file exactly as `train` does (same formats, truncation, eos, --train-on-prompt, --system).

import type { Command } from "commander";
import { Option } from "commander";
import { Tokenizer } from "../../tokenizer/index.ts";
import { DEFAULT_ARGS } from "../../train/args.ts";
import { DATA_FORMATS, loadDataset, type DataFormat, type Example } from "../../train/data/index.ts";
import { IGNORE_INDEX } from "../../ops/loss.ts";
import { checkModelFolder } from "../../models/folder-check.ts";
import { parseNumberFlag } from "../numbers.ts";

/** What --data accepts, for every command's help. */
export const DATA_HELP = "JSONL (one record per line) or a JSON array (.json); records {text}, {prompt, completion}, {messages: [{role, content}]} or Alpaca {instruction, input, output}. CSV and Parquet are not read: convert them to JSONL";

interface DataFlags {
  model: string;
  data: string;
  format: DataFormat | "auto";
  maxSeqLen: string;
  trainOnPrompt?: boolean;
  system?: string;
  examples: string;
  tokens?: boolean;
  json?: boolean;
  color?: boolean;
}

interface Shown {
  where: string;
  format: DataFormat;
  truncated: boolean;
  example: Example | null;
}

/** Runs of tokens that share their loss state: [start, end, carries loss]. Position 0 is never a target. */
export function lossRuns(e: Example): [number, number, boolean][] {
  const runs: [number, number, boolean][] = [];
  for (let i = 0; i < e.ids.length; i++) {
    const loss = i > 0 && e.labels[i] !== IGNORE_INDEX;
    const last = runs[runs.length - 1];
    if (last && last[2] === loss) last[1] = i + 1;
    else runs.push([i, i + 1, loss]);
  }
  return runs;
}

export function lossTokens(e: Example): number {
  return lossRuns(e).reduce((n, [s, t, loss]) => n + (loss ? t - s : 0), 0);
}

const GREEN = "\x1b[32;4m";
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

/** The example's text, decoded run by run, the loss-carrying runs coloured or ⟦marked⟧. */
export function renderExample(tok: Tokenizer, e: Example, color: boolean): string {
  return lossRuns(e)
    .map(([s, t, loss]) => {
      const text = tok.decode(Array.from(e.ids.subarray(s, t)));
      if (color) return loss ? `${GREEN}${text}${RESET}` : `${DIM}${text}${RESET}`;
      return loss ? `⟦${text}⟧` : text;
    })
    .join("");
}

function tokenTable(tok: Tokenizer, e: Example): string {
  const rows = Array.from(e.ids, (id, i) => `  ${String(i).padStart(4)}  ${String(id).padStart(6)}  ${i > 0 && e.labels[i] !== IGNORE_INDEX ? "loss" : "    "}  ${JSON.stringify(tok.idToToken(id) ?? "")}`);
  return ["     #      id  loss  token", ...rows].join("\n");
}

function summary(path: string, shown: Shown[], maxSeqLen: number): string {
  const kept = shown.flatMap((s) => (s.example ? [s.example] : []));
  const tokens = kept.reduce((n, e) => n + e.ids.length, 0);
  const loss = kept.reduce((n, e) => n + lossTokens(e), 0);
  const formats = [...new Set(shown.map((s) => s.format))].join(", ");
  const longest = Math.max(...kept.map((e) => e.ids.length));
  const truncated = shown.filter((s) => s.truncated).length;
  const dropped = shown.length - kept.length;
  return (
    `${path}: ${kept.length} examples (${formats}), ${tokens.toLocaleString("en-US")} tokens, ${loss.toLocaleString("en-US")} of them carry the loss ` +
    `(${((100 * loss) / Math.max(1, tokens)).toFixed(1)}%); longest ${longest}, mean ${(tokens / Math.max(1, kept.length)).toFixed(1)} tokens; ` +
    `--max-seq-len ${maxSeqLen}: ${truncated} truncated${dropped ? `, ${dropped} dropped (no answer token left)` : ""}`
  );
}

function run(f: DataFlags): void {
  checkModelFolder(f.model);
  const maxSeqLen = parseNumberFlag("data: --max-seq-len", f.maxSeqLen, { integer: true, min: 2 });
  const count = parseNumberFlag("data: --examples", f.examples, { integer: true, min: 0 });
  const tok = Tokenizer.fromDir(f.model);
  const shown: Shown[] = [];
  loadDataset(f.data, tok, {
    maxSeqLen,
    format: f.format,
    trainOnPrompt: f.trainOnPrompt ?? false,
    system: f.system ?? null,
    addEos: true,
    onInfo: () => {}, // the summary line says it
    onRecord: (r) => shown.push(r),
  });
  const first = shown.slice(0, count);
  if (f.json) {
    const examples = first.map((s) => ({ where: s.where, format: s.format, truncated: s.truncated, ids: s.example ? Array.from(s.example.ids) : null, labels: s.example ? Array.from(s.example.labels) : null }));
    process.stdout.write(`${JSON.stringify({ summary: summary(f.data, shown, maxSeqLen), examples })}\n`);
    return;
  }
  const color = f.color ?? (process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
  const out = [summary(f.data, shown, maxSeqLen), color ? `(${GREEN}underlined green${RESET}: tokens that carry the loss; ${DIM}dim${RESET}: context only)` : "(⟦marked⟧: tokens that carry the loss; the rest is context only)"];
  for (const s of first) {
    if (!s.example) {
      out.push(`\n── ${s.where} (${s.format}): dropped, no answer token within --max-seq-len`);
      continue;
    }
    out.push(`\n── ${s.where} (${s.format}): ${s.example.ids.length} tokens, ${lossTokens(s.example)} carry the loss${s.truncated ? `, truncated to ${maxSeqLen}` : ""}`);
    out.push(renderExample(tok, s.example, color));
    if (f.tokens) out.push(tokenTable(tok, s.example));
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

export function register(program: Command): void {
  program
    .command("data")
    .description("show what training sees of a data file: the first records as rendered, token counts, and which tokens carry the loss")
    .requiredOption("--model <dir>", "model folder whose tokenizer (and chat template) renders the records")
    .requiredOption("--data <file>", `data file: ${DATA_HELP}`)
    .addOption(new Option("--format <name>", "record format; auto detects it per record").choices(["auto", ...DATA_FORMATS]).default("auto"))
    .option("--max-seq-len <n>", "truncate examples to this many tokens, as train does", String(DEFAULT_ARGS.maxSeqLen))
    .option("--train-on-prompt", "take the loss on prompt tokens too, as train --train-on-prompt does")
    .option("--system <text>", "system message put first in chat records that have none, as train --system does")
    .option("-n, --examples <n>", "how many records to show", "3")
    .option("--tokens", "also list each token: position, id, whether it carries the loss, the token")
    .option("--color", "colour the output even when it is not a terminal")
    .option("--no-color", "mark the loss tokens with ⟦ ⟧ instead of colour")
    .option("--json", "print the summary and the first records' ids and labels as JSON")
    .action((f: DataFlags) => run(f));
}
