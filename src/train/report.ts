// Training reports as self-contained HTML: Chart.js is inlined, so report.html opens offline. What a
// reader looks for comes first: the summary and the settings, then the curves.
//   writeReport(dir, run)           → dir/report.html: summary, settings, then loss (train and, when
//                                     there was any, validation), learning rate and whatever else was
//                                     logged (gradient norm, tokens/s, RSS)
//   writeComparisonReport(path, …)  → several runs: a summary table, the shared settings, their loss
//                                     curves on one chart and their validation perplexity from the base
//                                     model's (step 0) on
// Everything taken from the run is escaped (report/html.ts).

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../io/atomic.ts";
import { chartJsSource } from "./report/chartjs.ts";
import { lineChart, type ChartSpec, type Series } from "./report/charts.ts";
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
  /** The run's settings as a reader names them (report/settings.ts for TrainingArgs). */
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
  /** What the runs share (steps, batch, data, seed ...), shown under the summary. */
  settings?: Record<string, unknown>;
  /** The model before fine-tuning: its validation loss starts each run's perplexity curve at step 0. */
  baseline?: { name: string; evalLoss: number };
}

type Field = Exclude<keyof MetricRow, "step" | "epoch">;

function series(metrics: MetricRow[], field: Field, label: string, style: Partial<Series> = {}): Series {
  const points = metrics.flatMap((m) => (typeof m[field] === "number" && Number.isFinite(m[field]) ? [{ x: m.step, y: m[field]! }] : []));
  return { label, points, ...style };
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
  if (last) Object.assign(out, { steps: last.step, "epochs done": last.epoch });
  const train = metrics.filter((m) => m.loss !== undefined);
  if (train.length) out["final train loss"] = train[train.length - 1]!.loss;
  const evals = metrics.filter((m) => m.evalLoss !== undefined);
  if (evals.length) {
    const best = evals.reduce((a, b) => (b.evalLoss! < a.evalLoss! ? b : a));
    Object.assign(out, { "final validation loss": evals[evals.length - 1]!.evalLoss, "best validation loss": `${Number(best.evalLoss!.toPrecision(4))} (step ${best.step})` });
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
  const charts: [ChartSpec, string][] = [[lineChart("chart-loss", "loss", [series(m, "loss", "train"), series(m, "evalLoss", "validation", { dashed: true })]), "Loss"]];
  for (const [field, title] of EXTRA_CHARTS) {
    const s = series(m, field, title);
    if (s.points.length > 0) charts.push([lineChart(`chart-${field}`, title, [s]), title[0]!.toUpperCase() + title.slice(1)]);
  }
  const body = [
    `<h2>Summary</h2>${keyValueTable(Object.entries(summarizeMetrics(m)))}`,
    `<h2>Settings</h2>${keyValueTable(Object.entries(run.config))}`,
    ...charts.map(([spec, heading]) => chartBlock(spec, heading)),
  ].join("\n");
  return write(join(dir, "report.html"), page({ title: run.title, body, library: chartJsSource(), charts: charts.map(([s]) => s) }));
}

/** Each run's validation perplexity, from the baseline's at step 0, and the baseline as a level. */
function perplexityChart(report: ComparisonReport): ChartSpec | null {
  const lines: Series[] = report.runs.map((r, i) => {
    const s = series(r.metrics, "evalLoss", `${r.name} validation`, { dashed: true, run: i });
    const start = report.baseline ? [{ x: 0, y: report.baseline.evalLoss }] : [];
    return { ...s, points: [...start, ...s.points].map((p) => ({ x: p.x, y: Math.exp(p.y) })) };
  });
  if (lines.every((l) => l.points.length <= (report.baseline ? 1 : 0))) return null;
  if (report.baseline) {
    const last = Math.max(...report.runs.flatMap((r) => r.metrics.map((m) => m.step)));
    const y = Math.exp(report.baseline.evalLoss);
    lines.push({ label: report.baseline.name, points: [{ x: 0, y }, { x: last, y }], reference: true });
  }
  return lineChart("chart-perplexity", "validation perplexity", lines);
}

/** Writes one page comparing runs (each run its own colour, dashes and markers; validation with markers). */
export function writeComparisonReport(path: string, report: ComparisonReport): string {
  const lines = report.runs.flatMap((r, i) => [series(r.metrics, "loss", `${r.name} train`, { run: i }), series(r.metrics, "evalLoss", `${r.name} validation`, { dashed: true, run: i })]);
  const charts: [ChartSpec, string][] = [[lineChart("chart-loss", "loss", lines), "Loss"]];
  const perplexity = perplexityChart(report);
  if (perplexity) charts.push([perplexity, "Validation perplexity"]);
  const keys = [...new Set(report.runs.flatMap((r) => Object.keys(r.summary)))];
  const table = gridTable(["run", ...keys], report.runs.map((r) => [r.name, ...keys.map((k) => r.summary[k])]));
  const body = [
    `<h2>Summary</h2>${table}`,
    ...(report.settings ? [`<h2>Settings</h2>${keyValueTable(Object.entries(report.settings))}`] : []),
    ...charts.map(([spec, heading]) => chartBlock(spec, heading)),
  ].join("\n");
  return write(path, page({ title: report.title, body, library: chartJsSource(), charts: charts.map(([s]) => s) }));
}
