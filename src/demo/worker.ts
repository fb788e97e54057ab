// One method of the demo, run in its own process so its peak memory and wall time are its own: fine-tune
// the base on the held-out genres with the Trainer, then score the validation text and write a sample.

import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { train, type Method } from "../train/index.ts";
import { loadModel, type CausalLM } from "../models/index.ts";
import { applyAdapterFromDir } from "../peft/index.ts";
import { QLORA_QUANTIZATION } from "../train/model.ts";
import { Tokenizer } from "../tokenizer/index.ts";
import { sampleText } from "./sample.ts";
import { peakRssBytes } from "../util/memory.ts";
import { progressReporter } from "../train/progress.ts";

export interface WorkerJob {
  method: Method;
  base: string;
  trainData: string;
  evalData: string;
  out: string;
  steps: number;
  lr: number;
  batchSize: number;
  maxSeqLen: number;
  seed: number;
  loraR: number;
  loraAlpha: number;
}

export interface WorkerSummary {
  method: Method;
  trainableParams: number;
  totalParams: number;
  peakRssMb: number;
  /** The optimizer steps' wall time, evaluation excluded. */
  trainSeconds: number;
  /** The validation passes' wall time. */
  evalSeconds: number;
  evalLoss: number;
  sample: string;
}

/** Validation every quarter of the run. */
export function evalEvery(steps: number): number {
  return Math.max(1, Math.round(steps / 4));
}

function fineTuned(job: WorkerJob): CausalLM {
  if (job.method === "full") return loadModel(job.out);
  const base = loadModel(job.base, job.method === "qlora" ? { quantization: QLORA_QUANTIZATION } : {});
  applyAdapterFromDir(base, job.out);
  return base;
}

export async function runWorker(job: WorkerJob, log: (line: string) => void): Promise<WorkerSummary> {
  let params = { trainable: 0, total: 0 };
  // a bar on a terminal, a line every tenth of the run otherwise
  const progress = progressReporter(process.stdout, Math.max(1, Math.round(job.steps / 10)), `  ${job.method}`);
  const result = await train(
    {
      model: job.base,
      data: job.trainData,
      evalData: job.evalData,
      method: job.method,
      maxSteps: job.steps,
      lr: job.lr,
      warmupSteps: Math.round(job.steps / 10),
      scheduler: "cosine",
      batchSize: job.batchSize,
      maxSeqLen: job.maxSeqLen,
      pack: true,
      seed: job.seed,
      loraR: job.loraR,
      loraAlpha: job.loraAlpha,
      logEvery: Math.max(1, Math.round(job.steps / 20)),
      evalEvery: evalEvery(job.steps),
      out: job.out,
    },
    {
      onStart: (i) => {
        params = { trainable: i.paramsTrainable, total: i.paramsTotal };
        progress.onStart?.(i);
      },
      onStep: (i) => progress.onStep?.(i),
      onEval: (e) => progress.onLog?.(`step ${e.step}, validation loss ${e.loss.toFixed(3)} (perplexity ${e.perplexity.toFixed(1)})`),
    },
  );
  progress.stop();
  log(`${job.method}: ${result.trainSeconds.toFixed(0)} s training, ${result.evalSeconds.toFixed(0)} s evaluating`);
  const summary: WorkerSummary = {
    method: job.method,
    trainableParams: params.trainable,
    totalParams: params.total,
    peakRssMb: peakRssBytes() / 2 ** 20,
    trainSeconds: result.trainSeconds,
    evalSeconds: result.evalSeconds,
    evalLoss: result.evalLoss ?? NaN,
    sample: sampleText(fineTuned(job), Tokenizer.fromDir(job.base), job.seed),
  };
  writeFileSync(join(job.out, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
