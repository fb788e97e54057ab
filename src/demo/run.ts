// `npm start`: the project's argument in one run. The same small base model (pretrained by peft-ts on the
// Brown corpus's non-fiction, shipped in assets/brown-llama) is fine-tuned on the fiction genres it never
// saw, three ways: full fine-tuning, LoRA and QLoRA, with the same data, steps and seed. Each method
// runs in its own process (so its peak memory is its own); the table compares
// trainable parameters, peak memory, time, validation perplexity and a sample before and after.

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "../models/index.ts";
import { Tokenizer } from "../tokenizer/index.ts";
import { loadDataset } from "../train/data/index.ts";
import { evaluate, readMetrics, type Method } from "../train/index.ts";
import { metricRows } from "../train/metrics.ts";
import { writeComparisonReport } from "../train/report.ts";
import { estimateMemory, formatEstimate, frozenDtype } from "../memory/estimate.ts";
import { presetConfig } from "../models/presets.ts";
import { formatBytes, formatCount } from "../util/format.ts";
import { demoSplits, textChunks, writeJsonl } from "./data.ts";
import { sampleText, SAMPLE_PROMPT } from "./sample.ts";
import { evalEvery, type WorkerJob, type WorkerSummary } from "./worker.ts";

export const DEMO_BASE = fileURLToPath(new URL("../../assets/brown-llama", import.meta.url));
const BIN = fileURLToPath(new URL("../../bin/peft-ts.js", import.meta.url));

export interface DemoOptions {
  out: string;
  steps: number;
  seed: number;
}

/** Learning rates per method: adapters train fewer weights and take larger steps, as usual. */
const LR: Record<Method, number> = { full: 1e-3, lora: 3e-3, qlora: 3e-3 };
const METHODS: Method[] = ["full", "lora", "qlora"];
/** Batch, sequence length and adapter shape shared by the three runs. */
const JOB = { batchSize: 8, maxSeqLen: 256, loraR: 16, loraAlpha: 32 };

function runMethod(job: WorkerJob): WorkerSummary {
  const res = spawnSync(process.execPath, [BIN, "demo", "--worker", JSON.stringify(job)], { stdio: "inherit" });
  if (res.status !== 0) throw new Error(`the ${job.method} run failed (exit ${res.status ?? res.signal})`);
  return JSON.parse(readFileSync(join(job.out, "summary.json"), "utf8")) as WorkerSummary;
}

/** How many validation passes a run of `steps` makes: every evalEvery steps, and at the end. */
function evalPasses(steps: number): number {
  const every = evalEvery(steps);
  return Math.floor(steps / every) + (steps % every === 0 ? 0 : 1);
}

function countLines(path: string): number {
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "").length;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

