// metrics.jsonl: one JSON object per line, appended as training goes (a log step's training metrics, or
// an evaluation). On resume, lines past the resumed step are cut, so the file reads as one run; a line
// torn by a kill mid-append is dropped too.

import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../io/atomic.ts";
import type { MetricRow } from "./report.ts";

export interface MetricsLine {
  step: number;
  epoch: number;
  loss?: number;
  lr?: number;
  grad_norm?: number;
  tokens_per_second?: number;
  rss_mb?: number;
  eval_loss?: number;
  eval_perplexity?: number;
  skipped?: boolean;
}

export function appendMetrics(path: string, line: MetricsLine): void {
  appendFileSync(path, `${JSON.stringify(line)}\n`);
}

export function readMetrics(path: string): MetricsLine[] {
  if (!existsSync(path)) return [];
  const out: MetricsLine[] = [];
  for (const text of readFileSync(path, "utf8").split("\n")) {
    if (!text.trim()) continue;
    try {
      out.push(JSON.parse(text) as MetricsLine);
    } catch {
      // a torn last line (killed mid-append): dropped
    }
  }
  return out;
}

/** Keeps only the lines up to and including `step`. */
export function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readMetrics(path).filter((l) => typeof l.step === "number" && l.step <= step);
  writeFileAtomic(path, kept.map((l) => `${JSON.stringify(l)}\n`).join(""));
}

/** metrics.jsonl lines as the report's rows. */
export function metricRows(lines: readonly MetricsLine[]): MetricRow[] {
  return lines.map((l) => ({
    step: l.step,
    epoch: l.epoch,
    loss: l.loss ?? undefined,
    evalLoss: l.eval_loss ?? undefined,
    lr: l.lr,
    gradNorm: l.grad_norm,
    tokensPerSecond: l.tokens_per_second,
    rssMb: l.rss_mb,
  }));
}
