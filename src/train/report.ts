// Training reports as self-contained HTML: Chart.js is inlined, so report.html opens offline.
//   writeReport(dir, run)           → dir/report.html: loss (train and validation), learning rate and
//                                     whatever else was logged (gradient norm, tokens/s, RSS), the run's
//                                     summary and configuration
//   writeComparisonReport(path, …)  → several runs' loss curves on one chart, and a summary table
// Everything taken from the run is escaped (report/html.ts).

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { chartJsSource } from "./report/chartjs.ts";
import { colorOf, lineChart, type ChartSpec, type Series } from "./report/charts.ts";
import { escapeHtml, gridTable, keyValueTable, page } from "./report/html.ts";

export interface MetricRow {
  step: number;
  epoch: number;
  loss?: number;
  evalLoss?: number;
  lr?: number;
  gradNorm?: number;
  tokensPerSecond?: number;
  rssMb?: number;
}

export interface RunReport {
  title: string;
  config: Record<string, unknown>;
  metrics: MetricRow[];
}

export interface ComparisonRun {
  name: string;
  metrics: MetricRow[];
  summary: Record<string, unknown>;
}

export interface ComparisonReport {
  title: string;
  runs: ComparisonRun[];
}

type Field = Exclude<keyof MetricRow, "step" | "epoch">;

function series(metrics: MetricRow[], field: Field, label: string, dashed = false): Series {
  const points = metrics.flatMap((m) => (typeof m[field] === "number" && Number.isFinite(m[field]) ? [{ x: m.step, y: m[field]! }] : []));
  return { label, points, dashed };
}

/** The optional curves: one chart per field that was logged at least once. */
const EXTRA_CHARTS: [Field, string][] = [
  ["lr", "learning rate"],
  ["gradNorm", "gradient norm"],
  ["tokensPerSecond", "tokens / s"],
  ["rssMb", "RSS (MB)"],
];

/** Final and best losses, throughput and memory of a run, for its summary table. */
export function summarizeMetrics(metrics: MetricRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const last = metrics[metrics.length - 1];
  if (last) Object.assign(out, { steps: last.step, epochs: last.epoch });
  const train = metrics.filter((m) => m.loss !== undefined);
  if (train.length) out["final train loss"] = train[train.length - 1]!.loss;
  const evals = metrics.filter((m) => m.evalLoss !== undefined);
  if (evals.length) {
    const best = evals.reduce((a, b) => (b.evalLoss! < a.evalLoss! ? b : a));
    Object.assign(out, { "final validation loss": evals[evals.length - 1]!.evalLoss, "best validation loss": `${best.evalLoss} (step ${best.step})` });
  }
  const tps = metrics.flatMap((m) => (m.tokensPerSecond === undefined ? [] : [m.tokensPerSecond]));
  if (tps.length) out["mean tokens / s"] = tps.reduce((a, b) => a + b, 0) / tps.length;
  const rss = metrics.flatMap((m) => (m.rssMb === undefined ? [] : [m.rssMb]));
  if (rss.length) out["peak RSS (MB)"] = Math.max(...rss);
  return out;
}

function chartBlock(spec: ChartSpec, heading: string): string {
  return `<h2>${escapeHtml(heading)}</h2><div class="chart"><canvas id="${escapeHtml(spec.id)}"></canvas></div>`;
}

function write(path: string, html: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, html);
  return path;
}

/** Writes dir/report.html and returns its path. */
export function writeReport(dir: string, run: RunReport): string {
  const m = run.metrics;
  const charts: [ChartSpec, string][] = [[lineChart("chart-loss", "loss", [series(m, "loss", "train"), series(m, "evalLoss", "validation", true)]), "Loss"]];
  for (const [field, title] of EXTRA_CHARTS) {
    const s = series(m, field, title);
    if (s.points.length > 0) charts.push([lineChart(`chart-${field}`, title, [s]), title[0]!.toUpperCase() + title.slice(1)]);
  }
  const body = [
    ...charts.map(([spec, heading]) => chartBlock(spec, heading)),
    `<h2>Summary</h2>${keyValueTable(Object.entries(summarizeMetrics(m)))}`,
    `<h2>Configuration</h2>${keyValueTable(Object.entries(run.config))}`,
  ].join("\n");
  return write(join(dir, "report.html"), page({ title: run.title, body, library: chartJsSource(), charts: charts.map(([s]) => s) }));
}

/** Writes one page comparing runs (train loss solid, validation dashed, one colour per run). */
export function writeComparisonReport(path: string, report: ComparisonReport): string {
  const lines: Series[] = [];
  const colors: string[] = [];
  report.runs.forEach((r, i) => {
    for (const s of [series(r.metrics, "loss", `${r.name} train`), series(r.metrics, "evalLoss", `${r.name} validation`, true)]) {
      if (s.points.length === 0) continue;
      lines.push(s);
      colors.push(colorOf(i));
    }
  });
  const spec = lineChart("chart-loss", "loss", lines, colors);
  const keys = [...new Set(report.runs.flatMap((r) => Object.keys(r.summary)))];
  const table = gridTable(["run", ...keys], report.runs.map((r) => [r.name, ...keys.map((k) => r.summary[k])]));
  const body = `${chartBlock(spec, "Loss")}\n<h2>Summary</h2>${table}`;
  return write(path, page({ title: report.title, body, library: chartJsSource(), charts: [spec] }));
}