export function runDemo(o: DemoOptions, print: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): void {
  if (!existsSync(join(DEMO_BASE, "config.json"))) throw new Error(`${DEMO_BASE}: the demo base model is missing (build it with scripts/build-demo-model.ts)`);
  print("peft-ts: full fine-tuning vs LoRA vs QLoRA on one base model\n");
  print("What each method would need to fine-tune Llama 3 8B (batch 1 × 512 tokens), estimated by `peft-ts estimate`:");
  const big = presetConfig("llama3-8b");
  print(formatEstimate(["full", "lora", "qlora"].map((m) => estimateMemory({ config: big, method: m as Method, batch: 1, seq: 512, baseDtype: frozenDtype(m as Method, null, big) }))));
  print("\nThe same three methods, run for real on a model this machine trains in seconds: a 1.3M-parameter Llama");
  print("pretrained by peft-ts on the Brown corpus's non-fiction, fine-tuned on its fiction (novels, mysteries, science");
  print("fiction, adventure, romance, humor), which it never saw.\n");

  const splits = demoSplits();
  const dataDir = join(o.out, "data");
  mkdirSync(dataDir, { recursive: true });
  const trainData = writeJsonl(join(dataDir, "finetune.jsonl"), textChunks(splits.finetune, 600));
  const evalData = writeJsonl(join(dataDir, "validation.jsonl"), textChunks(splits.validation, 600));

  const tokenizer = Tokenizer.fromDir(DEMO_BASE);
  const base = loadModel(DEMO_BASE);
  const validation = loadDataset(evalData, tokenizer, { maxSeqLen: 256 });
  const before = evaluate(base, validation, { batchSize: 8, padId: tokenizer.eosTokenId ?? 0 });
  const sampleBefore = sampleText(base, tokenizer, o.seed);

  const summaries = METHODS.map((method) =>
    runMethod({
      method, base: DEMO_BASE, trainData, evalData, out: join(o.out, method), steps: o.steps, lr: LR[method],
      ...JOB, seed: o.seed,
    }),
  );

  print("\nResults (validation: held-out fiction documents)\n");
  // Weights, gradients and optimizer state as each method holds them: the part of memory the methods
  // change. At this size the process itself (Node, loader, data, activations) dominates peak memory.
  const modelState = (method: Method) => {
    const e = estimateMemory({ config: base.config, method, batch: JOB.batchSize, seq: JOB.maxSeqLen, r: JOB.loraR });
    return e.weights + e.gradients + e.optimizer;
  };
  const rows = [["method", "trainable params", "model state", "peak memory", "train time", "eval time", "val perplexity", "sample (after)"]];
  rows.push(["base model", "—", "—", "—", "—", "—", before.perplexity.toFixed(1), sampleBefore.slice(0, 60)]);
  for (const s of summaries) {
    rows.push([
      s.method,
      `${formatCount(s.trainableParams)} (${((100 * s.trainableParams) / s.totalParams).toFixed(1)}%)`,
      formatBytes(modelState(s.method)),
      formatBytes(s.peakRssMb * 2 ** 20),
      `${s.trainSeconds.toFixed(0)} s`,
      `${s.evalSeconds.toFixed(0)} s`,
      `${before.perplexity.toFixed(1)} → ${Math.exp(s.evalLoss).toFixed(1)}`,
      s.sample.slice(0, 60),
    ]);
  }
  print(table(rows));
  print(`\nPrompt of the samples: "${SAMPLE_PROMPT}" (temperature 0.8, top-k 40, seed ${o.seed})`);
  print(`Train time is the optimizer steps alone; eval time the ${evalPasses(o.steps)} validation passes of each run.`);

  const report = writeComparisonReport(join(o.out, "report.html"), {
    title: "peft-ts: full fine-tuning vs LoRA vs QLoRA",
    runs: summaries.map((s) => ({
      name: s.method,
      metrics: metricRows(readMetrics(join(o.out, s.method, "metrics.jsonl"))),
      summary: {
        "trainable params": s.trainableParams,
        "model state": formatBytes(modelState(s.method)),
        "peak memory": formatBytes(s.peakRssMb * 2 ** 20),
        "train time (s)": Math.round(s.trainSeconds),
        "eval time (s)": Math.round(s.evalSeconds),
        "val perplexity before": Number(before.perplexity.toFixed(1)),
        "val perplexity after": Number(Math.exp(s.evalLoss).toFixed(1)),
        sample: s.sample,
      },
    })),
    settings: {
      "base model": "assets/brown-llama (1.3M-parameter Llama pretrained on the Brown corpus's non-fiction)",
      data: `Brown corpus fiction: ${countLines(trainData)} passages of 600 characters to fine-tune on, ${countLines(evalData)} held out for validation`,
      steps: o.steps,
      batch: `${JOB.batchSize} × ${JOB.maxSeqLen} tokens, packed`,
      "learning rate": METHODS.map((m) => `${m} ${LR[m]}`).join(", "),
      schedule: `cosine, ${Math.round(o.steps / 10)} warmup steps`,
      "LoRA (lora, qlora)": `r ${JOB.loraR}, alpha ${JOB.loraAlpha}, all seven projections`,
      seed: o.seed,
      "model state": "weights, gradients and AdamW state as each method holds them (from the estimator)",
    },
    baseline: { name: "base model", evalLoss: before.loss },
  });
  print(`\nReports: ${report} (all three), ${METHODS.map((m) => join(o.out, m, "report.html")).join(", ")}`);
}
